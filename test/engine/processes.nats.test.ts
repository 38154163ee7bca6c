/**
 * What the JetStream engine promises beyond the shared contract: one event
 * subscription for any number of watches, ids that cannot be guessed, state
 * any process can read, and UNAVAILABLE (never a hang) while NATS is down.
 */
import { expect, test } from "vitest";
import { EngineError } from "../../src/engine/errors.js";
import { formatJobId, newToken, parseJobId } from "../../src/engine/job-id.js";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import type { JobStatus } from "../../src/engine/types.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { connections, eventually } from "./nats-monitor.nats.js";

const fixture = useNatsEngines();
const open = (name?: string) => fixture.open(name);

async function collect(it: AsyncIterable<JobStatus>, sink: JobStatus[]): Promise<void> {
  for await (const s of it) sink.push(s);
}

test("100 watches on 10 jobs share ONE subscription on jetq.ev.> (the server's /connz says so)", async () => {
  const name = `jetq-fanout-${Date.now()}`;
  const api = await open(name);
  const worker = await open();
  const q = uniqueQueue("fan");
  await worker.declareQueue(q);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push((await api.submit({ queue: q, input: i })).id);
  const seen = Array.from({ length: 100 }, () => [] as JobStatus[]);
  const ends = seen.map((sink, i) => collect(api.watch(ids[i % 10]!), sink));
  await eventually(async () => {
    expect(seen.every((s) => s.length >= 1)).toBe(true);
  });
  expect(api.stats()).toEqual({ eventSubscriptions: 1, openWatches: 100 });
  const conn = (await connections(fixture.nats.monitorUrl)).find((c) => c.name === name);
  const subs = conn?.subscriptions_list ?? [];
  expect(subs.filter((s) => s.startsWith("jetq.ev."))).toEqual(["jetq.ev.>"]);
  // jetq.ev.>, the request inbox, jetq.levels.> (priority levels), JETQ_DELAYED's ordered consumer; nothing per watch
  expect(subs.length).toBeLessThanOrEqual(4);

  const leases = await worker.fetch(q, { max: 10, expiresMs: 2_000 });
  expect(leases).toHaveLength(10);
  for (const l of leases) {
    expect(await l.begin()).toBe(true);
    expect(await l.complete(l.input)).toBe(true);
  }
  await Promise.all(ends);
  for (const s of seen) expect(s.map((x) => x.state)).toEqual(["QUEUED", "RUNNING", "COMPLETED"]);
  expect(api.stats()).toEqual({ eventSubscriptions: 1, openWatches: 0 });
});

test("an id with the right queue and seq but a guessed token is NOT_FOUND, queued or finished", async () => {
  const engine = await open();
  const q = uniqueQueue("tok");
  await engine.declareQueue(q);
  const { id } = await engine.submit({ queue: q, input: 1 });
  const guess = formatJobId({ ...parseJobId(id), token: newToken() });
  await expect(engine.getStatus(guess)).rejects.toMatchObject({ code: "not_found" });
  await expect(engine.cancel(guess)).rejects.toMatchObject({ code: "not_found" });
  const [lease] = await engine.fetch(q, { max: 1, expiresMs: 2_000 });
  expect(await lease!.begin()).toBe(true);
  await expect(engine.getStatus(guess)).rejects.toMatchObject({ code: "not_found" });
  expect(await lease!.complete(2)).toBe(true);
  await expect(engine.getResult(guess)).rejects.toMatchObject({ code: "not_found" });
  expect((await engine.getResult(id)).output).toBe(2);
});

