/**
 * Issue 14, "must show" 1: both packages packed and installed from their
 * tarballs into a fresh project outside the repository. There plain node
 * runs an ESM consumer against a real jetq server, tsc --strict checks a
 * TypeScript consumer against the published .d.ts, and the installed tree
 * holds none of the server's dependencies.
 */
import { copyFile, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startApiProcess, useNatsForProcesses } from "../server/process.js";
import { packAndInstall, runOk, TSC, type Installed } from "./packages.js";

const backend = useNatsForProcesses();
let project: Installed;
const fixtures = new URL("fixtures/", import.meta.url);

// Once for the file: packing builds both packages, installing resolves their dependencies.
beforeAll(async () => {
  project = await packAndInstall();
}, 120_000);
afterAll(async () => {
  await project?.remove();
});

test("plain node runs an ESM consumer of the installed @jetq/client: subscribe, submit, cancel, count", async () => {
  const { url } = await startApiProcess(backend.nats.url, { JETQ_WORKERS: "true" });
  await copyFile(new URL("consumer.mjs", fixtures), join(project.dir, "consumer.mjs"));
  const { stdout } = await runOk(process.execPath, ["consumer.mjs"], { cwd: project.dir, env: { JETQ_URL: url } });
  const report = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
  expect(report).toMatchObject({
    output: { hello: "world", sleep_ms: 200, progress: 2 },
    sameId: true,
    cancelRemoved: true,
    waited: "CANCELLED",
    failed: "HANDLER_ERROR: out of paint",
    missing: expect.stringMatching(/^InvalidArgument: id: "not-a-job-id" is not a jetq job id/),
    count: { queue: "echo", inQueue: expect.any(Number), running: expect.any(Number) },
  });
  expect(report.states).toEqual(expect.arrayContaining(["QUEUED", "RUNNING", "COMPLETED"]));
}, 60_000);

test("tsc --strict type-checks a TypeScript consumer against the installed types", async () => {
  await copyFile(new URL("consumer.ts", fixtures), join(project.dir, "consumer.ts"));
  await writeFile(
    join(project.dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        // A browser-style project: no @types/node, and the packages' own .d.ts checked too.
        lib: ["ES2023", "DOM"],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ["consumer.ts"],
    }),
  );
  await runOk(process.execPath, [TSC, "-p", "."], { cwd: project.dir });
}, 60_000);

test("the installed tree has @jetq/* and the Connect/protobuf runtime, no @nats-io/*, pino or zod, and a browser-safe SDK", async () => {
  const lock = JSON.parse(await readFile(join(project.dir, "package-lock.json"), "utf8")) as {
    packages: Record<string, unknown>;
  };
  const installed = Object.keys(lock.packages)
    .filter((p) => p.startsWith("node_modules/"))
    .map((p) => p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length));
  expect(installed).toEqual(expect.arrayContaining(["@jetq/client", "@jetq/cli", "@bufbuild/protobuf"]));
  expect(installed.filter((name) => /^(@nats-io\/|pino|zod$)/.test(name))).toEqual([]);
  // Browser-safe: the SDK's code imports no Node built-in.
  const dist = join(project.dir, "node_modules/@jetq/client/dist");
  const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith(".js"));
  expect(files).toContain("index.js");
  for (const f of files) expect(await readFile(join(dist, f), "utf8"), f).not.toMatch(/from "node:|require\(/);
  const scopes = await readdir(join(project.dir, "node_modules"));
  expect(scopes).not.toContain("@nats-io");
  expect(scopes).not.toContain("pino");
  expect(scopes).not.toContain("zod");
});
