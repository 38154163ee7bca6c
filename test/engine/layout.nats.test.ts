/**
 * The NATS layout of docs/ARCHITECTURE.md §5, as the server itself reports it:
 * stream per queue, the `workers` consumer, the buckets, and which durable
 * writes a job costs.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import type { Engine } from "../../src/engine/types.js";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { eventually, stream, streams } from "./nats-monitor.nats.js";

const RETENTION_MS = 60 * 60 * 1000;
const NS = 1_000_000;
let nats: NatsServer;
let engine: Engine;

beforeAll(async () => {
  nats = await startNatsServer();
  engine = await createNatsEngine({ servers: nats.url, retentionMs: RETENTION_MS });
});
afterAll(async () => {
  await engine?.close();
  await nats?.stop();
});

test("declareQueue: stream JETQ_Q_<queue> on jetq.q.<queue>, WorkQueue, durable pull consumer `workers`", async () => {
  const q = uniqueQueue("lay");
  await engine.declareQueue(q, { ackWaitMs: 7_000, maxAttempts: 3 });
  const s = await stream(nats.monitorUrl, `JETQ_Q_${q}`);
  expect(s.config.subjects).toEqual([`jetq.q.${q}`]);
  expect(s.config.retention).toBe("workqueue");
  expect(s.config.storage).toBe("file");
  expect(s.config.allow_direct).toBe(true);
  expect(s.consumer_detail?.map((c) => c.name)).toEqual(["workers"]);
  const c = s.consumer_detail![0]!.config;
  expect(c).toMatchObject({ durable_name: "workers", ack_policy: "explicit", ack_wait: 7_000 * NS, max_deliver: -1 });
  expect(c.max_ack_pending).toBeGreaterThanOrEqual(10_000);

  // idempotent, and a new ackWait updates the consumer in place
  await engine.declareQueue(q, { ackWaitMs: 9_000 });
  const again = await stream(nats.monitorUrl, `JETQ_Q_${q}`);
  expect(again.consumer_detail?.map((x) => x.name)).toEqual(["workers"]);
  expect(again.consumer_detail![0]!.config.ack_wait).toBe(9_000 * NS);
});

test("shared buckets: jetq_jobs (history 1, max_age = retention), jetq_queues, stream JETQ_LOGS", async () => {
  const all = await streams(nats.monitorUrl);
  const jobs = all.find((s) => s.name === "KV_jetq_jobs");
  expect(jobs?.config).toMatchObject({ max_msgs_per_subject: 1, max_age: RETENTION_MS * NS });
  expect(all.find((s) => s.name === "KV_jetq_queues")).toBeDefined();
  const logs = all.find((s) => s.name === "JETQ_LOGS");
  expect(logs?.config).toMatchObject({ subjects: ["jetq.logs.>"], max_age: RETENTION_MS * NS });
});

test("durable writes of a job: the message while QUEUED, its record from begin on (RUNNING, then terminal under the same key), nothing else", async () => {
  const q = uniqueQueue("cost");
  await engine.declareQueue(q);
  const recordsBefore = (await stream(nats.monitorUrl, "KV_jetq_jobs")).state.messages;
  const { id } = await engine.submit({ queue: q, input: { n: 1 } });
  expect((await stream(nats.monitorUrl, `JETQ_Q_${q}`)).state.messages).toBe(1);

  const [lease] = await engine.fetch(q, { max: 1, expiresMs: 2_000 });
  expect(lease?.id).toBe(id);
  expect(await lease!.begin()).toBe(true);
  lease!.progress(0.5);
  expect((await engine.getStatus(id)).state).toBe("RUNNING");
  // The RUNNING record says durably that the attempt began (a crash after it is a lost lease); progress is core messages
  expect((await stream(nats.monitorUrl, "KV_jetq_jobs")).state.messages).toBe(recordsBefore + 1);

  expect(await lease!.complete({ ok: true })).toBe(true);
  await eventually(async () => {
    expect((await stream(nats.monitorUrl, `JETQ_Q_${q}`)).state.messages).toBe(0);
  });
  expect((await stream(nats.monitorUrl, "KV_jetq_jobs")).state.messages).toBe(recordsBefore + 1);
  expect(await engine.getResult(id)).toEqual({ id, state: "COMPLETED", output: { ok: true } });
});

test("queue defaults live in jetq_queues, so a worker in another process applies them", async () => {
  const q = uniqueQueue("cfg");
  await engine.declareQueue(q, { maxAttempts: 2, backoffBaseMs: 10, backoffMaxMs: 10 });
  const other = await createNatsEngine({ servers: nats.url });
  try {
    const { id } = await engine.submit({ queue: q, input: 1 });
    const [first] = await other.fetch(q, { max: 1, expiresMs: 2_000 });
    expect(await first!.begin()).toBe(true);
    expect(await first!.fail({ code: "X", message: "first" })).toBe(true);
    // maxAttempts 2 (declared by the other engine): this was a retry, not the end
    expect((await engine.getStatus(id)).state).toBe("QUEUED");
    const second = await eventually(async () => {
      const [l] = await other.fetch(q, { max: 1, expiresMs: 1_000 });
      if (!l) throw new Error("not redelivered yet");
      return l;
    });
    expect(second.attempt).toBe(2);
    expect(await second.begin()).toBe(true);
    expect(await second.fail({ code: "X", message: "second" })).toBe(true);
    expect(await engine.getStatus(id)).toMatchObject({
      state: "FAILED",
      attempt: 2,
      error: { code: "X", message: "second" },
    });
  } finally {
    await other.close();
  }
});

test("an input over max_payload goes through the object store; over 16 MiB is RESOURCE_EXHAUSTED naming size and limit", async () => {
  const q = uniqueQueue("big");
  await engine.declareQueue(q);
  const big = "y".repeat(2 * 1024 * 1024);
  const { id } = await engine.submit({ queue: q, input: big });
  const [lease] = await engine.fetch(q, { max: 1, expiresMs: 2_000 });
  expect(lease?.id).toBe(id);
  expect(lease!.input).toBe(big);
  expect(await lease!.begin()).toBe(true);
  expect(await lease!.complete(big)).toBe(true);
  expect((await engine.getResult(id)).output).toBe(big);
  expect((await streams(nats.monitorUrl)).some((s) => s.name === "OBJ_jetq_blobs")).toBe(true);

  const huge = "z".repeat(17 * 1024 * 1024);
  await expect(engine.submit({ queue: q, input: huge })).rejects.toMatchObject({
    code: "resource_exhausted",
    message: expect.stringMatching(/17825794 bytes.*16777216 bytes/),
  });
});

async function apiCalls(monitorUrl: string): Promise<number> {
  const res = await fetch(`${monitorUrl}/jsz`);
  return ((await res.json()) as { api: { total: number } }).api.total;
}

test("50 concurrent submits get exact distinct positions and share queue snapshots (far fewer than one API call each)", async () => {
  const q = uniqueQueue("lean");
  await engine.declareQueue(q);
  const before = await apiCalls(nats.monitorUrl);
  const jobs = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.submit({ queue: q, input: i })));
  const submitCalls = (await apiCalls(nats.monitorUrl)) - before;
  // positions follow the stream order, exactly
  const bySeq = [...jobs].sort((a, b) => a.id.localeCompare(b.id));
  expect(bySeq.map((j) => j.queuePosition)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(submitCalls).toBeLessThan(50);

  // status reads of many queued jobs share the cached snapshot too
  const readsBefore = await apiCalls(nats.monitorUrl);
  const statuses = await Promise.all(jobs.map((j) => engine.getStatus(j.id)));
  expect(statuses.map((s) => s.state)).toEqual(jobs.map(() => "QUEUED"));
  expect((await apiCalls(nats.monitorUrl)) - readsBefore).toBeLessThan(10);
});
