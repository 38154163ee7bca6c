/**
 * NATS only: a changed retention reaches buckets and streams created earlier
 * with another one (they keep their config otherwise), so a later
 * JETQ_RETENTION_MS takes effect on restart.
 */
import { expect, test } from "vitest";
import { stream } from "../engine/nats-monitor.nats.js";
import { useNatsEngines } from "../helpers/engines.js";
import { fetchOne, uniqueQueue, waitForState } from "./harness.js";

const fixture = useNatsEngines();
const open = (retentionMs: number) => fixture.open(undefined, { retentionMs });
const maxAgeMs = async (name: string) => (await stream(fixture.nats.monitorUrl, name)).config.max_age / 1e6;

test("a restart with another retention updates the jobs bucket, the logs stream and the blob bucket", async () => {
  const first = await open(60_000);
  // Large output: creates the blob bucket.
  const q = uniqueQueue("ret");
  await first.declareQueue(q);
  const { id } = await first.submit({ queue: q, input: 1 });
  const lease = await fetchOne(first, q);
  expect(await lease.begin()).toBe(true);
  expect(await lease.complete("x".repeat(1_200_000))).toBe(true);
  await waitForState(first, id, "COMPLETED");
  expect(await maxAgeMs("KV_jetq_jobs")).toBe(60_000);
  expect(await maxAgeMs("JETQ_LOGS")).toBe(60_000);
  expect(await maxAgeMs("OBJ_jetq_blobs")).toBe(60_000);

  const second = await open(5_000);
  expect(await maxAgeMs("KV_jetq_jobs")).toBe(5_000);
  expect(await maxAgeMs("JETQ_LOGS")).toBe(5_000);
  // The blob bucket follows when this process first uses it.
  expect((await second.getResult(id)).output).toHaveLength(1_200_000);
  expect(await maxAgeMs("OBJ_jetq_blobs")).toBe(5_000);
});
