/**
 * watchJobs of a whole queue: every change of the reader's jobs in it, from
 * now on, submitted by any process (on NATS the watch is on the API engine
 * and the jobs are submitted by the worker engine, another connection),
 * until the signal aborts.
 */
import { expect, test } from "vitest";
import type { Engine, JobStatus } from "../../src/engine/types.js";
import { expectEngineError, forEachEngine, recordStatuses, startWorker, uniqueQueue, waitFor } from "./harness.js";

/** Submits probes from `engine` until the watch shows one: the other process knows of the watch then. */
async function untilWatchSeen(engine: Engine, queue: string, items: JobStatus[]): Promise<void> {
  const probes = new Set<string>();
  await waitFor(
    async () => {
      if (items.some((s) => probes.has(s.id))) return true;
      probes.add((await engine.submit({ queue, input: "probe", tenant: "t1" })).id);
      return false;
    },
    { timeoutMs: 10_000, intervalMs: 100, what: "the queue watch to see a probe job" },
  );
}

forEachEngine("watchJobs of a queue", (env) => {
  test("every change of the reader's jobs, submitted in another process, and nothing of other tenants", async () => {
    const q = await env.queue();
    const stop = new AbortController();
    const watch = recordStatuses(() => env.api.watchJobs({ queue: q }, { tenant: "t1", signal: stop.signal }), "queue");
    await untilWatchSeen(env.worker, q, watch.items);
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await env.worker.submit({ queue: q, input: i, tenant: "t1" })).id);
    const theirs = (await env.worker.submit({ queue: q, input: "x", tenant: "t2" })).id;
    const worker = startWorker(env.worker, q, (lease) => lease.input, { concurrency: 2 });
    try {
      await waitFor(() => mine.every((id) => watch.items.some((s) => s.id === id && s.state === "COMPLETED")), {
        timeoutMs: 15_000,
        what: "every job of t1 COMPLETED on the queue watch",
      });
      await waitFor(async () => (await env.api.getStatus(theirs)).state === "COMPLETED");
    } finally {
      await worker.stop();
    }
    stop.abort();
    expect((await watch.waitEnd()).error).toBeUndefined();
    expect(watch.items.some((s) => s.id === theirs)).toBe(false);
    for (const id of mine) {
      const states = watch.items.filter((s) => s.id === id).map((s) => s.state);
      const changes = states.filter((s, i) => i === 0 || states[i - 1] !== s);
      expect(changes, id).toEqual(["QUEUED", "RUNNING", "COMPLETED"]);
      expect(
        states.filter((s) => s === "COMPLETED"),
        id,
      ).toHaveLength(1);
    }
  }, 30_000);

  test("closing the engine ends an open queue watch with UNAVAILABLE", async () => {
    const backend = await env.kind.start();
    try {
      const engine = await backend.open();
      const q = uniqueQueue("closing");
      await engine.declareQueue(q);
      const watch = recordStatuses(() => engine.watchJobs({ queue: q }), "closing");
      await engine.submit({ queue: q, input: 1 });
      await watch.waitItems(1);
      await engine.close();
      expect((await watch.waitEnd()).error).toMatchObject({ code: "unavailable" });
    } finally {
      await backend.stop();
    }
  });

  test("a queue nobody declared is NOT_FOUND; a bad name INVALID_ARGUMENT naming queue", async () => {
    const missing = recordStatuses(() => env.api.watchJobs({ queue: uniqueQueue("nobody") }), "missing");
    expect((await missing.waitEnd()).error).toMatchObject({ code: "not_found" });
    await expectEngineError(() => env.api.watchJobs({ queue: "Bad Name" }), "invalid_argument", /^queue: /);
  });
});
