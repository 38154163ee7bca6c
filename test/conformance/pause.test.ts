/**
 * pauseQueue / resumeQueue: no job starts on a paused queue (on NATS, the
 * worker is another engine than the one that paused) while submits are
 * accepted; resume runs them in order; the flag outlives a worker restart
 * and a declareQueue.
 */
import { expect, test } from "vitest";
import { expectEngineError, fetchFor, fetchOne, forEachEngine, uniqueQueue, waitFor } from "./harness.js";

forEachEngine("pause", (env) => {
  test("paused: submits accepted, no job starts for 3 s; resumed: they run in submit order", async () => {
    const q = await env.queue();
    await env.api.pauseQueue(q);
    expect(await env.api.isPaused(q)).toBe(true);
    await waitFor(() => env.worker.isPaused(q), { what: "the worker engine to see the pause" });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await env.api.submit({ queue: q, input: i })).id);
    expect(await fetchFor(env.worker, q, 3_000)).toEqual([]);
    for (const id of ids) expect((await env.api.getStatus(id)).state).toBe("QUEUED");
    expect(await env.api.queueCount(q)).toMatchObject({ inQueue: 5, running: 0 });
    expect((await env.api.describeQueues()).find((info) => info.name === q)).toMatchObject({
      paused: true,
      waiting: 5,
    });

    await env.api.resumeQueue(q);
    expect(await env.api.isPaused(q)).toBe(false);
    expect((await env.api.describeQueues()).find((info) => info.name === q)).toMatchObject({ paused: false });
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      const lease = await fetchOne(env.worker, q);
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete(null)).toBe(true);
      order.push(lease.id);
    }
    expect(order).toEqual(ids);
  }, 20_000);

  test("the pause outlives a new worker engine and a declareQueue, and is per queue", async () => {
    const q = await env.queue();
    const other = await env.queue();
    await env.api.pauseQueue(q);
    await env.worker.declareQueue(q, { maxAttempts: 3 });
    const restarted = await env.backend.open();
    expect(await restarted.isPaused(q)).toBe(true);
    expect(await restarted.isPaused(other)).toBe(false);
    expect(await env.api.listQueues()).toEqual(expect.arrayContaining([q, other]));
    expect((await env.api.listQueues()).some((name) => name.includes("."))).toBe(false);
    await env.api.resumeQueue(q);
    await waitFor(async () => !(await restarted.isPaused(q)), { what: "the resume to reach the other engine" });
  });

  test("an undeclared queue is NOT_FOUND, a bad name INVALID_ARGUMENT", async () => {
    const nobody = uniqueQueue("nobody");
    await expectEngineError(env.api.pauseQueue(nobody), "not_found");
    await expectEngineError(env.api.resumeQueue(nobody), "not_found");
    await expectEngineError(env.api.isPaused(nobody), "not_found");
    await expectEngineError(env.api.pauseQueue("Bad Name"), "invalid_argument", /^queue/);
  });
});
