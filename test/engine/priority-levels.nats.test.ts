/**
 * Priority levels on JetStream (src/engine/nats/priority-levels.ts), as the
 * server reports them: a stream `JETQ_Q_<queue>_P<n>` and its `workers`
 * consumer per priority in use, made by the first Submit of that priority
 * from any process; declares reach their consumers; a cancel deletes the
 * message from the level's stream; a worker waiting on a queue's other
 * levels takes a job of a level made meanwhile by another process at once;
 * and a queue that only ever sees priority 5 asks NATS nothing more per job.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import type { Engine } from "../../src/engine/types.js";
import { fetchOne, waitFor, waitForCount, waitForState } from "../conformance/harness.js";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { stream, streams } from "./nats-monitor.nats.js";

const NS = 1_000_000;
let nats: NatsServer;
let api: Engine;
let worker: Engine;

beforeAll(async () => {
  nats = await startNatsServer();
  api = await createNatsEngine({ servers: nats.url });
  worker = await createNatsEngine({ servers: nats.url });
});
afterAll(async () => {
  await api?.close();
  await worker?.close();
  await nats?.stop();
});

const levelStreams = async (q: string) =>
  (await streams(nats.monitorUrl)).filter((s) => s.name.startsWith(`JETQ_Q_${q}_P`)).map((s) => s.name);

test("the first job of priority 9 makes JETQ_Q_<queue>_P9 on jetq.q.<queue>.p9 with its `workers` consumer; declares reach it", async () => {
  const q = uniqueQueue("lvl");
  await worker.declareQueue(q, { ackWaitMs: 7_000 });
  await api.submit({ queue: q, input: "normal" });
  expect(await levelStreams(q)).toEqual([]);

  const high = await api.submit({ queue: q, input: "high", options: { priority: 9 } });
  expect(high.id).toMatch(new RegExp(`^${q}-9[0-9a-z]{10}-`));
  expect(await levelStreams(q)).toEqual([`JETQ_Q_${q}_P9`]);
  const s = await stream(nats.monitorUrl, `JETQ_Q_${q}_P9`);
  expect(s.config.subjects).toEqual([`jetq.q.${q}.p9`]);
  expect(s.config.retention).toBe("workqueue");
  expect(s.state.messages).toBe(1);
  expect(s.consumer_detail?.map((c) => c.name)).toEqual(["workers"]);
  expect(s.consumer_detail![0]!.config).toMatchObject({ ack_wait: 7_000 * NS, max_deliver: -1 });
  // A second job of that level, from another process: no second stream, same one.
  await worker.submit({ queue: q, input: "high again", options: { priority: 9 } });
  expect((await stream(nats.monitorUrl, `JETQ_Q_${q}_P9`)).state.messages).toBe(2);

  await worker.declareQueue(q, { ackWaitMs: 9_000 });
  const after = await stream(nats.monitorUrl, `JETQ_Q_${q}_P9`);
  expect(after.consumer_detail![0]!.config.ack_wait).toBe(9_000 * NS);
  await waitForCount(api, q, { inQueue: 3, running: 0 });
});

test("a priority job of an undeclared queue is NOT_FOUND and makes no stream", async () => {
  const q = uniqueQueue("none");
  await expect(api.submit({ queue: q, input: 1, options: { priority: 3 } })).rejects.toMatchObject({
    code: "not_found",
  });
  expect(await levelStreams(q)).toEqual([]);
});

test("cancel of a QUEUED priority job deletes its message from its level's stream", async () => {
  const q = uniqueQueue("cxl");
  await worker.declareQueue(q);
  const { id } = await api.submit({ queue: q, input: 1, options: { priority: 2 } });
  expect((await stream(nats.monitorUrl, `JETQ_Q_${q}_P2`)).state.messages).toBe(1);
  expect((await api.cancel(id)).removed).toBe(true);
  expect((await stream(nats.monitorUrl, `JETQ_Q_${q}_P2`)).state.messages).toBe(0);
  await waitForCount(api, q, { inQueue: 0, running: 0 });
});

test("a worker waiting on a queue takes a job of a level another process makes meanwhile, without waiting out its pull", async () => {
  const q = uniqueQueue("wake");
  await worker.declareQueue(q);
  // The worker learns the queue's levels (only 5), then waits long on them.
  expect(await worker.fetch(q, { max: 1, expiresMs: 0 })).toEqual([]);
  const started = Date.now();
  const waiting = worker.fetch(q, { max: 1, expiresMs: 20_000 });
  const submitted = await api.submit({ queue: q, input: "urgent", options: { priority: 10 } });
  const leases = await waitFor(
    async () => {
      const got = await Promise.race([waiting, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
      return got;
    },
    { timeoutMs: 10_000, what: "the waiting fetch to take the new level's job (its pull lasts 20 s)" },
  );
  // The fetch stopped waiting when the level appeared; the next one pulls it.
  const lease = leases[0] ?? (await fetchOne(worker, q));
  expect(lease.id).toBe(submitted.id);
  console.log(
    `[priority] a job of a level made meanwhile elsewhere reached a waiting worker in ${Date.now() - started} ms`,
  );
  expect(await lease.begin()).toBe(true);
  expect(await lease.complete("ok")).toBe(true);
  await waitForState(api, submitted.id, "COMPLETED");
});

test("a queue that only sees priority 5 asks nothing of priority streams per job", async () => {
  const q = uniqueQueue("cost");
  await worker.declareQueue(q);
  await api.submit({ queue: q, input: "warm-up" });
  (await fetchOne(worker, q)).begin().catch(() => undefined);
  const spy: NatsConnection = await connect({ servers: nats.url });
  const requests: string[] = [];
  const sub = spy.subscribe("$JS.API.>", {
    callback: (_e, m) => {
      requests.push(m.subject);
    },
  });
  await spy.flush();
  try {
    const started = Date.now();
    const jobs = 30;
    for (let i = 0; i < jobs; i++) {
      const { id } = await api.submit({ queue: q, input: i });
      const lease = await fetchOne(worker, q);
      expect(lease.id).toBe(id);
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete(i)).toBe(true);
    }
    const elapsed = Date.now() - started;
    expect(requests.filter((s) => s.includes(`JETQ_Q_${q}_P`))).toEqual([]);
    // The levels are listed at most once per cache period per process, never per job.
    const listings = requests.filter((s) => s === "$JS.API.STREAM.NAMES").length;
    expect(listings).toBeLessThanOrEqual(2 * (Math.ceil(elapsed / 2_000) + 1));
    expect(listings).toBeLessThan(jobs);
  } finally {
    sub.unsubscribe();
    await spy.close();
  }
});

test("a level stream deleted by hand is made again by the next Submit of that priority; ids of the old one are not found", async () => {
  const q = uniqueQueue("again");
  await worker.declareQueue(q);
  const old = await api.submit({ queue: q, input: "old", options: { priority: 7 } });
  const admin = await connect({ servers: nats.url });
  try {
    const { jetstreamManager } = await import("@nats-io/jetstream");
    await (await jetstreamManager(admin)).streams.delete(`JETQ_Q_${q}_P7`);
  } finally {
    await admin.close();
  }
  // Counts and positions go on without it.
  await waitForCount(api, q, { inQueue: 0, running: 0 });

  const again = await api.submit({ queue: q, input: "new", options: { priority: 7 } });
  const normal = await api.submit({ queue: q, input: "normal" });
  expect(again.id).not.toBe(old.id);
  expect([again.queuePosition, normal.queuePosition]).toEqual([0, 1]);
  // The new stream numbers from 1 again: the old id (same sequence, another token) names nothing.
  await expect(api.getStatus(old.id)).rejects.toMatchObject({ code: "not_found" });
  const lease = await fetchOne(worker, q);
  expect(lease.id).toBe(again.id);
  expect(await lease.begin()).toBe(true);
  expect(await lease.complete("ok")).toBe(true);
  expect((await fetchOne(worker, q)).id).toBe(normal.id);
});
