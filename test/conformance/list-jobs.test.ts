/**
 * ListJobs and describeQueues (ListQueues) on every engine: paging through
 * 10,000 finished jobs with stable cursors, the state views of a mixed
 * workload, tenants, the page size and cursor rules, finished counts, and a
 * page's cost independent of the number of finished jobs.
 */
import { expect, test } from "vitest";
import type { Engine, JobLease, JobState, JobStatus } from "../../src/engine/types.js";
import { indexReadStats } from "../../src/engine/nats/job-index.js";
import { memoryIndexReads } from "../../src/engine/memory/index-lists.js";
import { delay, expectEngineError, forEachEngine, waitFor } from "./harness.js";

/** Submits n jobs, `concurrency` at a time; returns their ids in submit order. */
async function submitMany(engine: Engine, queue: string, n: number, tenant?: string, concurrency = 250) {
  const ids: string[] = [];
  for (let i = 0; i < n; i += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, n - i) }, (_, k) =>
      engine.submit({ queue, input: i + k, ...(tenant !== undefined ? { tenant } : {}) }),
    );
    ids.push(...(await Promise.all(batch)).map((s) => s.id));
  }
  return ids;
}

/** Fetches and settles n jobs of the queue with `settle`, many at a time, on each engine at once. */
async function settleMany(
  engines: Engine | Engine[],
  queue: string,
  n: number,
  settle: (lease: JobLease) => Promise<unknown>,
) {
  let done = 0;
  const deadline = Date.now() + 60_000;
  const loop = async (engine: Engine) => {
    while (done < n) {
      if (Date.now() > deadline) throw new Error(`settled ${done} of ${n} jobs in 60 s`);
      const leases = await engine.fetch(queue, { max: Math.min(256, n - done), expiresMs: 200 });
      done += leases.length;
      await Promise.all(
        leases.map(async (lease) => {
          if (await lease.begin()) await settle(lease);
        }),
      );
    }
  };
  await Promise.all((Array.isArray(engines) ? engines : [engines]).map(loop));
}

/** Every page of a list, with the page size given. */
async function allPages(engine: Engine, queue: string, state: JobState, pageSize: number, tenant?: string) {
  const jobs: JobStatus[] = [];
  let cursor = "";
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await engine.listJobs({ queue, state, pageSize, cursor, ...(tenant !== undefined ? { tenant } : {}) });
    jobs.push(...page.jobs);
    if (!page.nextCursor) return jobs;
    cursor = page.nextCursor;
  }
  throw new Error("more than 10,000 pages");
}

const ids = (jobs: JobStatus[]) => jobs.map((j) => j.id);
const complete = (lease: JobLease) => lease.complete(lease.input);

/** Reads the index made on this engine, as a number that grows with each entry or message a page reads. */
const indexReads = (env: { kind: { name: string } }) =>
  env.kind.name === "nats" ? indexReadStats.messagesRead + indexReadStats.recordsRead : memoryIndexReads.entries;

