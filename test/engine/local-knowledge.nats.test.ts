/**
 * What a process knows without asking NATS: the events it publishes reach its
 * own listeners at once (and once), a job known delivered needs no queue
 * snapshot for its position, and begin() needs no ping to rule out cancels
 * (its conditional write of the RUNNING record does). The server's /connz counts what each connection
 * sent, so "no request was made" is the server's word, not the engine's. The
 * engine's connection gets no copy of its own publishes back (noEcho).
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterEach, expect, test } from "vitest";
import { parseJobId } from "../../src/engine/job-id.js";
import { openConnection } from "../../src/engine/nats/connection.js";
import { createEventHub, type JobEvent } from "../../src/engine/nats/events.js";
import { queueSubject } from "../../src/engine/nats/layout.js";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { createQueueInfoCache } from "../../src/engine/nats/queue-info.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";
import { startNatsProxy } from "../helpers/nats-proxy.js";
import { connections, eventually } from "./nats-monitor.nats.js";

const fixture = useNatsEngines();
const opened: NatsConnection[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((nc) => nc.close()));
});

let names = 0;
async function open(): Promise<{ nc: NatsConnection; name: string }> {
  const name = `jetq-local-${process.pid}-${++names}`;
  const nc = await connect({ servers: fixture.nats.url, name });
  opened.push(nc);
  return { nc, name };
}

/** Messages the server has received from the named connection. */
async function sentBy(name: string): Promise<number> {
  const conn = (await connections(fixture.nats.monitorUrl)).find((c) => c.name === name);
  if (!conn) throw new Error(`connection ${name} not on the server`);
  return conn.in_msgs;
}

const running = (attempt: number): JobEvent => ({ type: "status", state: "RUNNING", attempt, progress: 0 });

test("an event reaches the publishing process's listeners at once and exactly once, other processes once", async () => {
  const a = await open();
  const b = await open();
  const hubA = createEventHub(a.nc);
  const hubB = createEventHub(b.nc);
  const id = `${uniqueQueue("ev")}-00000000001-AAAAAAAAAAAA`;
  const heardA: JobEvent[] = [];
  const heardB: JobEvent[] = [];
  hubA.listen(id, (e) => heardA.push(e));
  hubB.listen(id, (e) => heardB.push(e));
  await Promise.all([a.nc.flush(), b.nc.flush()]);

  hubA.publish(id, running(1));
  expect(heardA).toEqual([running(1)]); // before any round trip
  await eventually(async () => expect(heardB).toEqual([running(1)]));

  // B's event comes after A's echo on A's connection: once A hears it, the echo was dropped.
  hubB.publish(id, running(2));
  expect(heardB).toEqual([running(1), running(2)]);
  await eventually(async () => expect(heardA).toEqual([running(1), running(2)]));
  await a.nc.flush();
  expect(heardA).toEqual([running(1), running(2)]);
  expect(heardB).toEqual([running(1), running(2)]);
  hubA.close();
  hubB.close();
});

async function queueWithMessages(count: number): Promise<{ queue: string; seqs: number[] }> {
  const queue = uniqueQueue("pos");
  const engine = await fixture.open();
  await engine.declareQueue(queue);
  const { nc } = await open();
  const js = jetstream(nc);
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) seqs.push((await js.publish(queueSubject(queue), new Uint8Array(1))).seq);
  return { queue, seqs };
}

/** A queue cache on a connection of its own, and what that connection sent since. */
async function cacheOnOwnConnection() {
  const { nc, name } = await open();
  const cache = createQueueInfoCache(await jetstreamManager(nc));
  await nc.flush();
  const before = await sentBy(name);
  const sentSince = async () => {
    await nc.flush();
    return (await sentBy(name)) - before;
  };
  return { cache, sentSince };
}

test("a position waiting for its snapshot is answered 0 once the job is known delivered, and no snapshot is requested", async () => {
  const { queue, seqs } = await queueWithMessages(3);
  const { cache, sentSince } = await cacheOnOwnConnection();
  const pending = cache.positionAfterPublish(queue, seqs[2]!);
  cache.noteDelivered(queue, seqs[2]!, true);
  expect(await pending).toEqual({ position: 0, deliveredHere: true, delivered: true });
  // Known before the call: answered at once too (taken by another process's worker).
  expect(await cache.positionAfterPublish(queue, seqs[1]!)).toEqual({
    position: 0,
    deliveredHere: false,
    delivered: true,
  });
  expect(await sentSince()).toBe(0);
});

test("a delivery of an earlier job does not answer a later one: its position comes from a snapshot", async () => {
  const { queue, seqs } = await queueWithMessages(3);
  const { cache, sentSince } = await cacheOnOwnConnection();
  const pending = cache.positionAfterPublish(queue, seqs[2]!);
  // Only a claim: the consumer has delivered nothing, the snapshot says two are ahead.
  cache.noteDelivered(queue, seqs[0]!, true);
  expect(await pending).toEqual({ position: 2, deliveredHere: false, delivered: false });
  expect(await sentSince()).toBe(2); // consumer info and stream info
});

test("a delivery mark above the stream's last sequence (the stream was made again) is dropped at the next snapshot", async () => {
  const { queue, seqs } = await queueWithMessages(2);
  const { cache } = await cacheOnOwnConnection();
  cache.noteDelivered(queue, 1_000_000);
  expect((await cache.positionAfterPublish(queue, seqs[1]!)).position).toBe(0); // trusted until a snapshot says otherwise
  await cache.get(queue, cache.invalidate(queue));
  expect((await cache.positionAfterPublish(queue, seqs[1]!)).position).toBe(1);
});

