/**
 * `npm run bench:compare -- --base=<git rev> [--only=<sections>] [--storage=file|memory]
 *   [--quick] [--rounds=N] [--out=path]`
 *
 * Measures an older revision (the base) and this tree (the head) in one
 * invocation: the base is checked out into a temporary git worktree,
 * installed and built; then each tree's own bench runner (bench/run.ts) runs
 * the chosen sections, base and head alternately, `--rounds` times each. The
 * figures are read back from each run's markdown (bench/compare/figures.ts)
 * and written side by side with head/base ratios (default bench/COMPARE.md).
 * Alternating rounds on one machine is what makes the ratios worth reading
 * on a shared VM whose speed drifts over minutes.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCompareArgs } from "./compare/args.js";
import { parseBenchMarkdown } from "./compare/figures.js";
import { renderCompare, type CompareMeta, type RunResult, type Side } from "./compare/render.js";
import {
  addBaseTree,
  baseTreeDir,
  git,
  isStopping,
  removeBaseTree,
  resolveRev,
  run,
  stopRunning,
} from "./compare/tree.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const log = (msg: string) => process.stderr.write(`bench:compare: ${msg}\n`);

function natsServerVersion(): string {
  try {
    return execFileSync(process.env.NATS_SERVER_BIN ?? "nats-server", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "nats-server ?";
  }
}

function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? "?"}, ${c.length} cores; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}`;
}

/** One run of a tree's bench runner; a run that fails is recorded, and the comparison goes on. */
async function benchOnce(side: Side, round: number, dir: string, benchArgs: string[], tmp: string): Promise<RunResult> {
  const out = join(tmp, `${side}-${round}.md`);
  const t0 = performance.now();
  log(`${side} round ${round}: bench/run.ts ${benchArgs.join(" ")} (in ${dir})`);
  // tsx directly, not `npm run bench`: its prebench would rebuild dist/ every round.
  try {
    await run(join(dir, "node_modules", ".bin", "tsx"), ["bench/run.ts", ...benchArgs, `--out=${out}`], dir);
    const parsed = parseBenchMarkdown(readFileSync(out, "utf8"));
    return { side, round, ...parsed, loadAfter: loadavg(), seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    const error = (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
    log(`${side} round ${round} FAILED: ${error}`);
    return {
      side,
      round,
      figures: [],
      failures: [],
      error,
      loadAfter: loadavg(),
      seconds: (performance.now() - t0) / 1000,
    };
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseCompareArgs(argv, join(ROOT, "bench", "COMPARE.md"));
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const loadBefore = loadavg();
  const baseCommit = resolveRev(ROOT, a.base);
  const benchArgs = [`--only=${a.only}`, `--storage=${a.storage}`, ...(a.quick ? ["--quick"] : [])];
  const tmp = await mkdtemp(join(tmpdir(), "jetq-compare-"));
  // Once only: a signal and main's finally may both get here.
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      await removeBaseTree(ROOT, baseTreeDir(tmp));
      await rm(tmp, { recursive: true, force: true });
    })());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping, removing the base worktree`);
      void stopRunning(15_000)
        .then(cleanup)
        .finally(() => process.exit(130));
    });
  }
  try {
    log(`base ${a.base} = ${baseCommit.slice(0, 7)}: worktree in ${tmp}`);
    const base = await addBaseTree(ROOT, baseCommit, tmp);
    log(`base installed by ${base.install}; building base and head`);
    await run("npm", ["run", "build", "--silent"], base.dir);
    await run("npm", ["run", "build", "--silent"], ROOT);
    const runs: RunResult[] = [];
    for (let round = 1; round <= a.rounds; round++) {
      runs.push(await benchOnce("base", round, base.dir, benchArgs, tmp));
      runs.push(await benchOnce("head", round, ROOT, benchArgs, tmp));
    }
    // Stopped by a signal: no report from what ran, it would replace a whole one.
    if (isStopping()) throw new Error("stopped before the last round; no report written");
    const meta: CompareMeta = {
      command: `npm run bench:compare -- ${argv.join(" ")}`,
      startedAt,
      elapsedSeconds: (performance.now() - t0) / 1000,
      base: { rev: a.base, commit: baseCommit.slice(0, 7), subject: git(ROOT, "log", "-1", "--format=%s", baseCommit) },
      head: {
        commit: git(ROOT, "rev-parse", "--short", "HEAD"),
        subject: git(ROOT, "log", "-1", "--format=%s", "HEAD"),
        dirty: git(ROOT, "status", "--porcelain", "--untracked-files=no") !== "",
      },
      benchArgs,
      rounds: a.rounds,
      machine: machine(),
      node: `node ${process.version}`,
      natsServer: natsServerVersion(),
      install: base.install,
      loadBefore,
    };
    writeFileSync(a.out, renderCompare(meta, runs));
    log(`wrote ${a.out} in ${Math.round(meta.elapsedSeconds)} s`);
    if (runs.every((r) => r.error)) throw new Error("every bench run failed");
  } finally {
    await cleanup();
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench:compare failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
