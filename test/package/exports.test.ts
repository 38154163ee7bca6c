/**
 * The package's entry points as a consumer meets them: `exports` names the
 * compiled dist/ (JavaScript and .d.ts), never a .ts source, so plain node
 * (no TypeScript loader) imports "jetq" and "jetq/gen/…", and a strict tsc
 * type-checks against the declarations. dist/ is what `npm run build` made
 * (test/global-setup.ts runs it before every test run). The consumer is a
 * project of its own under .tmp/ with jetq linked into its node_modules, as
 * an install would put it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

interface Conditions {
  types: string;
  import: string;
}
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  exports: Record<string, Conditions | string>;
};

let project: string;
beforeAll(() => {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  project = mkdtempSync(join(ROOT, ".tmp", "consumer-"));
  mkdirSync(join(project, "node_modules"));
  symlinkSync(ROOT, join(project, "node_modules", pkg.name), "dir");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
});
afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Runs a file with the node running the tests, without vitest's loaders or options. */
async function node(file: string): Promise<string> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const { stdout } = await run(process.execPath, [file], { cwd: project, env, timeout: 20_000 });
  return stdout;
}

it("exports points at compiled JavaScript and declarations in dist/, all of which exist", () => {
  const targets = Object.entries(pkg.exports).filter(([key]) => key !== "./package.json");
  expect(targets.length).toBeGreaterThan(0);
  for (const [key, target] of targets) {
    expect(typeof target, `exports["${key}"] has conditions`).toBe("object");
    const { types, import: js } = target as Conditions;
    expect(types, `exports["${key}"].types`).toMatch(/^\.\/dist\/.*\.d\.ts$/);
    expect(js, `exports["${key}"].import`).toMatch(/^\.\/dist\/.*\.js$/);
    // A wildcard entry: check it with the generated contract.
    const fill = (p: string) => p.replace("*", "jetq/v1/queue_pb");
    expect(existsSync(join(ROOT, fill(types))), `${fill(types)} exists`).toBe(true);
    expect(existsSync(join(ROOT, fill(js))), `${fill(js)} exists`).toBe(true);
  }
});

it("plain node imports the package and its generated code", async () => {
  writeFileSync(
    join(project, "consumer.mjs"),
    `import * as jetq from "jetq";
import { QueueService, JobSchema } from "jetq/gen/jetq/v1/queue_pb.js";
const engine = jetq.createMemoryEngine();
await engine.close();
console.log(JSON.stringify({
  createWorker: typeof jetq.createWorker,
  createMemoryEngine: typeof jetq.createMemoryEngine,
  createNatsEngine: typeof jetq.createNatsEngine,
  startServer: typeof jetq.startServer,
  sameService: jetq.QueueService === QueueService,
  service: QueueService.typeName,
  jobOutput: JobSchema.field.output?.name,
}));
`,
  );
  expect(JSON.parse(await node("consumer.mjs"))).toEqual({
    createWorker: "function",
    createMemoryEngine: "function",
    createNatsEngine: "function",
    startServer: "function",
    sameService: true,
    service: "jetq.v1.QueueService",
    jobOutput: "output",
  });
});

it("a strict TypeScript consumer type-checks against the declarations", async () => {
  writeFileSync(
    join(project, "consumer.ts"),
    `import { createMemoryEngine, createWorker, echo, type Engine, type Handler } from "jetq";
import { JobState, type Job } from "jetq/gen/jetq/v1/queue_pb.js";
const engine: Engine = createMemoryEngine();
const double: Handler = async (input) => (typeof input === "number" ? input * 2 : null);
const worker = createWorker({ engine, queues: { echo, double } });
const done: JobState = JobState.COMPLETED;
const output = (job: Job) => job.output;
export { worker, done, output };
`,
  );
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        skipLibCheck: true,
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules", "@types")],
      },
      files: ["consumer.ts"],
    }),
  );
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const checked = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, timeout: 60_000 }).then(
    () => "",
    (err: { stdout?: string }) => err.stdout ?? String(err),
  );
  expect(checked, "tsc errors").toBe("");
});
