/**
 * NATS messages per job on the happy path, as the server counts them
 * (/connz in_msgs: what each connection sent), with the API and the worker
 * in separate engines as in a split deployment. The per-job messages are
 * fixed (docs/ARCHITECTURE.md §5 "Derived, not written"): the API sends the
 * job's publish; the worker its RUNNING record, the RUNNING event, the
 * terminal record, the ack and the terminal event. The finished job's index
 * entries, finished counts and the worker's pulls are batched across jobs,
 * and include_output of a job submitted here reads no record (the terminal
 * event carried the output). An extra per-job message fails the bounds.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { EVENT_OUTPUT_MAX_CHARS } from "../../src/engine/nats/events.js";
import type { Engine, SubmitInput } from "../../src/engine/types.js";
import { isTerminal } from "../../src/engine/types.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { connections } from "./nats-monitor.nats.js";

const JOBS = 64;
const apiName = `jetq-cost-api-${process.pid}`;
const workerName = `jetq-cost-worker-${process.pid}`;
let nats: NatsServer;
let api: Engine;
let workerEngine: Engine;
let worker: Worker;
const queue = uniqueQueue("msgs");

beforeAll(async () => {
  nats = await startNatsServer();
  api = await createNatsEngine({ servers: nats.url, name: apiName });
  workerEngine = await createNatsEngine({ servers: nats.url, name: workerName });
  await api.declareQueue(queue);
  worker = createWorker({ engine: workerEngine, queues: { [queue]: async (input) => input }, concurrency: JOBS });
  await worker.start();
});
afterAll(async () => {
  await worker?.stop();
  await workerEngine?.close();
  await api?.close();
  await nats?.stop();
});

/** Messages each engine's connection has sent to the server so far. */
async function sent(): Promise<{ api: number; worker: number }> {
  const conns = await connections(nats.monitorUrl);
  const of = (name: string) => {
    const c = conns.find((x) => x.name === name);
    if (!c) throw new Error(`connection ${name} not on the server`);
    return c.in_msgs;
  };
  return { api: of(apiName), worker: of(workerName) };
}

/** One job submitted and streamed to its end with its output, as SubmitAndStream with include_output does. */
async function oneCall(n: number): Promise<void> {
  let last;
  for await (const status of api.submitAndWatch({ queue, input: { n } })) last = status;
  expect(last && isTerminal(last.state) ? last.state : undefined).toBe("COMPLETED");
  expect(await api.getResult(last!.id)).toEqual({ id: last!.id, state: "COMPLETED", output: { n } });
}

test("a job costs the API one message and the worker five, plus batched ones", async () => {
  // Warm up: streams made on first use, queue config cached, pulls running.
  await Promise.all([0, 1, 2, 3].map(oneCall));
  const before = await sent();
  await Promise.all(Array.from({ length: JOBS }, (_, i) => oneCall(i)));
  const after = await sent();
  const perJob = { api: (after.api - before.api) / JOBS, worker: (after.worker - before.worker) / JOBS };
  // API: the publish; a queue snapshot for the positions (two requests) now and then.
  expect(perJob.api).toBeGreaterThanOrEqual(1);
  expect(perJob.api).toBeLessThan(1.3);
  // Worker: RUNNING record, RUNNING event, terminal record, ack, terminal event; index, counts and pulls in batches.
  expect(perJob.worker).toBeGreaterThanOrEqual(5);
  expect(perJob.worker).toBeLessThan(5.8);
});

test("include_output from memory answers only the job's tenant, and a big output is read from its record", async () => {
  const small = await lastOf({ queue, input: { n: 1 }, tenant: "acme" });
  const before = await sent();
  expect(await api.getResult(small.id, { tenant: "acme" })).toEqual({
    id: small.id,
    state: "COMPLETED",
    output: { n: 1 },
  });
  expect((await sent()).api).toBe(before.api);
  await expect(api.getResult(small.id, { tenant: "other" })).rejects.toThrow(/not found/i);

  // Over what an event carries: the record is read (one request), and the output is whole.
  const text = "x".repeat(EVENT_OUTPUT_MAX_CHARS + 1);
  const big = await lastOf({ queue, input: { text } });
  const beforeBig = await sent();
  expect(await api.getResult(big.id)).toEqual({ id: big.id, state: "COMPLETED", output: { text } });
  expect((await sent()).api).toBeGreaterThan(beforeBig.api);
});

async function lastOf(input: SubmitInput) {
  let last;
  for await (const status of api.submitAndWatch(input)) last = status;
  expect(last?.state).toBe("COMPLETED");
  return last!;
}
