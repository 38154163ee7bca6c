/**
 * Issue 12 §3: a crash never fails a job. With default settings (max
 * attempts 1), kill -9 of the only worker running a job: a worker started
 * afterwards runs it again as attempt 2 and it COMPLETES. A job whose workers
 * die once more than its max_lost_leases ends FAILED WORKER_LOST and is never
 * run again.
 */
import { expect, test } from "vitest";
import { uniqueQueue } from "../helpers/engines.js";
import { useNatsForProcesses } from "../server/process.js";
import {
  crash,
  eventually,
  executions,
  JobState,
  json,
  startApi,
  startCrashWorker,
  TERMINAL,
  value,
} from "./harness.js";

// Long enough that a loaded machine does not stall a live worker past it.
const ACK_WAIT_MS = 4_000;

const backend = useNatsForProcesses();
/** Worker processes start in seconds on a loaded machine, and each lost lease waits out an ack wait. */
const TEST_TIMEOUT_MS = 90_000;

/** Worker processes with the queue's defaults (no max attempts or lost-lease cap of their own). */
const defaults = (queue: string) => ({
  CRASH_QUEUE: queue,
  JETQ_ACK_WAIT_MS: String(ACK_WAIT_MS),
  CRASH_MAX_ATTEMPTS: "default",
  CRASH_MAX_LOST_LEASES: "default",
});

test(
  "default settings: kill -9 of the only worker, a new worker runs the job as attempt 2 and it COMPLETES",
  async () => {
    const queue = uniqueQueue("lostw");
    const first = await startCrashWorker(backend.nats.url, defaults(queue));
    const api = await startApi(backend.nats.url);
    const input = { first_attempt_ms: 60_000, sleep_ms: 200 };
    const job = await api.client.submit({ queue, input: value(input) });
    await first.waitForLine((l) => l.msg === "start" && l.id === job.id, 10_000);
    const killedAt = performance.now();
    await crash(first);
    // The only worker is gone; its replacement comes up after the kill.
    const second = await startCrashWorker(backend.nats.url, defaults(queue));
    const started = await second.waitForLine((l) => l.msg === "start" && l.id === job.id, 20_000);
    const rerunAfterMs = Math.round(performance.now() - killedAt);
    expect(started.attempt).toBe(2);

    const done = await eventually(async () => {
      const s = await api.client.getStatus({ id: job.id });
      if (!TERMINAL.has(s.state)) throw new Error(`job ${job.id} is still ${JobState[s.state]}`);
      return s;
    }, 20_000);
    expect(done.state).toBe(JobState.COMPLETED);
    expect(done.attempt).toBe(2);
    expect(done.error).toBeUndefined();
    expect(json((await api.client.getResult({ id: job.id })).output)).toEqual(input);
    const runs = executions([first, second]);
    expect(runs.starts.get(job.id)).toEqual([1, 2]);
    expect(runs.done.get(job.id)).toBe(1);
    console.log(
      `[crash:lost-worker] default settings: killed the only worker, attempt 2 started ${rerunAfterMs} ms later and COMPLETED`,
    );
  },
  TEST_TIMEOUT_MS,
);

test(
  "a job whose workers die once more than its max_lost_leases ends FAILED WORKER_LOST and never runs again",
  async () => {
    const queue = uniqueQueue("lostcap");
    const workers = [await startCrashWorker(backend.nats.url, defaults(queue))];
    const api = await startApi(backend.nats.url);
    // Every attempt hangs until its worker is killed; the job survives one lost worker.
    const job = await api.client.submit({ queue, input: value({ sleep_ms: 60_000 }), options: { maxLostLeases: 1 } });
    for (const attempt of [1, 2]) {
      const worker = workers.at(-1)!;
      const started = await worker.waitForLine((l) => l.msg === "start" && l.id === job.id, 20_000);
      expect(started.attempt).toBe(attempt);
      await crash(worker);
      workers.push(await startCrashWorker(backend.nats.url, defaults(queue)));
    }
    const failed = await eventually(async () => {
      const s = await api.client.getStatus({ id: job.id });
      if (!TERMINAL.has(s.state)) throw new Error(`job ${job.id} is still ${JobState[s.state]}`);
      return s;
    }, 20_000);
    expect(failed.state).toBe(JobState.FAILED);
    expect(failed.error?.code).toBe("WORKER_LOST");
    expect(failed.error?.message).toContain("lost 2 times");
    expect(failed.attempt).toBe(2);
    // The last worker keeps pulling for one more ack wait: the job must not come back.
    await new Promise((r) => setTimeout(r, ACK_WAIT_MS + 500));
    expect(executions(workers).starts.get(job.id)).toEqual([1, 2]);
    expect((await api.client.getStatus({ id: job.id })).state).toBe(JobState.FAILED);
    console.log(`[crash:lost-worker] ${failed.error?.message}`);
  },
  TEST_TIMEOUT_MS,
);
