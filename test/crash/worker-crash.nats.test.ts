/**
 * Issue 4, criterion 4: a worker process killed (-9) while it runs a job.
 * The job is redelivered after its ack wait to another worker process, runs
 * as attempt 2 and completes; through the API exactly one terminal state is
 * ever seen and the handler finishes exactly once.
 */
import { expect, test } from "vitest";
import { uniqueQueue } from "../helpers/engines.js";
import { useNatsForProcesses } from "../server/process.js";
import { crash, executions, JobState, json, value, startApi, startCrashWorker, TERMINAL } from "./harness.js";

const ACK_WAIT_MS = 2_000;

const backend = useNatsForProcesses();

test("kill -9 of the worker running a job: redelivered after ack_wait, attempt 2 completes, one terminal state", async () => {
  const queue = uniqueQueue("wcrash");
  const env = { CRASH_QUEUE: queue, JETQ_ACK_WAIT_MS: String(ACK_WAIT_MS), CRASH_MAX_ATTEMPTS: "3" };
  const first = await startCrashWorker(backend.nats.url, env);
  const api = await startApi(backend.nats.url);

  // Attempt 1 runs long enough to be killed in; attempt 2 is short.
  const input = { first_attempt_ms: 30_000, sleep_ms: 300 };
  const job = await api.client.submit({ queue, input: value(input) });
  const seen: { state: JobState; attempt: number }[] = [];
  const watching = (async () => {
    for await (const s of api.client.streamStatus({ id: job.id }, { timeoutMs: 30_000 })) {
      seen.push({ state: s.state, attempt: s.attempt });
    }
  })();

  await first.waitForLine((l) => l.msg === "start" && l.id === job.id, 10_000);
  // The second worker pulls before the first dies: nats-server 2.9 does not
  // count a redelivery that finds no pull waiting (the attempt would repeat).
  const second = await startCrashWorker(backend.nats.url, env);
  const killedAt = performance.now();
  await crash(first);
  const started = await second.waitForLine((l) => l.msg === "start" && l.id === job.id, 15_000);
  const redeliveredAfterMs = Math.round(performance.now() - killedAt);
  expect(started.attempt).toBe(2);
  await watching;

  const terminal = seen.filter((s) => TERMINAL.has(s.state));
  expect(terminal).toEqual([{ state: JobState.COMPLETED, attempt: 2 }]);
  expect(seen.at(-1)).toEqual({ state: JobState.COMPLETED, attempt: 2 });
  const result = await api.client.getResult({ id: job.id });
  expect(result.state).toBe(JobState.COMPLETED);
  expect(json(result.output)).toEqual(input);

  // Nothing may happen to the job afterwards: look for one more ack wait
  // (a second delivery would show up as a new start line or a changed state).
  await new Promise((r) => setTimeout(r, ACK_WAIT_MS + 500));
  const runs = executions([first, second]);
  expect(runs.starts.get(job.id)).toEqual([1, 2]);
  expect(runs.done.get(job.id)).toBe(1);
  const again = await api.client.getResult({ id: job.id });
  expect(again).toEqual(result);
  const status = await api.client.getStatus({ id: job.id });
  expect(status.state).toBe(JobState.COMPLETED);
  expect(status.attempt).toBe(2);
  console.log(
    `[crash:worker] job ${job.id}: killed worker at attempt 1, redelivered to a new worker process after ${redeliveredAfterMs} ms ` +
      `(ack_wait ${ACK_WAIT_MS} ms from its last heartbeat), states seen ${seen.map((s) => `${JobState[s.state]}/${s.attempt}`).join(" → ")}`,
  );
});
