/**
 * Raw JetStream with the client library jetq uses and none of jetq's code:
 * the ceiling any jetq design on this machine can reach.
 *   publish   async publishes, a bounded window of unacknowledged ones
 *   consume   pull consumer on a work-queue stream, ack each message
 *   minimal   the smallest job: publish, then (consumer side) kv.create of a
 *             terminal record + ack, all pipelined: two durable writes per job
 * Run as a child process by bench/run.ts (args: JSON in argv[2]).
 */
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, headers, type MsgHdrs } from "@nats-io/transport-node";
import { childArgs, reply } from "./child.js";
import { cpuMsOf } from "./cpu.js";
import { rate } from "./stats.js";

export interface RawArgs {
  servers: string;
  storage: "file" | "memory";
  /** Messages per measurement. */
  count: number;
  /** Unacknowledged publishes / unfinished jobs in flight. */
  window: number;
  warmup: number;
  /** nats-server's pid, to read its CPU time around the minimal job. */
  natsServerPid: number;
}

export interface RawResult {
  publishPerSec: number;
  consumeAckPerSec: number;
  minimalJobPerSec: number;
  /** CPU time of this (client) process per minimal job, ms. */
  minimalJobClientCpuMs: number;
  /** CPU time of nats-server per minimal job, ms (this child is its only client meanwhile). */
  minimalJobServerCpuMs: number;
}

const payload = new TextEncoder().encode(JSON.stringify({ n: 123456, text: "a small job input for the bench" }));
const record = new TextEncoder().encode(
  JSON.stringify({ state: "COMPLETED", output: { n: 123456 }, finishedAt: Date.now(), attempt: 1 }),
);

// Two small headers, as a jetq job message carries (token, created_at).
function jobHeaders(i: number): MsgHdrs {
  const h = headers();
  h.set("Bench-Token", `tok${i}`);
  h.set("Bench-Created", String(Date.now()));
  return h;
}

const storageType = (s: "file" | "memory") => (s === "memory" ? StorageType.Memory : StorageType.File);

async function freshStream(
  jsm: JetStreamManager,
  name: string,
  subject: string,
  storage: "file" | "memory",
  workQueue: boolean,
) {
  await jsm.streams.delete(name).catch(() => undefined);
  await jsm.streams.add({
    name,
    subjects: [subject],
    storage: storageType(storage),
    retention: workQueue ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
  });
}

async function addConsumer(jsm: JetStreamManager, stream: string) {
  await jsm.consumers.add(stream, {
    durable_name: "workers",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: 30_000_000_000,
    max_ack_pending: 20_000,
  });
}

/** Publishes `count` messages keeping at most `window` unacknowledged. */
async function publishWindowed(js: JetStreamClient, subject: string, count: number, window: number): Promise<void> {
  let inFlight = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  for (let i = 0; i < count; i++) {
    while (inFlight >= window) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
    inFlight++;
    js.publish(subject, payload, { headers: jobHeaders(i) }).then(
      () => {
        inFlight--;
        wake?.();
      },
      (err: unknown) => {
        failure = err;
        inFlight--;
        wake?.();
      },
    );
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  if (failure) throw failure;
}

async function measurePublish(js: JetStreamClient, jsm: JetStreamManager, a: RawArgs, count: number): Promise<number> {
  await freshStream(jsm, "BENCH_PUB", "bench.pub", a.storage, false);
  const start = performance.now();
  await publishWindowed(js, "bench.pub", count, a.window);
  const ms = performance.now() - start;
  await jsm.streams.delete("BENCH_PUB");
  return rate(count, ms);
}

async function measureConsume(js: JetStreamClient, jsm: JetStreamManager, a: RawArgs, count: number): Promise<number> {
  await freshStream(jsm, "BENCH_WQ", "bench.wq", a.storage, true);
  await publishWindowed(js, "bench.wq", count, a.window);
  await addConsumer(jsm, "BENCH_WQ");
  const consumer = await js.consumers.get("BENCH_WQ", "workers");
  const start = performance.now();
  const messages = await consumer.consume({ max_messages: Math.max(100, a.window) });
  let n = 0;
  for await (const m of messages) {
    n++;
    if (n === count) {
      // The last ack confirmed: every earlier ack went before it on the same connection.
      await m.ackAck();
      break;
    }
    m.ack();
  }
  const ms = performance.now() - start;
  await messages.close();
  await jsm.streams.delete("BENCH_WQ");
  return rate(count, ms);
}

async function measureMinimalJob(
  js: JetStreamClient,
  jsm: JetStreamManager,
  a: RawArgs,
  count: number,
): Promise<number> {
  await freshStream(jsm, "BENCH_JOB", "bench.job", a.storage, true);
  await addConsumer(jsm, "BENCH_JOB");
  const kvm = new Kvm(js);
  await kvm
    .open("bench_jobs")
    .then((kv) => kv.destroy())
    .catch(() => undefined);
  const kv = await kvm.create("bench_jobs", { history: 1, storage: storageType(a.storage) });
  const consumer = await js.consumers.get("BENCH_JOB", "workers");
  const messages = await consumer.consume({ max_messages: Math.max(100, a.window) });

  let done = 0;
  let failure: unknown;
  let finish!: () => void;
  const allDone = new Promise<void>((r) => (finish = r));
  const handle = async (m: JsMsg) => {
    try {
      await kv.create(`job.${m.seq}`, record);
      m.ack();
    } catch (err) {
      failure ??= err;
    }
    if (++done === count) finish();
  };

  const start = performance.now();
  const consuming = (async () => {
    let seen = 0;
    for await (const m of messages) {
      void handle(m);
      if (++seen === count) break;
    }
  })();
  await publishWindowed(js, "bench.job", count, a.window);
  await allDone;
  const ms = performance.now() - start;
  await consuming;
  if (failure) throw failure;
  await messages.close();
  await kv.destroy();
  await jsm.streams.delete("BENCH_JOB");
  return rate(count, ms);
}

async function main() {
  const a = childArgs<RawArgs>();
  const nc = await connect({ servers: a.servers.split(","), name: "bench-raw" });
  const js = jetstream(nc, { timeout: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  try {
    // Warm-up: the JIT and the server's file store see every path once.
    await measurePublish(js, jsm, a, a.warmup);
    await measureConsume(js, jsm, a, a.warmup);
    await measureMinimalJob(js, jsm, a, a.warmup);
    const result: RawResult = {
      publishPerSec: await measurePublish(js, jsm, a, a.count),
      consumeAckPerSec: await measureConsume(js, jsm, a, a.count),
      minimalJobPerSec: 0,
      minimalJobClientCpuMs: 0,
      minimalJobServerCpuMs: 0,
    };
    const cpu = process.cpuUsage();
    const serverCpu = cpuMsOf(a.natsServerPid);
    result.minimalJobPerSec = await measureMinimalJob(js, jsm, a, a.count);
    result.minimalJobServerCpuMs = (cpuMsOf(a.natsServerPid) - serverCpu) / a.count;
    const used = process.cpuUsage(cpu);
    result.minimalJobClientCpuMs = (used.user + used.system) / 1000 / a.count;
    reply(result);
  } finally {
    await nc.drain();
  }
}

await main();
