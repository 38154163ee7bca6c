/**
 * Idempotent submit: one tenant + one idempotency key = one job, even when
 * the submits race.
 */
import { expect, test } from "vitest";
import { fetchFor, fetchOne, forEachEngine, startWorker, waitFor, waitForCount, waitForState } from "./harness.js";

forEachEngine("idempotency", (env) => {
  test("20 concurrent submits with one key (same tenant) → one id, one delivery", async () => {
    const q = await env.queue();
    const key = `key-${Math.random().toString(36).slice(2)}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        env.api.submit({ queue: q, input: { i }, idempotencyKey: key, tenant: "acme" }),
      ),
    );
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect(results.every((r) => r.queue === q)).toBe(true);
    await waitForCount(env.api, q, { inQueue: 1, running: 0 });

    const worker = startWorker(env.worker, q);
    try {
      await waitForState(env.api, id, "COMPLETED");
      // give a duplicate every chance to show up before stopping
      expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.map((d) => d.id)).toEqual([id]);
    // the winner's input is the one that ran, and it is one of the submitted ones
    const output = (await env.api.getResult(id)).output as { i: number };
    expect(output.i).toBeGreaterThanOrEqual(0);
    expect(output.i).toBeLessThan(20);
  });

  test("a later submit with the same key returns the original job, even once it finished", async () => {
    const q = await env.queue();
    const first = await env.api.submit({ queue: q, input: "first", idempotencyKey: "k1", tenant: "t" });
    const again = await env.api.submit({ queue: q, input: "second", idempotencyKey: "k1", tenant: "t" });
    expect(again.id).toBe(first.id);
    expect(again.state).toBe("QUEUED");
    const worker = startWorker(env.worker, q);
    try {
      await waitForState(env.api, first.id, "COMPLETED");
    } finally {
      await worker.stop();
    }
    const late = await env.api.submit({ queue: q, input: "third", idempotencyKey: "k1", tenant: "t" });
    expect(late.id).toBe(first.id);
    expect(late.state).toBe("COMPLETED");
    expect((await env.api.getResult(first.id)).output).toBe("first");
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
    expect(worker.deliveries.map((d) => d.id)).toEqual([first.id]);
  });

  test("the same key under a different tenant is a different job", async () => {
    const q = await env.queue();
    const a = await env.api.submit({ queue: q, input: "a", idempotencyKey: "shared", tenant: "tenant-a" });
    const b = await env.api.submit({ queue: q, input: "b", idempotencyKey: "shared", tenant: "tenant-b" });
    expect(b.id).not.toBe(a.id);
    expect(b.queuePosition).toBe(1);
    const a2 = await env.api.submit({ queue: q, input: "a2", idempotencyKey: "shared", tenant: "tenant-a" });
    expect(a2.id).toBe(a.id);
    await waitForCount(env.api, q, { inQueue: 2, running: 0 });
  });

  test("different keys, and no key, make different jobs", async () => {
    const q = await env.queue();
    const a = await env.api.submit({ queue: q, input: 1, idempotencyKey: "one" });
    const b = await env.api.submit({ queue: q, input: 1, idempotencyKey: "two" });
    const c = await env.api.submit({ queue: q, input: 1 });
    const d = await env.api.submit({ queue: q, input: 1 });
    expect(new Set([a.id, b.id, c.id, d.id]).size).toBe(4);
    await waitFor(async () => (await env.api.queueCount(q)).inQueue === 4, { what: "4 queued" });
  });

  test("the same key in another queue is another job: it tells nothing of the first", async () => {
    const q1 = await env.queue();
    const q2 = await env.queue();
    const first = await env.api.submit({ queue: q1, input: "private", idempotencyKey: "reused", tenant: "acme" });
    const other = await env.api.submit({ queue: q2, input: "mine", idempotencyKey: "reused", tenant: "acme" });
    expect(other.id).not.toBe(first.id);
    expect(other).toMatchObject({ queue: q2, state: "QUEUED", queuePosition: 0, attempt: 0 });
    expect(other.createdAt).toBeGreaterThanOrEqual(first.createdAt);
    // Each key still holds in its own queue.
    expect((await env.api.submit({ queue: q1, input: 3, idempotencyKey: "reused", tenant: "acme" })).id).toBe(first.id);
    expect((await env.api.submit({ queue: q2, input: 4, idempotencyKey: "reused", tenant: "acme" })).id).toBe(other.id);
    await waitForCount(env.api, q1, { inQueue: 1, running: 0 });
    await waitForCount(env.api, q2, { inQueue: 1, running: 0 });
    const lease = await fetchOne(env.worker, q2);
    expect(lease.input).toBe("mine");
  });
});
