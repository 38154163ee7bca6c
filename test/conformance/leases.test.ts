/**
 * Leases: ack-wait expiry and redelivery, stale leases, heartbeat, release,
 * and fetch's limits.
 */
import { expect, test } from "vitest";
import type { JobLease } from "../../src/engine/types.js";
import {
  delay,
  fetchFor,
  fetchOne,
  forEachEngine,
  startWorker,
  waitFor,
  waitForCount,
  waitForState,
  waitForStatus,
} from "./harness.js";

forEachEngine("leases", (env) => {
  test("a lease not heartbeated within ackWaitMs is redelivered with attempt 2; the stale complete() resolves false", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 2 });
    const { id } = await env.api.submit({ queue: q, input: "slow" });
    const stale = await fetchOne(env.worker, q);
    expect(stale.ackWaitMs).toBe(1_000);
    expect(await stale.begin()).toBe(true);
    const leasedAt = Date.now();

    const fresh = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(Date.now() - leasedAt).toBeGreaterThanOrEqual(800);
    expect(fresh.id).toBe(id);
    expect(fresh.attempt).toBe(2);
    expect(await fresh.begin()).toBe(true);
    await waitForStatus(env.api, id, (s) => s.state === "RUNNING" && s.attempt === 2, { what: "RUNNING attempt 2" });

    expect(await fresh.complete({ by: "fresh" })).toBe(true);
    expect(await stale.complete({ by: "stale" })).toBe(false);
    expect(await stale.fail({ code: "E", message: "stale" })).toBe(false);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.attempt).toBe(2);
    expect(done.error).toBeUndefined();
    expect(await env.api.getResult(id)).toEqual({ id, state: "COMPLETED", output: { by: "fresh" } });
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("a stale lease and its redelivery completing concurrently: exactly one wins and its output is the result", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 2 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const stale = await fetchOne(env.worker, q);
    expect(await stale.begin()).toBe(true);
    const fresh = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(fresh.attempt).toBe(2);
    expect(await fresh.begin()).toBe(true);
    const [a, b] = await Promise.all([stale.complete("stale"), fresh.complete("fresh")]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    await waitForState(env.api, id, "COMPLETED");
    expect((await env.api.getResult(id)).output).toBe(a ? "stale" : "fresh");
  });

  test("a stale lease failing after the redelivery completed changes nothing", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const stale = await fetchOne(env.worker, q);
    expect(await stale.begin()).toBe(true);
    const fresh = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(await fresh.begin()).toBe(true);
    expect(await fresh.complete("ok")).toBe(true);
    expect(await stale.fail({ code: "E", message: "late failure" })).toBe(false);
    const s = await waitForState(env.api, id, "COMPLETED");
    expect(s.error).toBeUndefined();
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("a stale lease completing before its redelivery begins: exactly one outcome, and begin() agrees", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 2 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const stale = await fetchOne(env.worker, q);
    expect(await stale.begin()).toBe(true);
    const fresh = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
    expect(fresh.attempt).toBe(2);
    const staleWon = await stale.complete("stale");
    const began = await fresh.begin();
    // either the stale outcome was accepted and the redelivery must not run, or it was refused and the redelivery runs
    expect(began).toBe(!staleWon);
    if (began) expect(await fresh.complete("fresh")).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.attempt).toBe(staleWon ? 1 : 2);
    expect((await env.api.getResult(id)).output).toBe(staleWon ? "stale" : "fresh");
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("two worker processes draining one queue run every job exactly once", async () => {
    const q = await env.queue();
    const other = await env.backend.open();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await env.api.submit({ queue: q, input: i })).id);
    const handler = async (lease: JobLease) => {
      await delay(5); // overlap the two workers
      return lease.input;
    };
    const a = startWorker(env.worker, q, handler, { concurrency: 3 });
    const b = startWorker(other, q, handler, { concurrency: 3 });
    try {
      for (const id of ids) await waitForState(env.api, id, "COMPLETED");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect([...a.errors, ...b.errors]).toEqual([]);
    const begun = [...a.deliveries, ...b.deliveries].filter((d) => d.begun).map((d) => d.id);
    expect(begun.sort()).toEqual([...ids].sort());
    expect(a.oversizedFetches + b.oversizedFetches).toBe(0);
    for (const [i, id] of ids.entries()) expect((await env.api.getResult(id)).output).toBe(i);
  });

  test("with no lost leases left an expired lease ends FAILED with WORKER_LOST and is not run again", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 1, maxLostLeases: 0 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const stale = await fetchOne(env.worker, q);
    expect(await stale.begin()).toBe(true);
    // a worker keeps pulling, as a real deployment would
    const worker = startWorker(env.worker, q, () => "must not run");
    try {
      const failed = await waitForStatus(env.api, id, (s) => s.state === "FAILED", {
        timeoutMs: 6_000,
        what: "FAILED after the lease expired",
      });
      expect(failed.error?.code).toBe("WORKER_LOST");
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    expect(worker.deliveries.filter((d) => d.begun)).toEqual([]);
    expect(await stale.complete("too late")).toBe(false);
    expect((await env.api.getStatus(id)).state).toBe("FAILED");
  });

  test("heartbeat() keeps a lease past ackWaitMs", async () => {
    const q = await env.queue({ ackWaitMs: 1_000, maxAttempts: 3 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);

    const holdUntil = Date.now() + 2_600;
    const beating = (async () => {
      while (Date.now() < holdUntil) {
        await lease.heartbeat();
        await delay(250); // the heartbeat cadence of this scenario
      }
    })();
    const redelivered = await fetchFor(env.worker, q, 2_600);
    await beating;
    expect(redelivered.map((l) => l.id)).toEqual([]);
    expect(await lease.complete("held")).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.attempt).toBe(1);
    expect((await env.api.getResult(id)).output).toBe("held");
  });

  test("release() before begin hands the job back for redelivery at once, without using up an attempt", async () => {
    const q = await env.queue(); // default ackWaitMs 30 s, maxAttempts 1
    const { id } = await env.api.submit({ queue: q, input: "again" });
    const lease = await fetchOne(env.worker, q);
    const releasedAt = Date.now();
    await lease.release();
    const again = await fetchOne(env.worker, q, { timeoutMs: 3_000 });
    expect(Date.now() - releasedAt).toBeLessThan(2_500);
    expect(again.id).toBe(id);
    expect(again.input).toBe("again");
    expect(await again.begin()).toBe(true);
    expect(await again.complete("done")).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
  });

  test("release() of a running job redelivers it at once", async () => {
    const q = await env.queue({ maxAttempts: 2 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    const releasedAt = Date.now();
    await lease.release();
    const again = await fetchOne(env.worker, q, { timeoutMs: 3_000 });
    expect(Date.now() - releasedAt).toBeLessThan(2_500);
    expect(again.id).toBe(id);
    expect(await again.begin()).toBe(true);
    expect(await again.complete("second")).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    expect((await env.api.getResult(id)).output).toBe("second");
  });

  test("fetch never returns more than max, and every job is leased once", async () => {
    const q = await env.queue();
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add((await env.api.submit({ queue: q, input: i })).id);
    const leased: JobLease[] = [];
    for (const max of [1, 3, 5, 5, 5]) {
      const leases = await env.worker.fetch(q, { max, expiresMs: 1_000 });
      expect(leases.length).toBeLessThanOrEqual(max);
      leased.push(...leases);
      if (leased.length === ids.size) break;
    }
    while (leased.length < ids.size) {
      const leases = await env.worker.fetch(q, { max: 2, expiresMs: 1_000 });
      expect(leases.length).toBeLessThanOrEqual(2);
      expect(leases.length).toBeGreaterThan(0);
      leased.push(...leases);
    }
    expect(leased.map((l) => l.id).sort()).toEqual([...ids].sort());
    await waitForCount(env.api, q, { inQueue: 0, running: 12 });
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
    for (const l of leased) {
      expect(await l.begin()).toBe(true);
      expect(await l.complete(null)).toBe(true);
    }
    await waitForCount(env.api, q, { inQueue: 0, running: 0 });
  });

  test("fetch waits up to expiresMs for the first job, and returns as soon as one arrives", async () => {
    const q = await env.queue();
    const t0 = Date.now();
    expect(await env.worker.fetch(q, { max: 1, expiresMs: 400 })).toEqual([]);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(2_000);

    const t1 = Date.now();
    const pending = env.worker.fetch(q, { max: 4, expiresMs: 5_000 });
    await delay(100); // let the fetch start waiting before the job exists
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const leases = await pending;
    expect(Date.now() - t1).toBeLessThan(3_000);
    expect(leases.map((l) => l.id)).toEqual([id]);
    expect(await leases[0]!.begin()).toBe(true);
    expect(await leases[0]!.complete(null)).toBe(true);
  });

  test("fetch stops waiting when its signal is aborted", async () => {
    const q = await env.queue();
    const abort = new AbortController();
    const t0 = Date.now();
    const pending = env.worker.fetch(q, { max: 1, expiresMs: 10_000, signal: abort.signal });
    await delay(100);
    abort.abort();
    const settled = await pending.then(
      (leases) => ({ leases }),
      (error: unknown) => ({ error }),
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
    if ("leases" in settled) expect(settled.leases).toEqual([]);
    // the queue still works afterwards
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(lease.id).toBe(id);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(null)).toBe(true);
    await waitFor(async () => (await env.api.getStatus(id)).state === "COMPLETED", { what: "COMPLETED" });
  });
});
