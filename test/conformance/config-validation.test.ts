/**
 * Queue config and job options are checked once, in the engine core, before
 * any driver stores anything: a bad value is INVALID_ARGUMENT naming the
 * field, on every engine, and changes nothing.
 */
import { expect, test } from "vitest";
import type { JobOptions, QueueConfig } from "../../src/engine/types.js";
import { expectEngineError, forEachEngine, uniqueQueue, waitForCount } from "./harness.js";

const BAD_CONFIGS: Array<[string, Partial<QueueConfig>]> = [
  ["ackWaitMs", { ackWaitMs: 0 }],
  ["ackWaitMs", { ackWaitMs: -5 }],
  ["ackWaitMs", { ackWaitMs: Number.NaN }],
  ["maxAttempts", { maxAttempts: 0 }],
  ["maxAttempts", { maxAttempts: 1.5 }],
  ["backoffBaseMs", { backoffBaseMs: -1 }],
  ["backoffMaxMs", { backoffMaxMs: Number.POSITIVE_INFINITY }],
  ["maxLostLeases", { maxLostLeases: -1 }],
  ["maxLostLeases", { maxLostLeases: 101 }],
];

const BAD_OPTIONS: Array<[string, JobOptions]> = [
  ["maxAttempts", { maxAttempts: 0 }],
  ["maxAttempts", { maxAttempts: 2.5 }],
  ["timeoutMs", { timeoutMs: 0 }],
  ["timeoutMs", { timeoutMs: -100 }],
  ["startDeadline", { startDeadline: Number.NaN }],
  ["backoffBaseMs", { backoffBaseMs: 0 }],
  ["backoffMaxMs", { backoffMaxMs: -1 }],
  ["maxLostLeases", { maxLostLeases: 1000 }],
  ["maxLostLeases", { maxLostLeases: 0.5 }],
];

forEachEngine("queue config and job options", (env) => {
  test.each(BAD_CONFIGS)(
    "config.%s: %j is INVALID_ARGUMENT naming it; the queue is not created",
    async (field, bad) => {
      const q = uniqueQueue("cfg");
      await expectEngineError(env.worker.declareQueue(q, bad), "invalid_argument", new RegExp(`config\\.${field}`));
      await expectEngineError(env.api.submit({ queue: q, input: 1 }), "not_found", /not found/);
    },
  );

  test("a bad config leaves an existing queue's config as it was", async () => {
    const q = await env.queue({ maxAttempts: 2, ackWaitMs: 5_000 });
    await expectEngineError(env.worker.declareQueue(q, { maxAttempts: 0 }), "invalid_argument", /config\.maxAttempts/);
    const { id } = await env.api.submit({ queue: q, input: "x" });
    await waitForCount(env.api, q, { inQueue: 1, running: 0 });
    const [lease] = await env.worker.fetch(q, { max: 1, expiresMs: 2_000 });
    expect(lease?.id).toBe(id);
    expect(lease?.ackWaitMs).toBe(5_000);
    expect(await lease!.begin()).toBe(true);
    // maxAttempts 2 still holds: the first failure is retried.
    expect(await lease!.fail({ code: "E", message: "once" })).toBe(true);
    expect((await env.api.getStatus(id)).state).toBe("QUEUED");
  });

  test.each(BAD_OPTIONS)("options.%s: %j is INVALID_ARGUMENT naming it; nothing is enqueued", async (field, bad) => {
    const q = await env.queue();
    const re = new RegExp(`options\\.${field}`);
    await expectEngineError(env.api.submit({ queue: q, input: 1, options: bad }), "invalid_argument", re);
    const watched = env.api.submitAndWatch({ queue: q, input: 1, options: bad })[Symbol.asyncIterator]();
    await expectEngineError(watched.next(), "invalid_argument", re);
    expect(await env.api.queueCount(q)).toEqual({ queue: q, inQueue: 0, running: 0 });
  });

  test("good options are kept as given and reach the lease", async () => {
    const q = await env.queue();
    const options: JobOptions = {
      maxAttempts: 3,
      timeoutMs: 1_500,
      backoffBaseMs: 10,
      backoffMaxMs: 20,
      maxLostLeases: 0,
    };
    const { id } = await env.api.submit({ queue: q, input: 1, options });
    await waitForCount(env.api, q, { inQueue: 1, running: 0 });
    const [lease] = await env.worker.fetch(q, { max: 1, expiresMs: 2_000 });
    expect(lease?.id).toBe(id);
    expect(lease?.options).toEqual(options);
    expect(await lease!.begin()).toBe(true);
    expect(await lease!.complete(null)).toBe(true);
  });
});