forEachEngine("list jobs", (env) => {
  let big = "";
  let bigIds: string[] = [];

  test("10,000 COMPLETED jobs page newest first with stable cursors, no duplicates, none skipped", async () => {
    big = await env.queue();
    bigIds = await submitMany(env.api, big, 10_000);
    // Two processes finish them at once (on NATS: both append to the same index chains).
    await settleMany([env.worker, env.api], big, 10_000, complete);

    const first = await env.api.listJobs({ queue: big, state: "COMPLETED", pageSize: 500 });
    expect(first.jobs).toHaveLength(500);
    // Jobs finishing while a client pages land before its cursor: later pages neither repeat nor skip.
    const late = await submitMany(env.api, big, 20);
    await settleMany(env.worker, big, 20, complete);
    const rest = [...first.jobs];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await env.api.listJobs({ queue: big, state: "COMPLETED", pageSize: 500, cursor });
      expect(page.jobs.length).toBeGreaterThan(0);
      rest.push(...page.jobs);
      cursor = page.nextCursor;
    }
    const seen = ids(rest);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(10_000);
    expect(new Set(seen)).toEqual(new Set(bigIds));
    // Newest first as indexed: jobs finishing at the same moment may interleave by a moment.
    for (let i = 1; i < rest.length; i++)
      expect(rest[i]!.finishedAt!).toBeLessThanOrEqual(rest[i - 1]!.finishedAt! + 1_000);
    expect(rest.every((j) => j.state === "COMPLETED" && j.queue === big)).toBe(true);

    // A new listing starts with the late ones.
    const head = await env.api.listJobs({ queue: big, state: "COMPLETED", pageSize: 20 });
    expect(new Set(ids(head.jobs))).toEqual(new Set(late));
  }, 120_000);

  test("a page costs the same with 10,000 finished jobs as with 100", async () => {
    expect(bigIds.length).toBe(10_000);
    const small = await env.queue();
    await submitMany(env.api, small, 100);
    await settleMany(env.worker, small, 100, complete);
    const cost = async (queue: string) => {
      const first = await env.api.listJobs({ queue, state: "COMPLETED", pageSize: 50 });
      const before = indexReads(env);
      const second = await env.api.listJobs({ queue, state: "COMPLETED", pageSize: 50, cursor: first.nextCursor });
      expect(second.jobs).toHaveLength(50);
      return indexReads(env) - before;
    };
    const withBig = await cost(big);
    const withSmall = await cost(small);
    // Each page reads its 50 entries (their records) and at most one index message per entry, plus one.
    const bound = env.kind.name === "nats" ? 2 * 50 + 1 : 50;
    expect(withBig).toBeLessThanOrEqual(bound);
    expect(withSmall).toBeLessThanOrEqual(bound);
    expect(withBig).toBeGreaterThanOrEqual(50);
  });

  test("each state lists exactly its jobs: FAILED, CANCELLED, EXPIRED, QUEUED in queue order, RUNNING", async () => {
    const q = await env.queue();
    const submitted = await submitMany(env.api, q, 30);
    const failing = new Set(submitted.filter((_, i) => i % 3 === 0));
    const outcome = (lease: JobLease) =>
      failing.has(lease.id)
        ? lease.fail({ code: "HANDLER_ERROR", message: "no" }, { retryable: false })
        : lease.complete("ok");
    await settleMany(env.worker, q, 30, outcome);

    const cancelled = await submitMany(env.api, q, 4);
    for (const id of cancelled) await env.api.cancel(id);
    const deadline = Date.now() + 150;
    const expiring = await Promise.all(
      [0, 1, 2].map(() => env.api.submit({ queue: q, input: "late", options: { startDeadline: deadline } })),
    );
    await delay(deadline + 20 - Date.now());
    // The embedded engine expires them on time; JetStream when a delivery would begin them.
    await waitFor(
      async () => {
        for (const l of await env.worker.fetch(q, { max: 3, expiresMs: 200 })) expect(await l.begin()).toBe(false);
        const states = await Promise.all(expiring.map(async (s) => (await env.api.getStatus(s.id)).state));
        return states.every((s) => s === "EXPIRED");
      },
      { what: "the three jobs past their start deadline to be EXPIRED" },
    );

    const running = await submitMany(env.api, q, 2);
    const leases = await env.worker.fetch(q, { max: 2, expiresMs: 1_000 });
    expect(leases).toHaveLength(2);
    for (const l of leases) expect(await l.begin()).toBe(true);
    const queued = await submitMany(env.api, q, 7);

    const failed = await allPages(env.api, q, "FAILED", 3);
    expect(new Set(ids(failed))).toEqual(failing);
    expect(failed.every((j) => j.error?.code === "HANDLER_ERROR")).toBe(true);
    expect(new Set(ids(await allPages(env.api, q, "CANCELLED", 50)))).toEqual(new Set(cancelled));
    expect(new Set(ids(await allPages(env.api, q, "EXPIRED", 2)))).toEqual(new Set(expiring.map((s) => s.id)));
    expect((await allPages(env.api, q, "COMPLETED", 7)).length).toBe(20);
    expect(ids(await allPages(env.api, q, "QUEUED", 3))).toEqual(queued);
    const runningJobs = await allPages(env.api, q, "RUNNING", 1);
    expect(ids(runningJobs)).toEqual([...running].reverse());
    for (const l of leases) await l.complete("ok");
  });

  test("tenant B never sees tenant A's jobs", async () => {
    const q = await env.queue();
    const a = await submitMany(env.api, q, 6, "tenant-a");
    const b = await submitMany(env.api, q, 4, "tenant-b");
    expect(ids(await allPages(env.api, q, "QUEUED", 2, "tenant-b"))).toEqual(b);
    await settleMany(env.worker, q, 10, complete);
    expect(new Set(ids(await allPages(env.api, q, "COMPLETED", 3, "tenant-b")))).toEqual(new Set(b));
    expect(new Set(ids(await allPages(env.api, q, "COMPLETED", 3, "tenant-a")))).toEqual(new Set(a));
    expect(await allPages(env.api, q, "COMPLETED", 3, "tenant-c")).toEqual([]);
    // Without a tenant (an open server, an admin): everyone's.
    expect((await allPages(env.api, q, "COMPLETED", 50)).length).toBe(10);
    // A's cursor does not open A's list to B.
    const aPage = await env.api.listJobs({ queue: q, state: "COMPLETED", pageSize: 2, tenant: "tenant-a" });
    // A's cursor read by B: refused, or a place in B's own list, never A's jobs.
    const bWithA = await env.api
      .listJobs({ queue: q, state: "COMPLETED", pageSize: 50, tenant: "tenant-b", cursor: aPage.nextCursor })
      .catch((err: unknown) => err as Error);
    if (bWithA instanceof Error) expect(bWithA.message).toMatch(/cursor/);
    else expect(ids(bWithA.jobs).every((id) => b.includes(id))).toBe(true);
  });

  test("page size: default 50, at most 500; bad sizes, cursors and states are INVALID_ARGUMENT naming them", async () => {
    const q = await env.queue();
    await submitMany(env.api, q, 60);
    const page = await env.api.listJobs({ queue: q, state: "QUEUED" });
    expect(page.jobs).toHaveLength(50);
    expect(page.nextCursor).not.toBe("");
    expect((await env.api.listJobs({ queue: q, state: "QUEUED", pageSize: 500 })).jobs).toHaveLength(60);
    await expectEngineError(
      env.api.listJobs({ queue: q, state: "QUEUED", pageSize: 501 }),
      "invalid_argument",
      /page_size/,
    );
    await expectEngineError(
      env.api.listJobs({ queue: q, state: "QUEUED", pageSize: -1 }),
      "invalid_argument",
      /page_size/,
    );
    await expectEngineError(
      env.api.listJobs({ queue: q, state: "QUEUED", pageSize: 2.5 }),
      "invalid_argument",
      /page_size/,
    );
    for (const cursor of ["nope!", "eyJ4IjoxfQ", Buffer.from("[]").toString("base64url")]) {
      await expectEngineError(env.api.listJobs({ queue: q, state: "QUEUED", cursor }), "invalid_argument", /cursor/);
    }
    // A cursor of another list (state) is not this list's.
    await expectEngineError(
      env.api.listJobs({ queue: q, state: "FAILED", cursor: page.nextCursor }),
      "invalid_argument",
      /cursor/,
    );
    await expectEngineError(
      env.api.listJobs({ queue: q, state: undefined as unknown as JobState }),
      "invalid_argument",
      /state/,
    );
    await expectEngineError(env.api.listJobs({ queue: "no-such-queue-here", state: "FAILED" }), "not_found", /queue/);
    await expectEngineError(env.api.listJobs({ queue: "Bad Name", state: "FAILED" }), "invalid_argument", /queue/);
  });

  test("describeQueues: counts, finished in the last minute and hour, sorted by name", async () => {
    const q = await env.queue();
    const submitted = await submitMany(env.api, q, 12);
    const failing = new Set(submitted.slice(0, 5));
    await settleMany(env.worker, q, 9, (lease) =>
      failing.has(lease.id) ? lease.fail({ code: "X", message: "x" }, { retryable: false }) : lease.complete(1),
    );
    const leases = await env.worker.fetch(q, { max: 1, expiresMs: 1_000 });
    for (const l of leases) await l.begin();
    // Waiting and running come from a queue snapshot another process's fetch makes stale for a moment.
    const queues = await waitFor(
      async () => {
        const all = await env.api.describeQueues();
        const mine = all.find((x) => x.name === q);
        return mine?.waiting === 2 && mine.running === 1 ? all : undefined;
      },
      { what: "2 waiting and 1 running" },
    );
    const names = queues.map((x) => x.name);
    expect(names).toEqual([...names].sort());
    const info = queues.find((x) => x.name === q);
    expect(info).toEqual({
      name: q,
      waiting: 2,
      running: 1,
      delayed: 0,
      paused: false,
      lastMinute: { completed: 4, failed: 5 },
      lastHour: { completed: 4, failed: 5 },
    });
    for (const l of leases) await l.complete(1);
  });
});
