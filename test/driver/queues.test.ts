/** Queues: declared with a config that reaches deliveries; redeclaring replaces it; counts. */
import { expect, test } from "vitest";
import { isEngineError } from "../../src/engine/errors.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/engine/types.js";
import { fetchN, forEachDriver, newJob, uniqueQueue } from "./harness.js";

forEachDriver("queues", (env) => {
  test("a declared queue counts 0 waiting and 0 running", async () => {
    const q = await env.queue();
    expect(await env.api.count(q)).toEqual({ queue: q, inQueue: 0, running: 0 });
  });

  test("an undeclared queue is NOT_FOUND for insert and count", async () => {
    const q = uniqueQueue("none");
    await expect(env.api.insert(newJob(q, 1))).rejects.toSatisfy((e) => isEngineError(e, "not_found"));
    await expect(env.api.count(q)).rejects.toSatisfy((e) => isEngineError(e, "not_found"));
  });

  test("redeclaring replaces the config; the delivery carries the queue's current config", async () => {
    const q = await env.queue({ ackWaitMs: 5_000, maxAttempts: 2 });
    await env.worker.declareQueue(q, { ...DEFAULT_QUEUE_CONFIG, ackWaitMs: 7_000, maxAttempts: 4 });
    await env.api.insert(newJob(q, "x"));
    const [d] = await fetchN(env.worker, q, 1);
    expect(d!.config).toMatchObject({ ackWaitMs: 7_000, maxAttempts: 4 });
    await d!.release(false);
  });

  test("listQueues names every declared queue, seen from another process too", async () => {
    const a = await env.queue();
    const b = await env.queue();
    const listed = await env.api.listQueues();
    expect(listed).toEqual(expect.arrayContaining([a, b]));
    expect(listed).not.toContain(uniqueQueue("never"));
  });
});
