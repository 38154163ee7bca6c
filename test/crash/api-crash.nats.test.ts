/**
 * Issue 4, criterion 5: the API process killed (-9) under a load of Submits.
 * Every Submit that answered OK names a job that reaches a terminal state
 * once a new API process serves; no job runs twice (executions counted from
 * the worker process's output).
 */
import { expect, test } from "vitest";
import { uniqueQueue } from "../helpers/engines.js";
import { useNatsForProcesses } from "../server/process.js";
import {
  countStates,
  crash,
  eventually,
  executions,
  generateLoad,
  startApi,
  startCrashWorker,
  value,
  waitTerminal,
  type QueueClient,
} from "./harness.js";

const backend = useNatsForProcesses();

test("kill -9 of the API under 8 submitting clients: every acknowledged job completes exactly once", async () => {
  const queue = uniqueQueue("acrash");
  const worker = await startCrashWorker(backend.nats.url, {
    CRASH_QUEUE: queue,
    JETQ_ACK_WAIT_MS: "2000",
    CRASH_CONCURRENCY: "32",
    CRASH_MAX_ATTEMPTS: "1",
  });
  const first = await startApi(backend.nats.url);
  let client: QueueClient = first.client;

  const stop = new AbortController();
  const load = generateLoad({
    client: () => client,
    queue,
    input: { sleep_ms: 20 },
    clients: 8,
    stop: stop.signal,
    callTimeoutMs: 5_000,
    keyPrefix: "load-",
  });
  // Kill it while calls are in flight: after some have been answered.
  await eventually(async () => {
    const done = executions([worker]).done.size;
    if (done < 150) throw new Error(`only ${done} jobs done so far`);
  }, 20_000);
  await crash(first.proc);
  stop.abort();
  const report = await load.done;

  const second = await startApi(backend.nats.url);
  client = second.client;
  const ranBeforeRetry = new Set(executions([worker]).starts.keys());
  // A client retries the Submits whose answer it never got, with the same
  // idempotency key: each names the job that already exists, if it does.
  const retried = await Promise.all(
    report.unknown.map(
      async (key) => (await client.submit({ queue, input: value({ sleep_ms: 20 }), idempotencyKey: key })).id,
    ),
  );
  const jobs = [...report.acked, ...retried];
  expect(new Set(jobs).size).toBe(jobs.length);
  const states = await waitTerminal(() => client, jobs, 20_000);
  expect(countStates(states)).toEqual({ COMPLETED: jobs.length });

  // Every job the worker ran (acknowledged or cut off mid-answer) ran once.
  const runs = executions([worker]);
  for (const id of report.acked) {
    expect(runs.starts.get(id), id).toEqual([1]);
    expect(runs.done.get(id), id).toBe(1);
  }
  for (const id of retried) expect(runs.done.get(id), id).toBe(1);
  // Nothing ran but the jobs the client knows of, each once.
  expect(new Set(runs.starts.keys())).toEqual(new Set(jobs));
  for (const [id, attempts] of runs.starts) expect(attempts, id).toEqual([1]);
  const stored = retried.filter((id) => ranBeforeRetry.has(id)).length;
  console.log(
    `[crash:api] ${report.calls} Submit calls, ${report.acked.length} acknowledged before/at the kill, all COMPLETED once; ` +
      `${report.unknown.length} Submits cut by the kill, retried with their idempotency keys: ${stored} of them had been stored and run already (the retry got the same job; it ran once), the rest were created by the retry; ` +
      `failed calls: ${JSON.stringify(Object.fromEntries(report.errors))}`,
  );
});
