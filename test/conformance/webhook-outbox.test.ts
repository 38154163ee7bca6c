/**
 * What webhooks need of every engine (src/engine/webhook-outbox.ts,
 * Engine.queueConfig, Engine.appendLog, the cancel's finished event): the
 * outbox hands a task out, takes it back for later with the next attempt's
 * number, and lets it go; any process of the backend may take it.
 */
import { expect, test } from "vitest";
import type { JobEvent } from "../../src/engine/job-events.js";
import type { WebhookTask } from "../../src/engine/webhook-outbox.js";
import { EngineError, fetchOne, forEachEngine, waitForState } from "./harness.js";

const task = (jobId: string): WebhookTask => ({
  webhookId: `msg_${jobId}_completed`,
  jobId,
  url: "https://hooks.example.com/x",
  endedAt: Date.now(),
});

forEachEngine("webhook support", (env) => {
  test("the outbox: taken by another process, retried later as the next attempt, then done", async () => {
    const t = task(`conf-${Math.random().toString(36).slice(2)}`);
    await env.api.webhooks.enqueue(t);
    const [first, ...others] = await env.worker.webhooks.take(10, 5_000);
    expect(others.filter((p) => p.task.jobId === t.jobId)).toEqual([]);
    expect(first).toMatchObject({ task: t, attempt: 1 });
    const retriedAt = Date.now();
    await first!.retry(300);
    let again;
    while (!again) {
      const batch = await env.api.webhooks.take(10, 5_000);
      again = batch.find((p) => p.task.jobId === t.jobId);
      for (const p of batch) if (p !== again) await p.done();
    }
    expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(250);
    expect(again).toMatchObject({ task: t, attempt: 2 });
    await again.done();
    const after = await env.worker.webhooks.take(10, 300);
    expect(after.filter((p) => p.task.jobId === t.jobId)).toEqual([]);
  });

  test("a take ends empty when its signal aborts", async () => {
    const stop = new AbortController();
    const taking = env.worker.webhooks.take(10, 10_000, stop.signal);
    stop.abort();
    expect(await taking).toEqual([]);
  });

  test("queueConfig answers the declared webhookUrl; NOT_FOUND for an undeclared queue; a bad one is refused", async () => {
    const q = await env.queue({ webhookUrl: "https://hooks.example.com/q" });
    expect((await env.api.queueConfig(q)).webhookUrl).toBe("https://hooks.example.com/q");
    await expect(env.api.queueConfig(`${q}-nobody`)).rejects.toMatchObject({ code: "not_found" });
    await expect(env.worker.declareQueue(`${q}-bad`, { webhookUrl: "ftp://x" })).rejects.toThrow(
      /^config\.webhookUrl: must be http or https/,
    );
    await expect(
      env.api.submit({ queue: q, input: 1, options: { webhookUrl: "http://u:p@x.example/" } }),
    ).rejects.toThrow(/^options\.webhookUrl: must not carry a user or password/);
  });

  test("appendLog adds a jetq line to a finished job; NOT_FOUND for an unknown job", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1, options: { webhookUrl: "https://hooks.example.com/a" } });
    const lease = await fetchOne(env.worker, q);
    expect(lease.options.webhookUrl).toBe("https://hooks.example.com/a");
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(1)).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    await env.worker.appendLog(id, {
      message: "a note after the end",
      level: "info",
      source: "jetq",
      timestamp: Date.now(),
    });
    const status = await env.api.getStatus(id, { includeLogs: true });
    expect(status.logs?.map((l) => l.message)).toContain("a note after the end");
    const unknown = id.replace(/-[A-Za-z0-9]{12}$/, "-AAAAAAAAAAAA");
    await expect(
      env.api.appendLog(unknown, { message: "x", level: "info", source: "jetq", timestamp: Date.now() }),
    ).rejects.toBeInstanceOf(EngineError);
  });

  test("a cancel's finished event carries the job's options, queued or running", async () => {
    const q = await env.queue();
    const events: JobEvent[] = [];
    const stop = env.api.observe((e) => e.kind === "finished" && events.push(e));
    try {
      const queued = await env.api.submit({ queue: q, input: 1, options: { webhookUrl: "https://h.example/q" } });
      await env.api.cancel(queued.id);
      const running = await env.api.submit({ queue: q, input: 2, options: { webhookUrl: "https://h.example/r" } });
      const lease = await fetchOne(env.worker, q);
      expect(await lease.begin()).toBe(true);
      await waitForState(env.api, running.id, "RUNNING");
      await env.api.cancel(running.id);
      expect(events.map((e) => (e.kind === "finished" ? [e.id, e.state, e.options?.webhookUrl] : []))).toEqual([
        [queued.id, "CANCELLED", "https://h.example/q"],
        [running.id, "CANCELLED", "https://h.example/r"],
      ]);
      await lease.complete(null);
    } finally {
      stop();
    }
  });
});