/** An engine connected through a counting proxy, with a queue of its own; close() ends both. */
async function proxiedEngine(name: string, queuePrefix: string) {
  const proxy = await startNatsProxy(fixture.nats.port);
  const engine = await createNatsEngine({ servers: proxy.url, name });
  const queue = uniqueQueue(queuePrefix);
  await engine.declareQueue(queue);
  return {
    proxy,
    engine,
    queue,
    close: async () => {
      await engine.close();
      await proxy.close();
    },
  };
}

test("begin() never pings: its conditional RUNNING record rules out a cancel, and a job taken before its Submit answers writes it beside the handler", async () => {
  const { proxy, engine, queue, close } = await proxiedEngine("jetq-ping-count", "ping");
  try {
    // As the worker runtime does: begin() as soon as fetch() hands the lease over.
    const before = proxy.pings;
    for (let i = 0; i < 3; i++) {
      const taking = engine
        .fetch(queue, { max: 1, expiresMs: 5_000 })
        .then(async ([lease]) => ({ lease: lease!, began: await lease!.begin() }));
      const submitted = await engine.submit({ queue, input: i });
      const { lease, began } = await taking;
      expect(lease.id).toBe(submitted.id);
      expect(began).toBe(true);
      expect(await lease.complete(i)).toBe(true);
    }
    // The id has left the process before begin(): a cancel may have come first; the record says.
    const later = engine.fetch(queue, { max: 1, expiresMs: 5_000 });
    const second = await engine.submit({ queue, input: "later" });
    const [held] = await later;
    expect(held!.id).toBe(second.id);
    expect(await held!.begin()).toBe(true);
    expect(await held!.complete(2)).toBe(true);
    const cancelled = await engine.submit({ queue, input: "cancelled" });
    await engine.cancel(cancelled.id);
    const gone = await engine.fetch(queue, { max: 1, expiresMs: 500 });
    for (const lease of gone) expect(await lease.begin()).toBe(false);
    expect(proxy.pings - before).toBe(0);
    expect((await engine.getStatus(cancelled.id)).state).toBe("CANCELLED");
  } finally {
    await close();
  }
});

test("the engine's connection gets no copy of what it publishes, and still hears other connections", async () => {
  const own = await openConnection({
    servers: fixture.nats.url,
    name: `jetq-noecho-${process.pid}`,
    requestTimeoutMs: 5_000,
  });
  opened.push(own);
  const other = await open();
  const heard: string[] = [];
  own.subscribe("jetq.ev.>", {
    callback: (_err, msg) => {
      heard.push(msg.string());
    },
  });
  await own.flush();
  own.publish("jetq.ev.x", "own");
  await own.flush(); // a copy, if the server sent one, would have arrived before the PONG
  expect(heard).toEqual([]);
  other.nc.publish("jetq.ev.x", "other");
  await other.nc.flush();
  await eventually(async () => expect(heard).toEqual(["other"]));
  await own.flush();
  expect(heard).toEqual(["other"]);
});

test("a watch of a job this process saw finish answers from memory without registering; another tenant still gets NOT_FOUND", async () => {
  const engine = await createNatsEngine({ servers: fixture.nats.url, name: "jetq-finished-watch" });
  try {
    const queue = uniqueQueue("finished");
    await engine.declareQueue(queue);
    const submitted = await engine.submit({ queue, input: 1, tenant: "t1" });
    const [lease] = await engine.fetch(queue, { max: 1, expiresMs: 5_000 });
    expect(await lease!.begin()).toBe(true);
    expect(await lease!.complete({ ok: 1 })).toBe(true);

    const it = engine.watch(submitted.id, { tenant: "t1" })[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toMatchObject({ id: submitted.id, state: "COMPLETED" });
    // Suspended at its one yield: a registered watch would count as open here.
    expect(engine.stats().openWatches).toBe(0);
    expect((await it.next()).done).toBe(true);

    const other = engine.watch(submitted.id, { tenant: "t2" })[Symbol.asyncIterator]();
    await expect(other.next()).rejects.toMatchObject({ code: "not_found" });
  } finally {
    await engine.close();
  }
});

test("submitAndWatch starts its watch from what the engine knows of the job it submitted: it never asks NATS about the job", async () => {
  const { proxy, engine, queue, close } = await proxiedEngine("jetq-seeded-watch", "seeded");
  try {
    /**
     * How often the engine named the job to NATS while `act` ran: its
     * token, which its id and its record's key both hold. Declaring a queue after it makes requests that
     * are answered only once everything sent before them went through the
     * proxy (a QueueCount may be answered from a cache).
     */
    const askedAbout = async (id: string, act: () => Promise<void>) => {
      const sent = proxy.countFrom(parseJobId(id).token);
      await act();
      await engine.declareQueue(uniqueQueue("barrier"));
      return sent();
    };
    // Submit with no worker: the id is out, nothing about it was asked.
    const ac = new AbortController();
    const it = engine.submitAndWatch({ queue, input: 1 }, { signal: ac.signal })[Symbol.asyncIterator]();
    const first = (await it.next()).value!;
    expect(first).toMatchObject({ state: "QUEUED", queuePosition: 0 });
    const seeded = await askedAbout(first.id, async () => {
      void it.next(); // the watch starts, seeded, and waits for events
      await eventually(async () => expect(engine.stats().openWatches).toBe(1));
    });
    ac.abort();
    // An ordinary watch of the same kind of job reads its record: the count sees it.
    const { id } = await engine.submit({ queue, input: 2 });
    const derived = await askedAbout(id, async () => {
      const watch = engine.watch(id, { signal: AbortSignal.timeout(5_000) })[Symbol.asyncIterator]();
      expect((await watch.next()).value).toMatchObject({ id, state: "QUEUED" });
    });
    expect(seeded).toBe(0);
    expect(derived).toBeGreaterThan(0);
  } finally {
    await close();
  }
});
