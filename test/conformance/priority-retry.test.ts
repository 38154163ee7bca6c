/**
 * Priority with Retry and delayed jobs (issue 17): a retried job and a
 * delayed job that becomes due keep their priority. They join the end of
 * their priority's line (embedded: the level's line by place in line;
 * JetStream: published again into the level's stream, named by Jetq-Id), so
 * they run before every waiting job of a lower priority, positions and
 * ListJobs stay exact, and a cancel finds them where they now are.
 */
import { expect, test } from "vitest";
import type { Engine } from "../../src/engine/types.js";
import { fetchFor, fetchOne, forEachEngine, show, waitFor, waitForState } from "./harness.js";

/** Waits until the QUEUED jobs `ids` report positions 0..n-1 in that order (GetStatus). */
async function waitForPositions(engine: Engine, ids: string[]): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const seen: Array<number | undefined> = [];
      for (const id of ids) {
        const s = await engine.getStatus(id);
        seen.push(s.state === "QUEUED" ? s.queuePosition : undefined);
      }
      last = seen;
      return show(seen) === show(ids.map((_, i) => i));
    },
    { timeoutMs: 5_000, what: `positions 0..${ids.length - 1}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\npositions: ${show(last)}`);
  });
}

/** QUEUED jobs of q as ListJobs pages them, one job a page. */
async function listedQueued(engine: Engine, queue: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await engine.listJobs({ queue, state: "QUEUED", pageSize: 1, ...(cursor ? { cursor } : {}) });
    ids.push(...page.jobs.map((j) => `${j.id}:${j.priority}`));
    if (!page.nextCursor) return ids;
    cursor = page.nextCursor;
  }
  throw new Error("ListJobs did not end");
}

/** Takes n jobs one by one, completing each; answers their ids in the order handed out. */
async function runInOrder(engine: Engine, queue: string, n: number): Promise<string[]> {
  const order: string[] = [];
  for (let i = 0; i < n; i++) {
    const lease = await fetchOne(engine, queue);
    order.push(lease.id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(null)).toBe(true);
  }
  return order;
}

forEachEngine("priority with retry and delayed jobs", (env) => {
  test("Retry of a priority-9 job keeps its priority and runs before the waiting priority-5 jobs", async () => {
    const q = await env.queue({ maxAttempts: 1 });
    const high = await env.api.submit({ queue: q, input: "high", options: { priority: 9 } });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(high.id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.fail({ code: "BOOM", message: "first try fails" })).toBe(true);
    await waitForState(env.api, high.id, "FAILED");
    const normal: string[] = [];
    for (let i = 0; i < 3; i++) normal.push((await env.api.submit({ queue: q, input: i })).id);

    const retried = await env.api.retry(high.id);
    expect(retried.priority).toBe(9);
    await waitForPositions(env.api, [high.id, ...normal]);
    expect(await listedQueued(env.api, q)).toEqual([`${high.id}:9`, ...normal.map((id) => `${id}:5`)]);
    expect(await env.api.queueCount(q)).toMatchObject({ inQueue: 4 });

    expect(await runInOrder(env.worker, q, 4)).toEqual([high.id, ...normal]);
    const done = await env.api.getStatus(high.id);
    expect([done.state, done.attempt, done.priority]).toEqual(["COMPLETED", 2, 9]);
  });

  test("a delayed priority-9 job, when due, runs before the waiting priority-5 jobs", async () => {
    const q = await env.queue();
    const delayed = await env.api.submit({ queue: q, input: "later", options: { priority: 9, delayMs: 300 } });
    expect([delayed.state, delayed.priority, delayed.queuePosition]).toEqual(["QUEUED", 9, undefined]);
    const normal: string[] = [];
    for (let i = 0; i < 3; i++) normal.push((await env.api.submit({ queue: q, input: i })).id);
    await waitFor(async () => (await env.api.getStatus(delayed.id)).queuePosition !== undefined, {
      timeoutMs: 5_000,
      what: "the delayed job due and in line",
    });
    await waitForPositions(env.api, [delayed.id, ...normal]);
    expect(await listedQueued(env.api, q)).toEqual([`${delayed.id}:9`, ...normal.map((id) => `${id}:5`)]);

    expect(await runInOrder(env.worker, q, 4)).toEqual([delayed.id, ...normal]);
    const done = await env.api.getStatus(delayed.id);
    expect([done.state, done.priority]).toEqual(["COMPLETED", 9]);
  });

  test("cancel of a retried priority job: removed from its level's line, never runs, its Retry again works", async () => {
    const q = await env.queue();
    const normal = await env.api.submit({ queue: q, input: "normal" });
    const high = await env.api.submit({ queue: q, input: "high", options: { priority: 9 } });
    expect((await env.api.cancel(high.id)).removed).toBe(true);
    expect((await env.api.retry(high.id)).priority).toBe(9);
    await waitForPositions(env.api, [high.id, normal.id]);

    const cancelled = await env.api.cancel(high.id);
    expect([cancelled.removed, cancelled.job.state, cancelled.job.priority]).toEqual([true, "CANCELLED", 9]);
    await waitForPositions(env.api, [normal.id]);
    expect(await listedQueued(env.api, q)).toEqual([`${normal.id}:5`]);
    expect(await runInOrder(env.worker, q, 1)).toEqual([normal.id]);
    // Nothing of the cancelled job is left to hand out.
    expect((await fetchFor(env.worker, q, 300)).map((l) => l.id)).toEqual([]);
    expect((await env.api.getStatus(high.id)).state).toBe("CANCELLED");

    await env.api.retry(high.id);
    expect(await runInOrder(env.worker, q, 1)).toEqual([high.id]);
    expect(await env.api.getStatus(high.id)).toMatchObject({ state: "COMPLETED", priority: 9 });
  });
});
