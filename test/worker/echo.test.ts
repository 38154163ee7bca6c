import { expect, it } from "vitest";
import { pino } from "pino";
import { echo } from "../../src/handlers/echo.js";
import type { JobStatus } from "../../src/engine/types.js";
import { forEachEngine, uniqueQueue, waitFor, waitForState } from "./harness.js";

forEachEngine("echo handler", (env) => {
  let queue: string;
  const setup = async () => {
    queue = uniqueQueue("echo");
    await env
      .worker({
        queues: { [queue]: { handler: echo, config: { maxAttempts: 3, backoffBaseMs: 10, backoffMaxMs: 20 } } },
      })
      .start();
  };

  it("returns its input, logs lines and reports progress steps", async () => {
    await setup();
    const input = { hello: ["w", 1, true, null], logs: ["one", "two"], progress: 4, sleep_ms: 40 };
    const job = await env.api.submit({ queue, input });
    const seen: JobStatus[] = [];
    for await (const s of env.api.watch(job.id, { includeLogs: true })) seen.push(s);
    const last = seen.at(-1)!;
    expect(last.state).toBe("COMPLETED");
    expect((await env.api.getResult(job.id)).output).toEqual(input);
    const status = await env.api.getStatus(job.id, { includeLogs: true });
    expect(status.logs?.map((l) => [l.message, l.level, l.source])).toEqual([
      ["one", "info", "handler"],
      ["two", "info", "handler"],
    ]);
    const progress = [...new Set(seen.map((s) => s.progress).filter((p) => p > 0))];
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p) => [0.25, 0.5, 0.75, 1].includes(p))).toBe(true);
  });

  it("fails the first fail_attempts attempts, then succeeds", async () => {
    await setup();
    const job = await env.api.submit({ queue, input: { fail: "not yet", fail_attempts: 2 } });
    const done = await waitForState(env.api, job.id, "COMPLETED");
    expect(done.attempt).toBe(3);
  });

  it("fails every attempt with `fail`, and at once with `permanent`", async () => {
    await setup();
    const always = await env.api.submit({ queue, input: { fail: "broken" } });
    const permanent = await env.api.submit({ queue, input: { fail: "no retry", permanent: true } });
    const a = await waitForState(env.api, always.id, "FAILED");
    expect(a.attempt).toBe(3);
    expect(a.error).toEqual({ code: "HANDLER_ERROR", message: "broken" });
    const p = await waitForState(env.api, permanent.id, "FAILED");
    expect(p.attempt).toBe(1);
    expect(p.error).toEqual({ code: "HANDLER_ERROR", message: "no retry" });
  });

  it("stops sleeping when the job is cancelled", async () => {
    await setup();
    const job = await env.api.submit({ queue, input: { sleep_ms: 60_000 } });
    await waitForState(env.api, job.id, "RUNNING");
    await env.api.cancel(job.id);
    expect((await waitForState(env.api, job.id, "CANCELLED")).state).toBe("CANCELLED");
    // Its slot frees at once, not after the minute.
    await waitFor("the queue to have nothing running", async () => (await env.api.queueCount(queue)).running === 0);
  });
});

forEachEngine("worker log lines", (env) => {
  it("a failed attempt is logged at debug with its queue, job and attempt; the job's info line is its end's (ops/job-log-line.ts)", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: "debug" },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const queue = uniqueQueue("logs");
    await env.worker({ logger, queues: { [queue]: { handler: echo, config: { maxAttempts: 1 } } } }).start();
    const ok = await env.api.submit({ queue, input: { fine: true } });
    const bad = await env.api.submit({ queue, input: { fail: "boom", permanent: true } });
    await waitForState(env.api, ok.id, "COMPLETED");
    await waitForState(env.api, bad.id, "FAILED");
    const failed = await waitFor("the failure's log line", () => lines.find((l) => l.msg === "job attempt failed"));
    expect(failed).toMatchObject({
      level: 20,
      queue,
      job: bad.id,
      attempt: 1,
      component: "worker",
      message: "boom",
      retryable: false,
    });
    // The worker writes no info line of its own about a job.
    expect(lines.filter((l) => (l.job === ok.id || l.job === bad.id) && (l.level as number) >= 30)).toEqual([]);
  });
});
