/**
 * submitBatch: up to 1,000 jobs in one call, each checked and submitted on
 * its own (a bad item fails alone, at its index); a repeated batch with the
 * same keys creates nothing new; watchJobs of the batch's ids sees every
 * job go QUEUED → RUNNING → COMPLETED, each change once.
 */
import { expect, test } from "vitest";
import { sameStatus } from "../../src/engine/core/status-change.js";
import type { BatchOutcome, JobStatus, SubmitInput } from "../../src/engine/types.js";
import { expectEngineError, forEachEngine, recordStatuses, startWorker, uniqueQueue } from "./harness.js";

const BAD = [10, 500, 999];

function batchOf(queue: string, prefix: string): SubmitInput[] {
  return Array.from({ length: 1_000 }, (_, i): SubmitInput => {
    const item: SubmitInput = { queue, input: { i }, idempotencyKey: `${prefix}-${i}`, tenant: "t1" };
    if (i === 10) item.options = { maxAttempts: 0 };
    if (i === 500) item.queue = "Not A Queue!";
    if (i === 999) item.queue = uniqueQueue("never-declared");
    return item;
  });
}

const idsOf = (outcomes: BatchOutcome[]) => outcomes.flatMap((o) => ("status" in o ? [o.status.id] : []));

/** Each job's statuses in the order the watch sent them. */
function byJob(items: JobStatus[]): Map<string, JobStatus[]> {
  const out = new Map<string, JobStatus[]>();
  for (const s of items) out.set(s.id, [...(out.get(s.id) ?? []), s]);
  return out;
}

forEachEngine("submitBatch", (env) => {
  test("1,000 items with 3 invalid: 997 jobs, 3 errors at their index naming the field; a repeat creates nothing new", async () => {
    const q = await env.queue();
    // Both paths warmed up first, so the figures logged below compare like with like.
    const warm = await env.queue();
    await env.api.submitBatch(
      Array.from({ length: 50 }, (_, i) => ({ queue: warm, input: i, idempotencyKey: `w${i}` })),
    );
    for (let i = 0; i < 50; i++) await env.api.submit({ queue: warm, input: i, idempotencyKey: `v${i}` });
    const started = Date.now();
    const outcomes = await env.api.submitBatch(batchOf(q, "b"));
    const batchMs = Date.now() - started;
    expect(outcomes).toHaveLength(1_000);
    const failed = outcomes.flatMap((o, i) => ("error" in o ? [i] : []));
    expect(failed).toEqual(BAD);
    const errorOf = (i: number) => (outcomes[i] as { error: { code: string; message: string } }).error;
    expect(errorOf(10)).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^options\.maxAttempts/),
    });
    expect(errorOf(500)).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^queue/) });
    expect(errorOf(999)).toMatchObject({ code: "not_found", message: expect.stringMatching(/queue "never-declared/) });
    const ids = idsOf(outcomes);
    expect(new Set(ids).size).toBe(997);
    for (const o of outcomes) if ("status" in o) expect(o).toMatchObject({ fresh: true, status: { state: "QUEUED" } });
    expect((await env.api.queueCount(q)).inQueue).toBe(997);

    const again = await env.api.submitBatch(batchOf(q, "b"));
    expect(idsOf(again)).toEqual(ids);
    for (const o of again) if ("status" in o) expect(o.fresh).toBe(false);
    expect((await env.api.queueCount(q)).inQueue).toBe(997);

    // The same 1,000 jobs one Submit at a time, for the log: no timed assertion.
    const q2 = await env.queue();
    const one = Date.now();
    for (let i = 0; i < 1_000; i++) await env.api.submit({ queue: q2, input: { i }, idempotencyKey: `s-${i}` });
    console.log(
      `[${env.kind.name}] SubmitBatch of 1,000: ${batchMs} ms; 1,000 sequential Submits: ${Date.now() - one} ms`,
    );
  });

  test("an empty batch and one over 1,000 are INVALID_ARGUMENT naming jobs, and enqueue nothing", async () => {
    const q = await env.queue();
    await expectEngineError(env.api.submitBatch([]), "invalid_argument", /^jobs: /);
    const big = Array.from({ length: 1_001 }, (_, i) => ({ queue: q, input: i }));
    await expectEngineError(env.api.submitBatch(big), "invalid_argument", /^jobs: 1001 jobs is over the limit of 1000/);
    expect((await env.api.queueCount(q)).inQueue).toBe(0);
  });

  test("watchJobs of the 997 ids: every job QUEUED → RUNNING → COMPLETED, each change once, then it ends", async () => {
    const q = await env.queue();
    const ids = idsOf(await env.api.submitBatch(batchOf(q, "w")));
    const watch = recordStatuses(() => env.api.watchJobs({ ids }, { tenant: "t1" }), "watchJobs");
    await watch.waitItems(997, 20_000);
    const worker = startWorker(env.worker, q, (lease) => lease.input, { concurrency: 32 });
    try {
      const end = await watch.waitEnd(60_000);
      expect(end.error).toBeUndefined();
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    const jobs = byJob(watch.items);
    expect([...jobs.keys()].sort()).toEqual([...ids].sort());
    for (const [id, seen] of jobs) {
      expect(seen[0]!.state, id).toBe("QUEUED");
      const states = seen.map((s) => s.state).filter((s, i, all) => i === 0 || all[i - 1] !== s);
      expect(states, id).toEqual(["QUEUED", "RUNNING", "COMPLETED"]);
      expect(
        seen.filter((s) => s.state === "COMPLETED"),
        id,
      ).toHaveLength(1);
      for (let i = 1; i < seen.length; i++) expect(sameStatus(seen[i - 1]!, seen[i]!), `${id} repeated`).toBe(false);
    }
  }, 90_000);

  test("watchJobs checks ids: over 1,000, a malformed one, and another tenant's are refused before anything is sent", async () => {
    const q = await env.queue();
    const mine = await env.api.submit({ queue: q, input: 1, tenant: "t1" });
    const theirs = await env.api.submit({ queue: q, input: 2, tenant: "t2" });
    const tooMany = Array.from({ length: 1_001 }, () => mine.id);
    await expectEngineError(() => env.api.watchJobs({ ids: tooMany }), "invalid_argument", /^ids: 1001 ids/);
    await expectEngineError(() => env.api.watchJobs({ ids: [mine.id, "nope"] }), "invalid_argument", /^ids\[1\]: /);
    const foreign = recordStatuses(() => env.api.watchJobs({ ids: [mine.id, theirs.id] }, { tenant: "t1" }), "w");
    const end = await foreign.waitEnd();
    expect(foreign.items).toEqual([]);
    expect(end.error).toMatchObject({
      code: "not_found",
      message: expect.stringMatching(/^ids\[1\]: job .* not found/),
    });
    const stop = new AbortController();
    const readAsAll = recordStatuses(
      () => env.api.watchJobs({ ids: [mine.id, theirs.id] }, { signal: stop.signal }),
      "all",
    );
    await readAsAll.waitItems(2);
    expect(readAsAll.items.map((s) => s.id).sort()).toEqual([mine.id, theirs.id].sort());
    stop.abort();
    expect((await readAsAll.waitEnd()).error).toBeUndefined();
  });
});
