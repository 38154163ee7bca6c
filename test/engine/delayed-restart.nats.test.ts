/**
 * Delayed jobs are durable on JetStream (issue 17, criterion 3): a job
 * delayed 2 s starts between 2 and 2.5 s after its Submit also when
 * nats-server is killed (-9) and restarted on the same store during the
 * delay, and when the process that submitted it is gone (another engine
 * process moves it, having learnt of it from JETQ_DELAYED).
 */
import { expect, test } from "vitest";
import type { Engine, JobLease } from "../../src/engine/types.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";

const fixture = useNatsEngines();

/** Fetches until one lease of the job arrives, riding out calls that fail while NATS is away. */
async function firstLease(engine: Engine, queue: string, id: string, timeoutMs: number): Promise<JobLease> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leases = await engine.fetch(queue, { max: 1, expiresMs: 200 }).catch(async () => {
      await new Promise((r) => setTimeout(r, 50));
      return [];
    });
    const lease = leases.find((l) => l.id === id);
    if (lease) return lease;
    for (const other of leases) await other.release();
  }
  throw new Error(`job ${id} was not delivered within ${timeoutMs} ms`);
}

async function runAndTime(engine: Engine, queue: string, id: string, submittedAt: number): Promise<number> {
  const lease = await firstLease(engine, queue, id, 10_000);
  // begin() is the start (a lease may be handed out a moment before the run time and waits for it).
  expect(await lease.begin()).toBe(true);
  const { startedAt } = await engine.getStatus(id);
  expect(await lease.complete("ran")).toBe(true);
  return startedAt! - submittedAt;
}

test("a job delayed 2 s starts 2 to 2.5 s after Submit across a kill -9 and restart of nats-server", async () => {
  const engine = await fixture.open("delayed-restart");
  const queue = uniqueQueue("delay-rs");
  await engine.declareQueue(queue);
  const submittedAt = Date.now();
  const job = await engine.submit({ queue, input: 1, options: { delayMs: 2_000 } });
  expect(job.scheduledAt).toBeGreaterThanOrEqual(submittedAt + 2_000);

  await fixture.nats.restart();
  // Still waiting for its time, as the restarted server's store says.
  const read = await waitRead(engine, job.id);
  expect(read).toMatchObject({ state: "QUEUED", scheduledAt: job.scheduledAt });
  expect(Date.now() - submittedAt).toBeLessThan(2_000);

  const startedAfter = await runAndTime(engine, queue, job.id, submittedAt);
  expect(startedAfter).toBeGreaterThanOrEqual(2_000);
  expect(startedAfter).toBeLessThanOrEqual(2_500);
  expect((await engine.getStatus(job.id)).state).toBe("COMPLETED");
});

test("the submitting process gone, another process moves the job on time", async () => {
  const submitter = await fixture.open("delayed-submitter");
  const other = await fixture.open("delayed-other");
  const queue = uniqueQueue("delay-gone");
  await other.declareQueue(queue);
  const submittedAt = Date.now();
  const job = await submitter.submit({ queue, input: 2, options: { delayMs: 2_000 } });
  await submitter.close();
  const startedAfter = await runAndTime(other, queue, job.id, submittedAt);
  expect(startedAfter).toBeGreaterThanOrEqual(2_000);
  expect(startedAfter).toBeLessThanOrEqual(2_500);
});

/** The job's status once the engine reads again after the restart (bounded). */
async function waitRead(engine: Engine, id: string) {
  const deadline = Date.now() + 1_500;
  for (;;) {
    try {
      return await engine.getStatus(id);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
