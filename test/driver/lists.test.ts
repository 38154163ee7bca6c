/**
 * The lists part of the driver contract: listJobs pages and finishedCounts,
 * with two processes finishing jobs of one queue at once, an outcome that
 * lost to a cancel (never listed), and positions of another list refused.
 */
import { expect, test } from "vitest";
import { isEngineError } from "../../src/engine/errors.js";
import type { Driver, ListQuery } from "../../src/engine/driver/types.js";
import type { JobStatus } from "../../src/engine/types.js";
import { begin, fetchN, forEachDriver, newJob, refOf } from "./harness.js";

/** How far apart two finishes indexed out of order may be (jobs finishing at once in two processes). */
const SAME_MOMENT_MS = 1_000;

/** Every page of the list, `limit` at a time. */
async function everything(driver: Driver, query: Omit<ListQuery, "after">): Promise<JobStatus[]> {
  const out: JobStatus[] = [];
  let after: number[] | undefined;
  for (let i = 0; i < 1_000; i++) {
    const page = await driver.listJobs({ ...query, ...(after ? { after } : {}) });
    out.push(...page.jobs);
    if (!page.next) return out;
    after = page.next;
  }
  throw new Error("more than 1,000 pages");
}

/** Fetches, begins and completes jobs of the queue on `driver` until `shared.done` reaches n. */
async function completeShared(driver: Driver, queue: string, shared: { done: number }, n: number) {
  const deadline = Date.now() + 30_000;
  while (shared.done < n && Date.now() < deadline) {
    const ds = await driver.fetch(queue, 64, 200);
    shared.done += ds.length;
    await Promise.all(ds.map(async (d) => (await begin(d)) && d.finish("COMPLETED", { output: 1 })));
  }
}

forEachDriver("lists", (env) => {
  test("two processes finishing one queue's jobs at once: every job listed once, newest first", async () => {
    const q = await env.queue();
    const ids = await Promise.all(Array.from({ length: 400 }, (_, i) => env.api.insert(newJob(q, i))));
    const shared = { done: 0 };
    await Promise.all([completeShared(env.api, q, shared, 400), completeShared(env.worker, q, shared, 400)]);
    expect(shared.done).toBe(400);
    const listed = await everything(env.api, { queue: q, state: "COMPLETED", limit: 37 });
    expect(listed.map((j) => j.id).sort()).toEqual(ids.map((i) => i.status.id).sort());
    for (let i = 1; i < listed.length; i++)
      // In the order they were indexed: two processes finishing at the same moment may interleave.
      expect(listed[i]!.finishedAt!).toBeLessThanOrEqual(listed[i - 1]!.finishedAt! + SAME_MOMENT_MS);
  });

  test("an outcome that lost to a cancel is not listed; the cancel is", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, "x"));
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    await env.api.cancel(refOf(status.id), {});
    expect(await d!.finish("COMPLETED", { output: "late" })).toBe(false);
    expect((await env.api.listJobs({ queue: q, state: "COMPLETED", limit: 10 })).jobs).toEqual([]);
    const cancelled = await env.api.listJobs({ queue: q, state: "CANCELLED", limit: 10 });
    expect(cancelled.jobs.map((j) => [j.id, j.state])).toEqual([[status.id, "CANCELLED"]]);
  });

  test("a position of another list is INVALID_ARGUMENT naming the cursor", async () => {
    const q = await env.queue();
    await Promise.all([0, 1, 2].map((i) => env.api.insert(newJob(q, i))));
    const ds = await fetchN(env.worker, q, 3);
    await Promise.all(
      ds.map(async (d) => (await begin(d)) && d.finish("FAILED", { error: { code: "X", message: "x" } })),
    );
    await env.api.insert(newJob(q, "done"));
    const [c] = await fetchN(env.worker, q, 1);
    expect((await begin(c!)) && (await c!.finish("COMPLETED", { output: 1 }))).toBe(true);
    const failed = await env.api.listJobs({ queue: q, state: "FAILED", limit: 1 });
    expect(failed.next).toBeDefined();
    for (const after of [failed.next!, [1, 2, 3]]) {
      await expect(env.api.listJobs({ queue: q, state: "COMPLETED", limit: 5, after })).rejects.toSatisfy(
        (e) => isEngineError(e, "invalid_argument") && /cursor/.test((e as Error).message),
      );
    }
  });

  test("finishedCounts: COMPLETED and FAILED since each time", async () => {
    const q = await env.queue();
    await Promise.all([0, 1, 2, 3, 4].map((i) => env.api.insert(newJob(q, i))));
    const ds = await fetchN(env.worker, q, 5);
    await Promise.all(
      ds.map(async (d, i) => {
        expect(await begin(d)).toBe(true);
        return i < 2
          ? d.finish("FAILED", { error: { code: "X", message: "x" } })
          : d.finish("COMPLETED", { output: i });
      }),
    );
    const now = Date.now();
    expect(await env.api.finishedCounts(q, [now - 60_000, now - 3_600_000, now + 60_000])).toEqual([
      { completed: 3, failed: 2 },
      { completed: 3, failed: 2 },
      { completed: 0, failed: 0 },
    ]);
  });
});
