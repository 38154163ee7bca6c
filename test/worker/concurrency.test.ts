import type { JsonValue } from "@bufbuild/protobuf";
import { expect, it } from "vitest";
import type { Engine, FetchOptions, JobLease } from "../../src/engine/types.js";
import { PermanentError, type JobContext, type Worker } from "../../src/worker/index.js";
import { forEachEngine, uniqueQueue, waitFor, waitForState } from "./harness.js";

/** Passes every call through, recording each fetch's max and how many leases the worker held at that moment. */
function recordFetches(engine: Engine, held: () => number) {
  const calls: { max: number; held: number; got: number }[] = [];
  const wrapped = new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === "fetch") {
        return async (queue: string, options: FetchOptions): Promise<JobLease[]> => {
          const call = { max: options.max, held: held(), got: 0 };
          calls.push(call);
          const leases = await target.fetch(queue, options);
          call.got = leases.length;
          return leases;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { engine: wrapped, calls };
}

function sleep(ms: number, ctx: JobContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    ctx.signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(ctx.signal.reason as Error);
    });
  });
}

forEachEngine("worker concurrency", (env) => {
  it("never runs more than `concurrency` handlers at once and never pulls more than its free slots", async () => {
    const queue = uniqueQueue("conc");
    await env.engine.declareQueue(queue);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await env.api.submit({ queue, input: i })).id);

    let current = 0;
    let peak = 0;
    let worker: Worker | undefined = undefined;
    const recorder = recordFetches(env.engine, () => worker?.running ?? 0);
    worker = env.worker({
      engine: recorder.engine,
      queues: {
        [queue]: {
          concurrency: 3,
          handler: async (input, ctx) => {
            current += 1;
            peak = Math.max(peak, current);
            try {
              await sleep(40, ctx);
              return input;
            } finally {
              current -= 1;
            }
          },
        },
      },
    });
    await worker.start();
    for (const id of ids) await waitForState(env.api, id, "COMPLETED");
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(recorder.calls.length).toBeGreaterThan(0);
    for (const call of recorder.calls) {
      // Exactly the free slots: what it holds plus what it asks for is the limit.
      expect(call.held + call.max).toBe(3);
      expect(call.got).toBeLessThanOrEqual(call.max);
    }
    expect(worker.running).toBe(0);
  });

  it("asks for exactly the free slots", async () => {
    const queue = uniqueQueue("slots");
    await env.engine.declareQueue(queue);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const recorder = recordFetches(env.engine, () => 0);
    const worker = env.worker({
      engine: recorder.engine,
      queues: { [queue]: { concurrency: 4, handler: async () => gate.then(() => "ok") } },
    });
    const first = await env.api.submit({ queue, input: null });
    await worker.start();
    await waitForState(env.api, first.id, "RUNNING");
    // With one job held, every later pull asks for the three free slots.
    await waitFor("a pull after the first job started", () => recorder.calls.find((c, i) => i > 0 && c.max === 3));
    const second = await env.api.submit({ queue, input: null });
    await waitForState(env.api, second.id, "RUNNING");
    await waitFor("a pull for two slots", () => recorder.calls.find((c) => c.max === 2));
    expect(recorder.calls.every((c) => c.max <= 4)).toBe(true);
    release();
    await waitForState(env.api, second.id, "COMPLETED");
  });

  it("heartbeats a job that runs longer than its ack wait, so it is not redelivered", async () => {
    const queue = uniqueQueue("hb");
    let starts = 0;
    const worker = env.worker({
      queues: {
        [queue]: {
          config: { ackWaitMs: 1_000 },
          handler: async (_input, ctx) => {
            starts += 1;
            await sleep(2_500, ctx);
            return ctx.attempt;
          },
        },
      },
    });
    await worker.start();
    const job = await env.api.submit({ queue, input: null, options: { maxAttempts: 3 } });
    const done = await waitForState(env.api, job.id, "COMPLETED", 15_000);
    expect(done.attempt).toBe(1);
    expect(starts).toBe(1);
    expect((await env.api.getResult(job.id)).output).toBe(1);
  });

  it("maps handler errors: Error retries, PermanentError does not", async () => {
    const queue = uniqueQueue("err");
    const worker = env.worker({
      queues: {
        [queue]: {
          config: { maxAttempts: 3, backoffBaseMs: 10, backoffMaxMs: 50 },
          handler: (input: JsonValue, ctx) => {
            if (input === "permanent") throw new PermanentError("bad input, do not retry", "BAD_INPUT");
            if (input === "flaky" && ctx.attempt < 2) throw new Error("try again");
            if (input === "always") throw new Error("always broken");
            return { attempt: ctx.attempt };
          },
        },
      },
    });
    await worker.start();
    const flaky = await env.api.submit({ queue, input: "flaky" });
    const permanent = await env.api.submit({ queue, input: "permanent" });
    const always = await env.api.submit({ queue, input: "always" });

    const f = await waitForState(env.api, flaky.id, "COMPLETED");
    expect(f.attempt).toBe(2);
    expect((await env.api.getResult(flaky.id)).output).toEqual({ attempt: 2 });

    const p = await waitForState(env.api, permanent.id, "FAILED");
    expect(p.attempt).toBe(1);
    expect(p.error).toEqual({ code: "BAD_INPUT", message: "bad input, do not retry" });

    const a = await waitForState(env.api, always.id, "FAILED");
    expect(a.attempt).toBe(3);
    expect(a.error).toEqual({ code: "HANDLER_ERROR", message: "always broken" });
  });

  it("completes with null when a handler returns nothing, and fails non-JSON output without retry", async () => {
    const queue = uniqueQueue("out");
    const worker = env.worker({
      queues: {
        [queue]: {
          config: { maxAttempts: 3 },
          handler: ((input: JsonValue) => (input === "bigint" ? { n: 1n } : undefined)) as never,
        },
      },
    });
    await worker.start();
    const nothing = await env.api.submit({ queue, input: "nothing" });
    const bad = await env.api.submit({ queue, input: "bigint" });
    await waitForState(env.api, nothing.id, "COMPLETED");
    expect((await env.api.getResult(nothing.id)).output).toBeNull();
    const b = await waitForState(env.api, bad.id, "FAILED");
    expect(b.attempt).toBe(1);
    expect(b.error?.code).toBe("OUTPUT_INVALID");
  });
});
