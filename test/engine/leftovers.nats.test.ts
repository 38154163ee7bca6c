/**
 * Leftovers of a nats-server kill and restart: messages of settled,
 * acknowledged jobs back in the work-queue stream below the consumer's ack
 * floor (src/engine/nats/leftovers.ts). The store is made to hold them the
 * way a restart left them: the stream's message files from before the jobs
 * ran, the consumer's state from after. A worker declaring the queue, and an
 * engine that reconnects to the restarted server, remove them; the jobs stay
 * COMPLETED and never run again.
 */
import { cp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { CONSUMER, streamName } from "../../src/engine/nats/layout.js";
import type { Engine } from "../../src/engine/types.js";
import { fetchFor, waitFor, waitForState } from "../conformance/harness.js";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";

const JOBS = 6;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function server(): Promise<NatsServer> {
  const nats = await startNatsServer();
  cleanups.push(() => nats.stop());
  return nats;
}

async function engineOn(nats: NatsServer): Promise<Engine> {
  const engine = await createNatsEngine({ servers: nats.url });
  cleanups.push(() => engine.close());
  return engine;
}

/** The directory of the stream's message files in the server's store (the stream of a priority level). */
async function msgsDir(nats: NatsServer, queue: string, priority = 5): Promise<string> {
  const accounts = join(nats.storeDir, "js", "jetstream");
  for (const account of await readdir(accounts)) {
    const dir = join(accounts, account, "streams", streamName(queue, priority), "msgs");
    if (
      await readdir(dir).then(
        () => true,
        () => false,
      )
    )
      return dir;
  }
  throw new Error(`no store of ${streamName(queue, priority)} under ${accounts}`);
}

/** Stream messages and consumer ack floor, read on a connection of the test's own. */
async function streamState(nats: NatsServer, queue: string, priority = 5) {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const [si, ci] = await Promise.all([
      jsm.streams.info(streamName(queue, priority)),
      jsm.consumers.info(streamName(queue, priority), CONSUMER),
    ]);
    return { messages: si.state.messages, ackFloor: ci.ack_floor.stream_seq };
  } finally {
    await nc.close();
  }
}

/** Submits JOBS jobs (of `priority`), keeps a copy of the stream's files, runs them to COMPLETED. */
async function completedJobs(nats: NatsServer, engine: Engine, queue: string, priority = 5) {
  await engine.declareQueue(queue, { ackWaitMs: 5_000 });
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) ids.push((await engine.submit({ queue, input: i, options: { priority } })).id);
  const before = join(nats.storeDir, `before-${queue}`);
  await cp(await msgsDir(nats, queue, priority), before, { recursive: true });
  let done = 0;
  while (done < JOBS) {
    for (const lease of await fetchFor(engine, queue, 500)) {
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete("ran")).toBe(true);
      done++;
    }
  }
  await waitFor(async () => (await streamState(nats, queue, priority)).messages === 0, { what: "the queue to empty" });
  return { ids, before };
}

/** kill -9, the stream's files as they were before the jobs ran, restart. */
async function restartWithLeftovers(nats: NatsServer, queue: string, before: string, priority = 5) {
  const dir = await msgsDir(nats, queue, priority);
  await nats.kill();
  await rm(dir, { recursive: true, force: true });
  await cp(before, dir, { recursive: true });
  await nats.restart();
}

/**
 * Fetches until the stream is empty, counting leases that began. Messages
 * below the ack floor on disk must be swept; those above it (acks the kill
 * kept off the disk) are redelivered and dropped by their terminal records.
 */
async function drain(nats: NatsServer, engine: Engine, queue: string, priority = 5): Promise<number> {
  let begun = 0;
  await waitFor(
    async () => {
      for (const lease of await fetchFor(engine, queue, 500).catch(() => [])) if (await lease.begin()) begun++;
      return (await streamState(nats, queue, priority).catch(() => undefined))?.messages === 0;
    },
    { timeoutMs: 25_000, what: "the queue to be empty after the restart" },
  );
  return begun;
}

test("after a kill and restart, a worker declaring the queue removes messages of finished jobs below the ack floor; nothing runs again", async () => {
  const nats = await server();
  const queue = uniqueQueue("left");
  const first = await engineOn(nats);
  const { ids, before } = await completedJobs(nats, first, queue);
  await first.close();
  await restartWithLeftovers(nats, queue, before);
  const left = await waitFor(async () => streamState(nats, queue).catch(() => undefined), {
    what: "the restarted stream",
  });
  // All the messages are back; those at or below the ack floor the kill left
  // on disk can only leave by a sweep (the consumer never delivers them again).
  expect(left!.messages).toBe(JOBS);
  expect(left!.ackFloor).toBeGreaterThan(0);

  const worker = await engineOn(nats);
  await worker.declareQueue(queue, { ackWaitMs: 5_000 });
  const begun = await drain(nats, worker, queue);
  expect(begun).toBe(0);
  for (const id of ids) expect((await waitForState(worker, id, "COMPLETED")).attempt).toBe(1);
  expect(await worker.queueCount(queue)).toEqual({ queue, inQueue: 0, running: 0 });
  console.log(
    `[leftovers] ${JOBS} acknowledged messages back after the restart, ${left!.ackFloor} below the ack floor; the queue emptied, nothing ran`,
  );
});

test("an engine connected through the kill and restart ends with an empty queue, nothing run again", async () => {
  const nats = await server();
  const queue = uniqueQueue("left");
  const engine = await engineOn(nats);
  const { ids, before } = await completedJobs(nats, engine, queue);
  await restartWithLeftovers(nats, queue, before);
  const begun = await drain(nats, engine, queue);
  expect(begun).toBe(0);
  for (const id of ids) expect((await waitForState(engine, id, "COMPLETED")).attempt).toBe(1);
});

test("the same for a priority level's stream: a worker declaring the queue sweeps JETQ_Q_<queue>_P<n> too", async () => {
  const nats = await server();
  const queue = uniqueQueue("left");
  const first = await engineOn(nats);
  const { ids, before } = await completedJobs(nats, first, queue, 8);
  await first.close();
  await restartWithLeftovers(nats, queue, before, 8);
  const left = await waitFor(async () => streamState(nats, queue, 8).catch(() => undefined), {
    what: "the restarted level stream",
  });
  expect(left!.messages).toBe(JOBS);
  expect(left!.ackFloor).toBeGreaterThan(0);
  const worker = await engineOn(nats);
  await worker.declareQueue(queue, { ackWaitMs: 5_000 });
  expect(await drain(nats, worker, queue, 8)).toBe(0);
  for (const id of ids) expect((await waitForState(worker, id, "COMPLETED")).attempt).toBe(1);
  expect(await worker.queueCount(queue)).toEqual({ queue, inQueue: 0, running: 0 });
});
