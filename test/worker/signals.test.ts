import { expect, it } from "vitest";
import type { JobContext } from "../../src/worker/index.js";
import { aborted, forEachEngine, uniqueQueue, waitFor, waitForState } from "./harness.js";

/** A handler that runs until its signal aborts, recording each context it got. */
function untilAborted() {
  const contexts: JobContext[] = [];
  const handler = async (_input: unknown, ctx: JobContext) => {
    contexts.push(ctx);
    await aborted(ctx.signal);
    throw ctx.signal.reason as Error;
  };
  return { contexts, handler };
}

forEachEngine("worker signals", (env) => {
  it("a job past its timeout has its signal aborted and fails with TIMEOUT naming the limit", async () => {
    const queue = uniqueQueue("timeout");
    const h = untilAborted();
    await env.worker({ queues: { [queue]: h.handler } }).start();
    const job = await env.api.submit({ queue, input: null, options: { timeoutMs: 300 } });
    const failed = await waitForState(env.api, job.id, "FAILED");
    expect(failed.error?.code).toBe("TIMEOUT");
    expect(failed.error?.message).toContain("300ms");
    expect(h.contexts).toHaveLength(1);
    expect(h.contexts[0]!.signal.aborted).toBe(true);
  });

  it("a handler that ignores its signal still ends FAILED with TIMEOUT on time", async () => {
    const queue = uniqueQueue("stubborn");
    let finish!: () => void;
    const stuck = new Promise<void>((r) => (finish = r));
    const worker = env.worker({ queues: { [queue]: () => stuck.then(() => "late") } });
    await worker.start();
    const job = await env.api.submit({ queue, input: null, options: { timeoutMs: 200 } });
    const failed = await waitForState(env.api, job.id, "FAILED", 5_000);
    expect(failed.error?.code).toBe("TIMEOUT");
    // Its slot stays taken until the handler returns; then the late output changes nothing.
    expect(worker.running).toBe(1);
    finish();
    await waitFor("the slot to free", () => worker.running === 0);
    expect((await env.api.getStatus(job.id)).state).toBe("FAILED");
  });

  it("cancel of a running job aborts the handler's signal; the job ends CANCELLED", async () => {
    const queue = uniqueQueue("cancel");
    const h = untilAborted();
    const worker = env.worker({ queues: { [queue]: { handler: h.handler, config: { maxAttempts: 3 } } } });
    await worker.start();
    const job = await env.api.submit({ queue, input: null });
    await waitForState(env.api, job.id, "RUNNING");
    await waitFor("the handler to start", () => h.contexts.length === 1);
    const outcome = await env.api.cancel(job.id);
    expect(outcome.removed).toBe(true);
    await waitFor("the handler's signal to abort", () => h.contexts[0]!.signal.aborted);
    await waitFor("the slot to free", () => worker.running === 0);
    const status = await env.api.getStatus(job.id);
    expect(status.state).toBe("CANCELLED");
    expect(h.contexts).toHaveLength(1);
  });

  it("stop() waits for running handlers within its grace", async () => {
    const queue = uniqueQueue("grace");
    let started = 0;
    const worker = env.worker({
      queues: {
        [queue]: async (input) => {
          started += 1;
          await new Promise((r) => setTimeout(r, 200));
          return input;
        },
      },
    });
    await worker.start();
    const job = await env.api.submit({ queue, input: "finish me" });
    await waitFor("the handler to start", () => started === 1);
    await worker.stop({ graceMs: 10_000 });
    expect((await env.api.getStatus(job.id)).state).toBe("COMPLETED");
  });

  it("stop() past its grace aborts and releases unfinished jobs, which another worker then runs", async () => {
    const queue = uniqueQueue("release");
    const h = untilAborted();
    const first = env.worker({ queues: { [queue]: { handler: h.handler, concurrency: 2 } } });
    await first.start();
    const a = await env.api.submit({ queue, input: "a" });
    const b = await env.api.submit({ queue, input: "b" });
    await waitForState(env.api, a.id, "RUNNING");
    await waitForState(env.api, b.id, "RUNNING");
    await waitFor("both handlers to start", () => h.contexts.length === 2);

    const t0 = Date.now();
    await first.stop({ graceMs: 100 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(h.contexts.every((c) => c.signal.aborted)).toBe(true);
    expect(first.running).toBe(0);
    // Handed back, not failed: queued again without waiting for the ack wait.
    for (const id of [a.id, b.id]) {
      const s = await env.api.getStatus(id);
      expect(["QUEUED", "RUNNING", "COMPLETED"]).toContain(s.state);
    }

    const second = env.worker({ queues: { [queue]: (input) => input } });
    await second.start();
    expect((await waitForState(env.api, a.id, "COMPLETED", 10_000)).state).toBe("COMPLETED");
    await waitForState(env.api, b.id, "COMPLETED", 10_000);
    expect((await env.api.getResult(b.id)).output).toBe("b");
  });

  it("a job submitted after the worker stopped and its process closed the engine waits in its queue", async () => {
    const queue = uniqueQueue("stopped");
    let runs = 0;
    const own = await env.processEngine();
    const worker = env.worker({ engine: own.engine, queues: { [queue]: () => (runs += 1) } });
    await worker.start();
    // With a grace, the pull in flight ends on its own rather than being abandoned.
    await worker.stop({ graceMs: 5_000 });
    await own.close();
    const job = await env.api.submit({ queue, input: null });
    // Waiting in its queue, not stranded in a pull the worker abandoned
    // (that would hold it for the whole ack wait, 30s).
    await waitFor(
      "the job to wait in its queue",
      async () => {
        const counts = await env.api.queueCount(queue);
        const status = await env.api.getStatus(job.id);
        return counts.inQueue === 1 && counts.running === 0 && status.state === "QUEUED";
      },
      5_000,
    );
    expect(runs).toBe(0);
  });
});
