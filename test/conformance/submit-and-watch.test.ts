/**
 * submitAndWatch(): submit() then watch() as the submitter, in one. The
 * submitted status first, then every change once and in order, ending after
 * the terminal status; submit's errors at the first next(). Engines may start
 * its watch from what they know of the job they just submitted (the JetStream
 * engine does), so the sequences are checked with the worker in another
 * engine (process) and in the same one, where the delivery can race Submit.
 */
import { expect, test } from "vitest";
import type { JobLease, JobStatus } from "../../src/engine/types.js";
import { expectEngineError, fetchOne, forEachEngine, recordStatuses, summary, waitForCount } from "./harness.js";

/** States in order with repeats folded: ["QUEUED", "RUNNING", "COMPLETED"]. */
const phases = (items: JobStatus[]) => items.map((s) => s.state).filter((s, i, all) => s !== all[i - 1]);

function expectNoRepeats(items: JobStatus[]): void {
  for (let i = 1; i < items.length; i++) {
    expect(summary(items[i]!), `item ${i} repeats item ${i - 1}: ${JSON.stringify(items.map(summary))}`).not.toEqual(
      summary(items[i - 1]!),
    );
  }
}

async function runWithProgress(lease: JobLease): Promise<void> {
  expect(await lease.begin()).toBe(true);
  lease.progress(0.5);
  expect(await lease.complete({ done: lease.id })).toBe(true);
}

forEachEngine("submitAndWatch", (env) => {
  test("the submitted job first, then each change once and in order, then the end (worker in another process)", async () => {
    const q = await env.queue();
    const w = recordStatuses(() => env.api.submitAndWatch({ queue: q, input: { n: 1 }, tenant: "acme" }), q);
    const [first] = await w.waitItems(1);
    expect(first).toMatchObject({ queue: q, state: "QUEUED", queuePosition: 0, attempt: 0, progress: 0 });
    expect(first!.id.startsWith(`${q}-`)).toBe(true);

    await runWithProgress(await fetchOne(env.worker, q));
    const { error, items } = await w.waitEnd();
    expect(error).toBeUndefined();
    expect(items.map(summary)).toEqual([
      { state: "QUEUED", progress: 0, attempt: 0 },
      { state: "RUNNING", progress: 0, attempt: 1 },
      { state: "RUNNING", progress: 0.5, attempt: 1 },
      { state: "COMPLETED", progress: 1, attempt: 1 },
    ]);
    expect(items.every((s) => s.id === first!.id)).toBe(true);
    expect(items.at(-1)!.finishedAt).toBeDefined();
    expect((await env.api.getResult(first!.id)).output).toEqual({ done: first!.id });
  });

  test("a worker of the same engine that is already waiting takes it as Submit answers: the same sequence", async () => {
    const q = await env.queue();
    for (let round = 0; round < 5; round++) {
      const taking = fetchOne(env.api, q);
      const w = recordStatuses(() => env.api.submitAndWatch({ queue: q, input: round }), q);
      await runWithProgress(await taking);
      const { error, items } = await w.waitEnd();
      expect(error).toBeUndefined();
      expect(phases(items), JSON.stringify(items.map(summary))).toEqual(["QUEUED", "RUNNING", "COMPLETED"]);
      expect(items[0]).toMatchObject({ state: "QUEUED", queuePosition: 0 });
      expectNoRepeats(items);
      expect(items.at(-1)).toMatchObject({ state: "COMPLETED", attempt: 1, progress: 1 });
    }
  });

  test("with includeLogs the lines arrive on the stream; without it, none", async () => {
    const q = await env.queue();
    const withLogs = recordStatuses(
      () => env.api.submitAndWatch({ queue: q, input: 1 }, { includeLogs: true }),
      "with logs",
    );
    const without = recordStatuses(() => env.api.submitAndWatch({ queue: q, input: 2 }), "without logs");
    await withLogs.waitItems(1);
    await without.waitItems(1);
    for (let i = 0; i < 2; i++) {
      const lease = await fetchOne(env.worker, q);
      expect(await lease.begin()).toBe(true);
      lease.log("info", `line of ${lease.id}`);
      expect(await lease.complete(null)).toBe(true);
    }
    const a = await withLogs.waitEnd();
    const b = await without.waitEnd();
    expect(a.error).toBeUndefined();
    expect(b.error).toBeUndefined();
    const id = a.items[0]!.id;
    expect(a.items.at(-1)!.logs?.map((l) => l.message)).toEqual([`line of ${id}`]);
    expect(b.items.every((s) => s.logs === undefined || s.logs.length === 0)).toBe(true);
    expect(phases(a.items)).toEqual(["QUEUED", "RUNNING", "COMPLETED"]);
  });

  test("a bad or unknown queue fails at the first next() with submit's error, and nothing is enqueued", async () => {
    const q = await env.queue();
    await expectEngineError(
      async () => {
        for await (const _ of env.api.submitAndWatch({ queue: "Bad.Queue", input: 1 })) throw new Error("got a status");
      },
      "invalid_argument",
      /queue/,
    );
    await expectEngineError(
      async () => {
        for await (const _ of env.api.submitAndWatch({ queue: `${q}-nobody`, input: 1 }))
          throw new Error("got a status");
      },
      "not_found",
      new RegExp(`${q}-nobody`),
    );
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("with an idempotency key a repeat streams the original job: while queued, and once finished", async () => {
    const q = await env.queue();
    const input = { queue: q, input: { keyed: true }, idempotencyKey: "one-call", tenant: "acme" };
    const a = recordStatuses(() => env.api.submitAndWatch(input), "first call");
    const [first] = await a.waitItems(1);
    const b = recordStatuses(() => env.api.submitAndWatch(input), "repeat while queued");
    const [again] = await b.waitItems(1);
    expect(again).toMatchObject({ id: first!.id, state: "QUEUED" });

    await runWithProgress(await fetchOne(env.worker, q));
    for (const w of [a, b]) {
      const { error, items } = await w.waitEnd();
      expect(error).toBeUndefined();
      expect(items.at(-1)).toMatchObject({ id: first!.id, state: "COMPLETED" });
      expectNoRepeats(items);
    }
    const late: JobStatus[] = [];
    for await (const s of env.api.submitAndWatch(input)) late.push(s);
    expect(late.map((s) => [s.id, s.state])).toEqual([[first!.id, "COMPLETED"]]);
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("a cancel ends it CANCELLED; an aborted signal ends it quietly and leaves the job queued", async () => {
    const q = await env.queue();
    const cancelled = recordStatuses(() => env.api.submitAndWatch({ queue: q, input: 1 }), "cancelled");
    const [job] = await cancelled.waitItems(1);
    expect((await env.worker.cancel(job!.id)).removed).toBe(true);
    const c = await cancelled.waitEnd();
    expect(c.error).toBeUndefined();
    expect(phases(c.items)).toEqual(["QUEUED", "CANCELLED"]);
    expect(c.items.at(-1)!.error?.code).toBe("CANCELLED");

    const abort = new AbortController();
    const left = recordStatuses(
      () => env.api.submitAndWatch({ queue: q, input: 2 }, { signal: abort.signal }),
      "aborted",
    );
    const [waiting] = await left.waitItems(1);
    abort.abort();
    const l = await left.waitEnd();
    expect(l.error).toBeUndefined();
    expect(l.items.map((s) => s.state)).toEqual(["QUEUED"]);
    expect((await env.api.getStatus(waiting!.id)).state).toBe("QUEUED");
  });
});
