/**
 * The container image and the compose file run jetq with the same command as
 * `npm start` / `npm run worker` (the one the process tests exercise), so the
 * node flags and entry files cannot drift apart; the compose healthchecks'
 * commands are run too (there is no Docker engine here to run the file).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { startServer } from "../../src/server/server.js";
import { nodeArgsOfScript } from "../helpers/npm-script.js";

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");

it("the Dockerfile's CMD is npm start's command", () => {
  const cmds = [...read("Dockerfile").matchAll(/^CMD (\[.*\])\s*$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  expect(cmds.at(-1)).toEqual(["node", ...nodeArgsOfScript("start")]);
});

it("the compose worker service runs npm run worker's command", () => {
  const worker = /^ {2}worker:\n(?: {4}.*\n)*? {4}command: (\[.*\])$/m.exec(read("docker-compose.yml"));
  expect(worker, "docker-compose.yml: worker service with a command").not.toBeNull();
  expect(JSON.parse(worker![1]!)).toEqual(["node", ...nodeArgsOfScript("worker")]);
});

it("the compose healthchecks, run as written (their port aside), pass against a ready jetq and fail once it drains", async () => {
  const checks = [...read("docker-compose.yml").matchAll(/^ {6}test: (\["CMD", "node".*\])$/gm)].map(
    (m) => JSON.parse(m[1]!) as string[],
  );
  expect(checks).toHaveLength(2);
  const engine = createMemoryEngine();
  const server = await startServer({ engine, port: 0, host: "127.0.0.1" });
  const run = (argv: string[]) =>
    new Promise<number | null>((resolve, reject) => {
      const script = argv.map((a) => a.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${server.port}`));
      execFile(process.execPath, script.slice(2), { timeout: 20_000 }, (err) =>
        err && typeof err.code !== "number" ? reject(err) : resolve(err ? (err.code as number) : 0),
      );
    });
  try {
    for (const check of checks) {
      expect(check[1]).toBe("node");
      expect(await run(check)).toBe(0);
    }
    server.drain();
    for (const check of checks) expect(await run(check)).toBe(1);
  } finally {
    await server.close();
    await engine.close();
  }
});
