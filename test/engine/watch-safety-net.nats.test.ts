/**
 * The NATS engine's safety net for watches (src/engine/nats/watch-safety-net.ts): core
 * events can be lost, so a watch must learn of a change without its event;
 * and QUEUED watches, which a queue snapshot proves untouched, must not cost
 * requests of their own every round (10,000 of them cost 20,000 requests a
 * round before).
 */
import { setMaxListeners } from "node:events";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { parseJobId } from "../../src/engine/job-id.js";
import { JOBS_BUCKET, streamName } from "../../src/engine/nats/layout.js";
import { createRecordStore } from "../../src/engine/nats/records.js";
import type { Engine, JobStatus } from "../../src/engine/types.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";
import { connections, eventually } from "./nats-monitor.nats.js";

const fixture = useNatsEngines();
const open = (name?: string) => fixture.open(name);
let raw: NatsConnection;

beforeAll(async () => {
  raw = await connect({ servers: fixture.nats.url, name: "test-raw" });
});
afterAll(async () => {
  await raw?.close();
});

/** Messages the server received from the connection named `name` (its requests and publishes). */
async function messagesFrom(name: string): Promise<number> {
  const conn = (await connections(fixture.nats.monitorUrl)).find((c) => c.name === name);
  if (!conn) throw new Error(`connection ${name} not in /connz`);
  return conn.in_msgs;
}

function collect(engine: Engine, id: string, signal?: AbortSignal) {
  const items: JobStatus[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const s of engine.watch(id, signal ? { signal } : {})) items.push(s);
    } catch (err) {
      error = err;
    }
  })();
  return { items, done, error: () => error };
}

test("a cancel whose event was never published (its process died) still ends the watch with CANCELLED", async () => {
  const api = await open();
  const q = uniqueQueue("lost");
  await api.declareQueue(q);
  const ahead = await api.submit({ queue: q, input: 0 });
  const job = await api.submit({ queue: q, input: 1 });
  const w = collect(api, job.id);
  await eventually(async () => expect(w.items.length).toBe(1));
  expect(w.items[0]).toMatchObject({ state: "QUEUED", queuePosition: 1 });

  // What cancel.ts does, minus the event: the CANCELLED record, then the message goes.
  const js = jetstream(raw);
  const records = createRecordStore(await new Kvm(js).open(JOBS_BUCKET));
  const finishedAt = Date.now();
  const revision = await records.write(
    job.id,
    {
      state: "CANCELLED",
      queue: q,
      tenant: "",
      createdAt: job.createdAt,
      attempt: 0,
      progress: 0,
      finishedAt,
      error: { code: "CANCELLED", message: "cancelled by a process that died before announcing it" },
    },
    0,
  );
  expect(revision).toBeGreaterThan(0);
  const jsm = await jetstreamManager(raw);
  expect(await jsm.streams.deleteMessage(streamName(q), parseJobId(job.id).seq, false)).toBe(true);

  // The next position refresh finds the message gone, and a derivation reads the record.
  await Promise.race([
    w.done,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`watch still open: ${JSON.stringify(w.items)}`)), 5_000),
    ),
  ]);
  expect(w.error()).toBeUndefined();
  expect(w.items.map((s) => s.state)).toEqual(["QUEUED", "CANCELLED"]);
  expect(w.items[1]).toMatchObject({ finishedAt, error: { code: "CANCELLED" } });
  expect((await api.cancel(ahead.id)).removed).toBe(true);
});

test("a safety-net round costs no request per QUEUED watch and one per RUNNING job, however many watch it; positions still move", async () => {
  const name = `jetq-net-${Date.now()}`;
  const api = await open(name);
  const worker = await open();
  const q = uniqueQueue("net");
  await api.declareQueue(q);
  const jobs = await Promise.all(Array.from({ length: 300 }, (_, i) => api.submit({ queue: q, input: i })));
  jobs.sort((a, b) => a.queuePosition! - b.queuePosition!);
  // One job running (no events while it runs), watched 200 times.
  const rq = uniqueQueue("run");
  await api.declareQueue(rq);
  const running = await api.submit({ queue: rq, input: "long" });
  const [lease] = await worker.fetch(rq, { max: 1, expiresMs: 5_000 });
  expect(lease?.id).toBe(running.id);
  expect(await lease!.begin()).toBe(true);
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const watches = jobs.map((j) => collect(api, j.id, abort.signal));
  const viewers = Array.from({ length: 200 }, () => collect(api, running.id, abort.signal));
  try {
    await eventually(async () => expect([...watches, ...viewers].every((w) => w.items.length >= 1)).toBe(true), 10_000);
    // A viewer opened before this process heard of the begin() may start at
    // QUEUED (snapshot cached from the submit); the next refresh corrects it.
    await eventually(
      async () => expect(viewers.every((v) => v.items[v.items.length - 1]!.state === "RUNNING")).toBe(true),
      5_000,
    );
    // Rounds come every 10 s (engine.ts); a watch derived in the last 5 s is
    // skipped anyway, so measure from when the opening burst is that old.
    await new Promise((r) => setTimeout(r, 5_000));
    const before = await messagesFrom(name);
    const start = Date.now();
    // 11 s hold a safety-net round whatever the phase of the engine's timer.
    await new Promise((r) => setTimeout(r, 11_000));
    const sent = (await messagesFrom(name)) - before;
    const seconds = (Date.now() - start) / 1_000;
    // Position refreshes: consumer info + stream info per second for the one
    // queue, and one derivation of the running job per round. A round that
    // re-derived each watch would add 1-2 requests per watch (500 watches).
    expect(sent, `${sent} messages in ${seconds.toFixed(1)} s`).toBeLessThan(4 * seconds + 20);

    // Positions still move: cancel the head, everyone moves up by one.
    expect((await api.cancel(jobs[0]!.id)).removed).toBe(true);
    await eventually(
      async () =>
        expect(watches.slice(1).map((w) => w.items[w.items.length - 1]?.queuePosition)).toEqual(
          jobs.slice(1).map((_, i) => i),
        ),
      10_000,
    );
    // The running job's watches still end with it.
    expect(await lease!.complete("done")).toBe(true);
    await Promise.all(viewers.map((v) => v.done));
    expect(viewers.every((v) => v.items[v.items.length - 1]?.state === "COMPLETED")).toBe(true);
  } finally {
    abort.abort();
  }
  for (const w of [...watches, ...viewers]) await w.done;
  expect([...watches, ...viewers].every((w) => w.error() === undefined)).toBe(true);
}, 60_000);
