/**
 * The embedded engine's timers (leases, backoffs, start deadlines, retention)
 * never keep a process alive, and close() stops them all.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, test } from "vitest";
import { createMemoryEngine, memoryEngineInternals } from "../../src/engine/memory/engine.js";

const dir = mkdtempSync(join(tmpdir(), "jetq-memory-timers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const engineUrl = pathToFileURL(resolve("src/engine/memory/index.ts")).href;

/** Runs script with tsx; resolves with its exit code, or "hung" if it did not exit within ms. */
function runScript(source: string, ms: number): Promise<{ code: number | "hung"; output: string }> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, source);
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], {
      cwd: resolve("."),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      done({ code: "hung", output });
    }, ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, output });
    });
  });
}

test(
  "a process holding leases, backoffs, deadlines and retained jobs exits without close()",
  { timeout: 30_000 },
  async () => {
    const result = await runScript(
      `
import { createMemoryEngine } from ${JSON.stringify(engineUrl)};
const engine = createMemoryEngine();
await engine.declareQueue("t", { ackWaitMs: 3_600_000, maxAttempts: 5, backoffBaseMs: 3_600_000, backoffMaxMs: 3_600_000 });
const hour = Date.now() + 3_600_000;
for (let i = 0; i < 4; i++) await engine.submit({ queue: "t", input: i, options: { startDeadline: hour } });
const [a, b, c] = await engine.fetch("t", { max: 3, expiresMs: 1000 });
await a.begin();                                     // lease timer (1h)
await b.begin(); await b.fail({ code: "X", message: "x" });  // backoff timer (1h)
await c.begin(); await c.complete("done");          // retention (24h)
// one job still queued with a start deadline (1h)
console.log("ready to exit");
`,
      15_000,
    );
    expect(result.output).toContain("ready to exit");
    expect(result.code).toBe(0);
  },
);

test("close() clears every timer and ends pending work", async () => {
  const engine = createMemoryEngine({ retentionMs: 3_600_000 });
  await engine.declareQueue("t", {
    ackWaitMs: 3_600_000,
    maxAttempts: 5,
    backoffBaseMs: 3_600_000,
    backoffMaxMs: 3_600_000,
  });
  const hour = Date.now() + 3_600_000;
  for (let i = 0; i < 3; i++) await engine.submit({ queue: "t", input: i, options: { startDeadline: hour } });
  const [a, b] = await engine.fetch("t", { max: 2, expiresMs: 0 });
  await a!.begin();
  await b!.begin();
  await b!.complete(null);
  const internals = memoryEngineInternals(engine);
  expect(internals.timers()).toEqual({ deadlines: 3, retention: 1 });

  await engine.close();
  expect(internals.timers()).toEqual({ deadlines: 0, retention: 0 });
  // A lease of a closed engine changes nothing.
  expect(await a!.complete("late")).toBe(false);
});
