/**
 * Queue positions and counts stay exact through cancels; a worker drains the
 * queue in submit order and never sees a cancelled job.
 */
import { expect, test } from "vitest";
import {
  fetchFor,
  fetchOne,
  forEachEngine,
  show,
  startWorker,
  waitFor,
  waitForCount,
  waitForState,
} from "./harness.js";
import type { Engine } from "../../src/engine/types.js";

async function positions(engine: Engine, ids: string[]): Promise<Array<number | undefined>> {
  const out: Array<number | undefined> = [];
  for (const id of ids) {
    const s = await engine.getStatus(id);
    out.push(s.state === "QUEUED" ? s.queuePosition : undefined);
  }
  return out;
}

/** Waits until the QUEUED jobs `ids` report positions 0..n-1 in that order. */
async function waitForPositions(engine: Engine, ids: string[], timeoutMs = 3_000): Promise<void> {
  const expected = ids.map((_, i) => i);
  let last: unknown;
  await waitFor(
    async () => {
      const p = await positions(engine, ids);
      last = p;
      return show(p) === show(expected);
    },
    { timeoutMs, what: `positions 0..${ids.length - 1}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\npositions: ${show(last)}`);
  });
}

forEachEngine("positions", (env) => {
  test("50 submits, 10 cancelled from the middle: positions 0..39 in submit order, then drained in order", async () => {
    const q = await env.queue();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const s = await env.api.submit({ queue: q, input: { i } });
      expect(s.state).toBe("QUEUED");
      expect(s.queuePosition).toBe(i);
      ids.push(s.id);
    }
    await waitForCount(env.api, q, { inQueue: 50, running: 0 });
    expect(await positions(env.api, ids)).toEqual(ids.map((_, i) => i));

    const cancelled = ids.slice(20, 30);
    const kept = [...ids.slice(0, 20), ...ids.slice(30)];
    for (const id of cancelled) {
      const outcome = await env.api.cancel(id);
      expect(outcome.removed).toBe(true);
      expect(outcome.job.id).toBe(id);
      expect(outcome.job.state).toBe("CANCELLED");
      expect(outcome.job.queuePosition).toBeUndefined();
      expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    }

    await waitForCount(env.api, q, { inQueue: 40, running: 0 });
    await waitForPositions(env.api, kept);
    for (const id of cancelled) expect((await env.api.getStatus(id)).state).toBe("CANCELLED");

    // a new submit goes to the end of the shortened queue
    const late = await env.api.submit({ queue: q, input: { late: true } });
    expect(late.queuePosition).toBe(40);
    kept.push(late.id);

    const worker = startWorker(env.worker, q, (lease) => lease.input, { concurrency: 1 });
    try {
      for (const id of kept) await waitForState(env.api, id, "COMPLETED");
      await waitFor(
        () => worker.deliveries.length >= kept.length && worker.deliveries.every((d) => d.settled !== undefined),
        {
          what: "every delivery settled",
        },
      );
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.map((d) => d.id)).toEqual(kept);
    expect(worker.deliveries.every((d) => d.begun && d.settled === true && d.attempt === 1)).toBe(true);
    for (const id of cancelled) expect((await env.api.getStatus(id)).state).toBe("CANCELLED");
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("queueCount counts leased jobs as running and positions move up as jobs are fetched", async () => {
    const q = await env.queue();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await env.api.submit({ queue: q, input: i })).id);
    await waitForCount(env.api, q, { inQueue: 5, running: 0 });

    const first = await fetchOne(env.worker, q);
    expect(first.id).toBe(ids[0]);
    await waitForCount(env.api, q, { inQueue: 4, running: 1 });
    expect(await first.begin()).toBe(true);
    await waitForCount(env.api, q, { inQueue: 4, running: 1 });
    await waitForPositions(env.api, ids.slice(1));
    expect((await env.api.getStatus(ids[0]!)).queuePosition).toBeUndefined();

    const second = await fetchOne(env.worker, q);
    expect(second.id).toBe(ids[1]);
    expect(await second.begin()).toBe(true);
    await waitForCount(env.api, q, { inQueue: 3, running: 2 });

    expect(await first.complete(null)).toBe(true);
    await waitForCount(env.api, q, { inQueue: 3, running: 1 });
    expect(await second.fail({ code: "X", message: "x" })).toBe(true);
    await waitForCount(env.api, q, { inQueue: 3, running: 0 });
    await waitForPositions(env.api, ids.slice(2));
  });

  test("cancelling the head of the queue moves everyone up by one", async () => {
    const q = await env.queue();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await env.api.submit({ queue: q, input: i })).id);
    expect((await env.api.cancel(ids[0]!)).removed).toBe(true);
    await waitForPositions(env.api, ids.slice(1));
    expect((await fetchOne(env.worker, q)).id).toBe(ids[1]);
  });

  test("100 concurrent submits get distinct positions 0..99 that follow their ids' order", async () => {
    const q = await env.queue();
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) => env.api.submit({ queue: q, input: i })));
    expect(all.map((s) => s.queuePosition).sort((a, b) => a! - b!)).toEqual(all.map((_, i) => i));
    const byPosition = [...all].sort((a, b) => a.queuePosition! - b.queuePosition!).map((s) => s.id);
    expect(byPosition).toEqual(all.map((s) => s.id).sort());
    await waitForCount(env.api, q, { inQueue: 100, running: 0 });
    await waitForPositions(env.api, byPosition);
    expect((await fetchOne(env.worker, q)).id).toBe(byPosition[0]);
  });

  for (const taker of ["worker", "api"] as const) {
    test(`a job an idle worker takes at once (fetch on the ${taker} engine): Submit answers QUEUED at position 0 and the lease is that job`, async () => {
      const q = await env.queue();
      for (let i = 0; i < 3; i++) {
        const taking = fetchOne(env[taker], q);
        const submitted = await env.api.submit({ queue: q, input: { i } });
        expect(submitted.state).toBe("QUEUED");
        expect(submitted.queuePosition).toBe(0);
        const lease = await taking;
        expect(lease.id).toBe(submitted.id);
        expect(await lease.begin()).toBe(true);
        expect(await lease.complete({ i })).toBe(true);
        await waitForState(env.api, submitted.id, "COMPLETED");
      }
      // Behind a job a worker holds, the next one is first in line again.
      const held = fetchOne(env[taker], q);
      const first = await env.api.submit({ queue: q, input: "held" });
      const lease = await held;
      const second = await env.api.submit({ queue: q, input: "next" });
      expect(lease.id).toBe(first.id);
      expect(second.queuePosition).toBe(0);
      const third = await env.api.submit({ queue: q, input: "after" });
      expect(third.queuePosition).toBe(1);
    });
  }
});
