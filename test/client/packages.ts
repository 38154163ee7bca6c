/**
 * For the tests of @jetq/client and @jetq/cli: packing both packages and
 * installing the tarballs into a fresh project outside the repository (as
 * a user would), running commands there, and running the CLI from the
 * workspace build (test/global-setup.ts builds packages/*).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
export const CLI_BIN = join(ROOT, "packages/cli/dist/bin.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  /** Resolves once stdout contains text (rejects if the process ends first). */
  stdoutHas(text: string, timeoutMs?: number): Promise<void>;
  done: Promise<Run>;
  kill(): void;
}

/** Environment without the variables `npm test` sets for its own script, which would steer a nested npm. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_(lifecycle|package|config_workspace)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

export function start(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Running {
  const proc = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env ?? {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers: (() => void)[] = [];
  proc.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...watchers]) w();
  });
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((resolve, reject) => {
    proc.once("error", reject);
    proc.once("close", (code) => resolve({ code, stdout, stderr }));
  });
  return {
    done,
    kill: () => proc.kill("SIGKILL"),
    stdoutHas(text, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!stdout.includes(text)) return false;
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(check), 1);
          resolve();
          return true;
        };
        const timer = setTimeout(
          () => reject(new Error(`no "${text}" on stdout in ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`)),
          timeoutMs,
        );
        if (check()) return;
        watchers.push(check);
        void done.then((r) =>
          reject(
            new Error(`exited (${r.code}) without "${text}" on stdout; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`),
          ),
        );
      });
    },
  };
}

export function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return start(command, args, options).done;
}

/** Runs and fails with its output unless it exits 0. */
export async function runOk(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const r = await run(command, args, options);
  if (r.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return r;
}

/** The CLI from the workspace build, on the test's node. */
export function cli(args: string[], env: Record<string, string> = {}): Running {
  return start(process.execPath, [CLI_BIN, ...args], { env });
}

export interface Installed {
  /** The temporary project, outside the repository. */
  dir: string;
  remove(): Promise<void>;
}

/**
 * `npm pack` of both packages (prepack builds them), then `npm install`
 * of the tarballs into a new project in the OS temp dir: what a user gets.
 */
export async function packAndInstall(): Promise<Installed> {
  const dir = await mkdtemp(join(tmpdir(), "jetq-consumer-"));
  const packs = join(dir, "packs");
  await mkdir(packs);
  const pack = await runOk("npm", [
    "pack",
    "--workspace",
    "packages/client",
    "--workspace",
    "packages/cli",
    "--pack-destination",
    packs,
    "--json",
  ]);
  const tarballs = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string }[]).map((p) =>
    join(packs, p.filename),
  );
  await writeFile(
    join(dir, "package.json"),
    JSON.stringify({ name: "jetq-consumer", private: true, type: "module" }, null, 2),
  );
  await runOk("npm", ["install", ...tarballs, "--prefer-offline", "--no-audit", "--no-fund"], { cwd: dir });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
