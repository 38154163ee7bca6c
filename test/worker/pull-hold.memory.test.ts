/**
 * The pulls' hold after an outage (src/worker/pull-hold.ts), with leases of
 * the embedded engine: a job that met an outage holds the pulls until it is
 * settled, or one ack wait after the engine answered it again.
 */
import { afterAll, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { newActiveJob, type ActiveJob } from "../../src/worker/active-job.js";
import { createPullHold } from "../../src/worker/pull-hold.js";
import { uniqueQueue } from "./harness.js";

const engine = createMemoryEngine();
afterAll(() => engine.close());

async function jobWithAckWait(ackWaitMs: number): Promise<ActiveJob> {
  const queue = uniqueQueue("hold");
  await engine.declareQueue(queue, { ackWaitMs });
  await engine.submit({ queue, input: null });
  const [lease] = await engine.fetch(queue, { max: 1, expiresMs: 1_000 });
  if (!lease) throw new Error("no lease fetched");
  return newActiveJob(lease);
}

const never = new AbortController().signal;

it("holds while any job that met an outage is not settled; the last release lets the pulls go on", async () => {
  const hold = createPullHold();
  const [a, b] = [await jobWithAckWait(60_000), await jobWithAckWait(60_000)];
  expect(hold.holding).toBe(false);
  hold.hold(a);
  hold.hold(b);
  hold.hold(a);
  let cleared = false;
  const waiting = hold.cleared(never).then(() => (cleared = true));
  hold.release(a);
  await new Promise((r) => setImmediate(r));
  expect([hold.holding, cleared]).toEqual([true, false]);
  hold.release(b);
  await waiting;
  expect(hold.holding).toBe(false);
});

it("a job the engine answered again holds no longer than one ack wait, after each outage", async () => {
  const hold = createPullHold();
  const job = await jobWithAckWait(50);
  for (let outage = 1; outage <= 2; outage++) {
    hold.hold(job);
    hold.reachedAgain(job);
    expect(hold.holding).toBe(true);
    await hold.cleared(never);
    expect(hold.holding).toBe(false);
  }
});

it("a wait for the hold to clear ends when its signal aborts", async () => {
  const hold = createPullHold();
  hold.hold(await jobWithAckWait(60_000));
  const stop = new AbortController();
  const waiting = hold.cleared(stop.signal);
  stop.abort();
  await waiting;
  expect(hold.holding).toBe(true);
});
