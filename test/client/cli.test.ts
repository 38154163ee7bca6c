/**
 * Issue 14, "must show" 3: the `jetq` CLI end to end against `npm start`
 * (embedded engine, one job at a time so a second job waits in the queue):
 * exit codes, --json, and `watch` drawing position, progress and the result
 * with the TTY mode forced.
 */
import { createJetqClient } from "@jetq/client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { killAll, startProcess } from "../server/process.js";
import { cli } from "./packages.js";

let url: string;
beforeAll(async () => {
  const port = await freePort();
  const api = startProcess("start", { PORT: String(port), HOST: "127.0.0.1", JETQ_CONCURRENCY: "1" });
  await api.waitForLine((l) => l.msg.includes("listening"), 30_000);
  url = `http://127.0.0.1:${port}`;
});
afterAll(killAll);

test("submit --wait --json prints the result and exits 0", async () => {
  const r = await cli(["submit", "echo", '{"x":1}', "--wait", "--json", "--url", url]).done;
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    id: expect.stringMatching(/^echo-/),
    state: "COMPLETED",
    output: { x: 1 },
    error: null,
  });
});

test("a failing job exits 1 and says why; --json says it on stdout", async () => {
  const human = await cli(["submit", "echo", '{"fail":"no GPU left","permanent":true}', "--wait", "--url", url]).done;
  expect(human.code).toBe(1);
  expect(human.stderr).toMatch(/FAILED \(HANDLER_ERROR\): no GPU left/);
  const json = await cli(["submit", "echo", '{"fail":"no GPU left","permanent":true}', "--wait", "--json"], {
    JETQ_URL: url,
  }).done;
  expect(json.code).toBe(1);
  expect(JSON.parse(json.stdout)).toMatchObject({
    state: "FAILED",
    error: { code: "HANDLER_ERROR", message: "no GPU left" },
  });
});

test("watch (TTY forced) on a waiting job shows its position, then progress and logs, then the result", async () => {
  const client = createJetqClient({ baseUrl: url });
  // The one worker slot is taken, so the watched job waits in the queue.
  const blocker = await client.submit("echo", { sleep_ms: 60_000 });
  await expect.poll(async () => (await blocker.status()).state, { timeout: 10_000 }).toBe("RUNNING");
  const job = await client.submit("echo", { sleep_ms: 800, progress: 4, logs: ["loading weights"] });

  const watch = cli(["watch", job.id, "--url", url], { JETQ_FORCE_TTY: "1" });
  await watch.stdoutHas("position 0 (next)");
  await blocker.cancel();
  const r = await watch.done;
  expect(r.code).toBe(0);
  const out = r.stdout;
  const at = (text: string) => {
    const i = out.indexOf(text);
    expect(i, `"${text}" in:\n${out}`).toBeGreaterThanOrEqual(0);
    return i;
  };
  // Redrawn in place on a terminal: carriage return and clear-line.
  expect(out).toContain("\r\x1b[2K");
  expect(at("QUEUED · position 0 (next)")).toBeLessThan(at("RUNNING"));
  expect(at("loading weights")).toBeGreaterThan(at("QUEUED"));
  expect(at("RUNNING · [")).toBeLessThan(at("100%"));
  expect(at("COMPLETED")).toBeGreaterThan(at("100%"));
  expect(out.slice(at("COMPLETED"))).toContain('"loading weights"');
});

test("piped (no TTY): watch prints state changes one per line, no progress bar", async () => {
  const client = createJetqClient({ baseUrl: url });
  const job = await client.submit("echo", { progress: 2, sleep_ms: 100 });
  const r = await cli(["watch", job.id, "--url", url]).done;
  expect(r.code).toBe(0);
  expect(r.stdout).not.toContain("\x1b[");
  expect(r.stdout).not.toContain("%]");
  expect(r.stdout).toMatch(/COMPLETED\n/);
});

test("status, result, cancel and count; --json for each", async () => {
  const client = createJetqClient({ baseUrl: url });
  const done = await client.subscribe("echo", { y: 2 });
  const status = await cli(["status", done.id, "--json", "--url", url]).done;
  expect(JSON.parse(status.stdout)).toMatchObject({ id: done.id, state: "COMPLETED", progress: expect.any(Number) });
  const result = await cli(["result", done.id, "--url", url]).done;
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toEqual({ y: 2 });

  const long = await client.submit("echo", { sleep_ms: 60_000 });
  const cancel = await cli(["cancel", long.id, "--json", "--url", url]).done;
  expect(cancel.code).toBe(0);
  expect(JSON.parse(cancel.stdout)).toMatchObject({ removed: true });
  const count = await cli(["count", "echo", "--json", "--url", url]).done;
  expect(JSON.parse(count.stdout)).toEqual({ queue: "echo", inQueue: expect.any(Number), running: expect.any(Number) });
});

test("usage and transport errors exit 2", async () => {
  const usage = await cli(["status"]).done;
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain("status takes <id>");
  const badJson = await cli(["submit", "echo", "{not json", "--url", url]).done;
  expect(badJson.code).toBe(2);
  expect(badJson.stderr).toContain("input: the argument is not JSON");
  const closed = await freePort();
  const down = await cli(["count", "echo", "--url", `http://127.0.0.1:${closed}`]).done;
  expect(down.code).toBe(2);
  expect(down.stderr).toMatch(/unavailable|unknown/);
});