test("what the submitting process answers from memory equals what a fresh process reads from NATS", async () => {
  const q = uniqueQueue("mem");
  const a = await open();
  await a.declareQueue(q, { maxAttempts: 2, backoffBaseMs: 10, backoffMaxMs: 10 });
  const done = await a.submit({ queue: q, input: "done", tenant: "t1" });
  const failed = await a.submit({ queue: q, input: "failed" });
  const cancelled = await a.submit({ queue: q, input: "cancelled" });
  expect((await a.cancel(cancelled.id)).removed).toBe(true);

  const [l1] = await a.fetch(q, { max: 1, expiresMs: 2_000 });
  expect(l1!.id).toBe(done.id);
  expect(await l1!.begin()).toBe(true);
  l1!.progress(0.5);
  expect(await l1!.complete({ ok: 1 })).toBe(true);
  // failed: a retry, then the last attempt fails
  for (let attempt = 1; attempt <= 2; attempt++) {
    let lease;
    for (let i = 0; i < 20 && !lease; i++) [lease] = await a.fetch(q, { max: 1, expiresMs: 1_000 });
    expect(lease!.id).toBe(failed.id);
    expect(lease!.attempt).toBe(attempt);
    expect(await lease!.begin()).toBe(true);
    expect(await lease!.fail({ code: "E", message: `attempt ${attempt}` })).toBe(true);
  }
  const queued = await a.submit({ queue: q, input: "queued" });

  const b = await open();
  for (const id of [done.id, failed.id, cancelled.id, queued.id]) {
    const mine = await a.getStatus(id);
    expect(mine).toEqual(await b.getStatus(id));
  }
  expect((await a.getStatus(done.id)).state).toBe("COMPLETED");
  expect((await a.getStatus(failed.id)).error).toEqual({ code: "E", message: "attempt 2" });
  expect((await a.getStatus(queued.id)).queuePosition).toBe(0);
  await expect(a.getStatus(done.id, { tenant: "t2" })).rejects.toMatchObject({ code: "not_found" });
  expect((await a.getStatus(done.id, { tenant: "t1" })).state).toBe("COMPLETED");
});

test("a job's state survives its submitting process: another engine sees position, runs it, a third reads the result", async () => {
  const q = uniqueQueue("proc");
  const a = await open();
  await a.declareQueue(q, { maxAttempts: 1 });
  const first = await a.submit({ queue: q, input: "one" });
  const second = await a.submit({ queue: q, input: "two", tenant: "t1" });
  expect(second.queuePosition).toBe(1);
  await a.close();

  const b = await open();
  expect(await b.getStatus(second.id)).toMatchObject({
    state: "QUEUED",
    queuePosition: 1,
    createdAt: second.createdAt,
  });
  await expect(b.getStatus(second.id, { tenant: "t2" })).rejects.toMatchObject({ code: "not_found" });
  const [lease] = await b.fetch(q, { max: 1, expiresMs: 2_000 });
  expect(lease!.id).toBe(first.id);
  expect((await b.getStatus(second.id)).queuePosition).toBe(0);
  expect(await lease!.begin()).toBe(true);
  expect(await lease!.complete("done")).toBe(true);
  await b.close();

  const c = await open();
  expect(await c.getResult(first.id)).toEqual({ id: first.id, state: "COMPLETED", output: "done" });
  expect((await c.cancel(second.id, { tenant: "t1" })).removed).toBe(true);
  expect(await c.queueCount(q)).toEqual({ queue: q, inQueue: 0, running: 0 });
});

test("with nats-server killed, calls fail UNAVAILABLE within the request timeout, and work again after it restarts", async () => {
  const own = await startNatsServer();
  const engine = await createNatsEngine({ servers: own.url, requestTimeoutMs: 500 });
  try {
    const q = uniqueQueue("down");
    await engine.declareQueue(q);
    const { id } = await engine.submit({ queue: q, input: 1 });
    await own.kill();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["submit", () => engine.submit({ queue: uniqueQueue("down"), input: 1 })],
      ["getStatus", () => engine.getStatus(formatJobId({ ...parseJobId(id), seq: 99 }))],
      ["queueCount", () => engine.queueCount(uniqueQueue("down"))],
      ["cancel", () => engine.cancel(formatJobId({ ...parseJobId(id), seq: 98 }))],
    ];
    for (const [name, call] of calls) {
      const started = Date.now();
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(EngineError);
      expect((err as EngineError).code, `${name}: ${String(err)}`).toBe("unavailable");
      expect((err as EngineError).message, name).toMatch(/NATS unreachable.*retry/);
      expect(Date.now() - started, name).toBeLessThan(3_000);
    }
    await own.restart();
    // reconnects by itself; the job survived in the file store
    const status = await eventually(() => engine.getStatus(id), 10_000);
    expect(status).toMatchObject({ state: "QUEUED", queuePosition: 0 });
  } finally {
    await engine.close();
    await own.stop();
  }
});
