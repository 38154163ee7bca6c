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
  expect(JSON.parse(count.stdout)).toEqual({
    queue: "echo",
    inQueue: expect.any(Number),
    running: expect.any(Number),
    paused: false,
  });
});

test("pause, queues, count and resume: the queue's state as a table and as JSON", async () => {
  const paused = await cli(["pause", "echo", "--url", url]).done;
  try {
    expect(paused).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^echo: paused \(\d+ waiting, \d+ running\)\n$/),
    });
    const table = await cli(["queues", "--url", url]).done;
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^QUEUE +WAITING +RUNNING +DELAYED +PAUSED +1M OK\/FAILED +1H OK\/FAILED$/);
    expect(rows.find((r) => r.startsWith("echo "))).toMatch(/^echo +\d+ +\d+ +\d+ +yes +\d+\/\d+ +\d+\/\d+$/);
    const json = await cli(["queues", "--json", "--url", url]).done;
    expect((JSON.parse(json.stdout) as { name: string }[]).find((q) => q.name === "echo")).toMatchObject({
      paused: true,
      lastHour: { completed: expect.any(Number), failed: expect.any(Number) },
    });
  } finally {
    const resumed = await cli(["resume", "echo", "--json", "--url", url]).done;
    expect(JSON.parse(resumed.stdout)).toMatchObject({ name: "echo", paused: false });
  }
});

test("jobs lists a state as a table or JSON up to --limit; retry runs a failed job again, exit 2 when refused", async () => {
  const client = createJetqClient({ baseUrl: url });
  const failed = await client.submit("echo", { fail_attempts: 1 }, { options: { maxAttempts: 1 } });
  await expect(failed.wait()).rejects.toThrow(/FAILED/);
  await client.subscribe("echo", { listed: 1 });
  await client.subscribe("echo", { listed: 2 });

  const json = await cli(["jobs", "echo", "--state", "completed", "--limit", "2", "--json", "--url", url]).done;
  expect(json.code).toBe(0);
  const listed = JSON.parse(json.stdout) as { id: string; state: string }[];
  expect(listed.map((j) => j.state)).toEqual(["COMPLETED", "COMPLETED"]);
  const table = await cli(["jobs", "echo", "--state", "completed", "--limit", "1", "--url", url]).done;
  expect(table.stdout).toMatch(/^ID +STATE +PRIORITY +ATTEMPT +PROGRESS +AT +ERROR\n/);
  expect(table.stdout.trimEnd().split("\n")).toHaveLength(2);
  expect(table.stderr).toContain("more than 1 COMPLETED jobs");
  const dead = await cli(["jobs", "echo", "--state", "failed", "--url", url]).done;
  expect(dead.stdout).toMatch(new RegExp(`${failed.id} +FAILED +5 +1 +\\d+% +\\S+ +HANDLER_ERROR: `));

  const retried = await cli(["retry", failed.id, "--url", url]).done;
  expect(retried).toMatchObject({ code: 0, stdout: expect.stringContaining(failed.id) });
  expect(await failed.wait({ timeoutMs: 20_000 })).toMatchObject({ job: { attempt: 2 } });
  const refused = await cli(["retry", failed.id, "--url", url]).done;
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/failed_precondition.*COMPLETED/);
});

test("submit --delay, --run-at and --priority: the job waits for its time with its priority", async () => {
  const delayed = await cli(["submit", "echo", "{}", "--delay", "1h", "--priority", "7", "--url", url]).done;
  expect(delayed.code).toBe(0);
  const id = delayed.stdout.trim();
  const status = await cli(["status", id, "--url", url]).done;
  expect(status.stdout).toMatch(/^priority 7$/m);
  expect(status.stdout).toMatch(/^due +\d{4}-/m);
  const client = createJetqClient({ baseUrl: url });
  const job = await client.job(id).status();
  // One hour after the submit (the server reads its clock for each: a millisecond apart at most).
  expect(Math.abs(job.scheduledAt!.getTime() - job.createdAt!.getTime() - 3_600_000)).toBeLessThan(1_000);

  // Whole seconds a day ahead: within the year a run time may be ahead.
  const runAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 86_400_000);
  const at = await cli(["submit", "echo", "{}", "--run-at", runAt.toISOString(), "--json", "--url", url]).done;
  expect(at.code).toBe(0);
  const atJob = await client.job((JSON.parse(at.stdout) as { id: string }).id).status();
  expect(atJob).toMatchObject({ state: "QUEUED", scheduledAt: runAt, priority: 5, queuePosition: undefined });
  for (const delayedId of [id, atJob.id]) await client.job(delayedId).cancel();
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
