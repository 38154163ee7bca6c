/**
 * Finished counts (finish-counts.ts): the jobs counted while a count of the
 * same bucket is in flight go together, as one message per bit of their
 * number, and every message reads as the jobs it stands for; a message of
 * one job has the bucket's plain subject, as versions before batching wrote.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { COUNT_BUCKET_MS, createFinishCounts, weightedSubjects } from "../../src/engine/nats/finish-counts.js";
import { COUNTS_STREAM } from "../../src/engine/nats/layout.js";
import { uniqueQueue } from "../helpers/engines.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { stream } from "./nats-monitor.nats.js";

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const layout = { storage: "file", replicas: 1, retentionMs: 3_600_000, requestTimeoutMs: 5_000 } as const;

test("weightedSubjects: one subject per bit, the plain subject for one job", () => {
  expect(weightedSubjects("s", 1)).toEqual(["s"]);
  expect(weightedSubjects("s", 6)).toEqual(["s.2", "s.4"]);
  expect(weightedSubjects("s", 7)).toEqual(["s", "s.2", "s.4"]);
  expect(weightedSubjects("s", 256)).toEqual(["s.256"]);
});

test("jobs counted at once cost a message per batch bit, and read as the number of jobs", async () => {
  const counts = createFinishCounts(jetstream(nc), await jetstreamManager(nc), layout);
  const q = uniqueQueue("cnt");
  const now = Date.now();
  // Mid-bucket, so every count lands in one bucket.
  const at = Math.floor(now / COUNT_BUCKET_MS) * COUNT_BUCKET_MS + COUNT_BUCKET_MS / 2;
  await counts.add(q, "FAILED", at); // makes the stream: the first batch below is not behind it
  const before = (await stream(nats.monitorUrl, COUNTS_STREAM)).state.messages;
  // The first goes alone; the 12 that come while it is in flight go as one batch (8 + 4).
  await Promise.all(Array.from({ length: 13 }, () => counts.add(q, "COMPLETED", at)));
  expect((await stream(nats.monitorUrl, COUNTS_STREAM)).state.messages - before).toBe(3);
  expect(await counts.read(q, [at - COUNT_BUCKET_MS, at + COUNT_BUCKET_MS])).toEqual([
    { completed: 13, failed: 1 },
    { completed: 0, failed: 0 },
  ]);
});
