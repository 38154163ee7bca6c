/**
 * NATS messages per job on the happy path, as the server counts them
 * (/connz in_msgs: what each connection sent), with the API and the worker
 * in separate engines as in a split deployment: include_output of a job
 * submitted here reads no record (the terminal event carried the output).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { EVENT_OUTPUT_MAX_CHARS } from "../../src/engine/nats/events.js";
import type { Engine, SubmitInput } from "../../src/engine/types.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { connections } from "./nats-monitor.nats.js";

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
  worker = createWorker({ engine: workerEngine, queues: { [queue]: async (input) => input }, concurrency: 64 });
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
