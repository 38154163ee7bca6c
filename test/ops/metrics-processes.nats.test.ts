/**
 * Metrics and job log lines in a split deployment: an API process without
 * workers (`npm start`, JETQ_WORKERS=false) and a worker process
 * (`npm run worker` with JETQ_PROBE_PORT), meeting only through
 * nats-server. After a workload of known outcomes, each process's /metrics
 * holds only the series README "Operations" says it owns, their sum is the
 * whole, and each job has one "job finished" line, in the process that
 * ended it.
 */
import { expect, it } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { samplesOf, scrape, valueOf, type Exposition } from "../helpers/prometheus.js";
import { startApiProcess, startProcess, useNatsForProcesses, type LogLine } from "../server/process.js";
import { pollUntil } from "../e2e/harness.js";

const backend = useNatsForProcesses();

async function rpc<T>(url: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const stateOf = async (url: string, id: string) => (await rpc<{ state: string }>(url, "GetStatus", { id })).state;

async function waitForState(url: string, id: string, state: string): Promise<void> {
  await pollUntil(
    () => stateOf(url, id),
    (s) => s === `JOB_STATE_${state}`,
    { what: `job ${id} ${state}`, timeoutMs: 15_000 },
  );
}

/** Which process owns a job series (README "Operations"); finished and its histograms go by state. */
function ownerOf(name: string, labels: Record<string, string>): "api" | "worker" | "both" {
  if (/^jetq_(jobs_finished_total|job_run_seconds|job_end_to_end_seconds)/.test(name)) {
    return labels.state === "cancelled" ? "api" : "worker";
  }
  if (/^jetq_(jobs_(started|retried|redelivered|released)_total|job_queue_wait_seconds)/.test(name)) return "worker";
  if (/^jetq_(jobs_submitted_total|queue_jobs|queues|queue_counts_up|rpc_)/.test(name)) return "api";
  if (name === "jetq_engine_ready") return "both";
  throw new Error(`a series README "Operations" does not list: ${name}`);
}

const finished = (e: Exposition, state: string) =>
  valueOf(e, "jetq_jobs_finished_total", { queue: "echo", state }) ?? 0;

it("an API process and a worker process: each exposes the series it owns, their sum is every job's outcome, one log line per job", async () => {
  const { api, url } = await startApiProcess(backend.nats.url);
  const probePort = await freePort();
  const worker = startProcess("worker", {
    NATS_URL: backend.nats.url,
    HOST: "127.0.0.1",
    JETQ_PROBE_PORT: String(probePort),
    JETQ_CONCURRENCY: "1",
  });
  await worker.waitForLine((l) => l.msg === "worker started");
  const workerUrl = `http://127.0.0.1:${probePort}`;
  const submit = async (input: unknown, options?: unknown) =>
    (await rpc<{ id: string }>(url, "Submit", { queue: "echo", input, ...(options ? { options } : {}) })).id;

  // The one slot is taken, so the next jobs stay queued: 2 are cancelled, 1 outlives its start deadline.
  const blocker = await submit({ sleep_ms: 60_000 });
  await waitForState(url, blocker, "RUNNING");
  const cancelled = [await submit({}), await submit({})];
  for (const id of cancelled) expect(await rpc(url, "Cancel", { id })).toMatchObject({ removed: true });
  const deadline = Date.now() + 300;
  const expiring = await submit({}, { startDeadline: new Date(deadline).toISOString() });
  await pollUntil(
    async () => Date.now(),
    (now) => now > deadline + 20,
    { what: "the deadline to pass", timeoutMs: 5_000 },
  );
  await rpc(url, "Cancel", { id: blocker });
  const completed: string[] = [];
  for (let i = 0; i < 5; i++) completed.push(await submit({ i }));
  const failed: string[] = [];
  for (let i = 0; i < 3; i++) {
    failed.push(await submit({ fail: "boom" }, { maxAttempts: 2, retryBackoff: "0.010s", retryBackoffMax: "0.010s" }));
  }
  await waitForState(url, expiring, "EXPIRED");
  for (const id of completed) await waitForState(url, id, "COMPLETED");
  for (const id of failed) await waitForState(url, id, "FAILED");

  // The worker tells an outcome right after the write the API reads: wait for its counters to catch up.
  const fromWorker = await pollUntil(
    () => scrape(workerUrl),
    (e) => finished(e, "completed") + finished(e, "failed") + finished(e, "expired") === 9,
    { what: "the worker's finished counters", timeoutMs: 10_000 },
  );
  const fromApi = await scrape(url);

  // Each process: its own series only.
  for (const [who, e] of [
    ["api", fromApi],
    ["worker", fromWorker],
  ] as const) {
    const strays = e.samples
      .filter((s) => s.name.startsWith("jetq_"))
      .filter((s) => ![who, "both"].includes(ownerOf(s.name, s.labels)))
      .map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    expect(strays, who).toEqual([]);
    expect(valueOf(e, "jetq_engine_ready", { engine: "nats" }), who).toBe(1);
    expect(samplesOf(e, "process_resident_memory_bytes"), who).toHaveLength(1);
  }
  // The API: submits and cancels (the running blocker's too), RPCs, the queue gauges.
  expect(valueOf(fromApi, "jetq_jobs_submitted_total", { queue: "echo" })).toBe(12);
  expect(finished(fromApi, "cancelled")).toBe(3);
  expect(
    valueOf(fromApi, "jetq_rpc_handled_total", { service: "jetq.v1.QueueService", method: "Submit", code: "OK" }),
  ).toBe(12);
  // On NATS the count comes from a stream snapshot that settles a moment after the last ack.
  const settled = await pollUntil(
    () => scrape(url),
    (e) =>
      valueOf(e, "jetq_queue_jobs", { queue: "echo", state: "waiting" }) === 0 &&
      valueOf(e, "jetq_queue_jobs", { queue: "echo", state: "running" }) === 0,
    { what: "no echo job waiting or running", timeoutMs: 5_000 },
  );
  expect(valueOf(settled, "jetq_queue_jobs", { queue: "echo", state: "running" })).toBe(0);
  // The worker: starts, retries and outcomes.
  expect(valueOf(fromWorker, "jetq_jobs_started_total", { queue: "echo" })).toBe(1 + 5 + 3 * 2);
  expect(valueOf(fromWorker, "jetq_jobs_retried_total", { queue: "echo" })).toBe(3);
  expect(valueOf(fromWorker, "jetq_job_queue_wait_seconds_count", { queue: "echo" })).toBe(1 + 5 + 3);
  // Together: every job's outcome, once.
  const sum = (state: string) => finished(fromApi, state) + finished(fromWorker, state);
  expect({
    completed: sum("completed"),
    failed: sum("failed"),
    cancelled: sum("cancelled"),
    expired: sum("expired"),
  }).toEqual({
    completed: 5,
    failed: 3,
    cancelled: 3,
    expired: 1,
  });

  // One "job finished" line per job, from the process that ended it.
  const ends = (p: { lines: LogLine[] }) => p.lines.filter((l) => l.msg === "job finished");
  await pollUntil(
    async () => ends(api).length + ends(worker).length,
    (n) => n >= 12,
    { what: "12 job lines", timeoutMs: 5_000 },
  );
  const byJob = new Map<string, { who: string; line: LogLine }[]>();
  for (const [who, p] of [
    ["api", api],
    ["worker", worker],
  ] as const) {
    for (const line of ends(p))
      byJob.set(line.job as string, [...(byJob.get(line.job as string) ?? []), { who, line }]);
  }
  expect(byJob.size).toBe(12);
  for (const [job, lines] of byJob) expect(lines, job).toHaveLength(1);
  const lineOf = (id: string) => byJob.get(id)![0]!;
  const ms = { queueWaitMs: expect.any(Number), totalMs: expect.any(Number) };
  for (const id of [...cancelled, blocker]) expect(lineOf(id).who).toBe("api");
  expect(lineOf(cancelled[0]!).line).toMatchObject({
    level: 30,
    queue: "echo",
    tenant: "",
    state: "CANCELLED",
    attempt: 0,
    ...ms,
  });
  expect(lineOf(cancelled[0]!).line.runMs).toBeUndefined();
  expect(lineOf(blocker).line).toMatchObject({ state: "CANCELLED", attempt: 1, runMs: expect.any(Number), ...ms });
  expect(lineOf(completed[0]!)).toMatchObject({
    who: "worker",
    line: { state: "COMPLETED", attempt: 1, runMs: expect.any(Number), ...ms },
  });
  expect(lineOf(completed[0]!).line.code).toBeUndefined();
  expect(lineOf(failed[0]!)).toMatchObject({
    who: "worker",
    line: { state: "FAILED", attempt: 2, code: "HANDLER_ERROR", message: "boom" },
  });
  expect(lineOf(expiring)).toMatchObject({ who: "worker", line: { state: "EXPIRED", code: "EXPIRED", ...ms } });
  expect(lineOf(expiring).line.runMs).toBeUndefined();
  const line = lineOf(completed[0]!).line;
  expect((line.queueWaitMs as number) + (line.runMs as number)).toBeLessThanOrEqual(line.totalMs as number);
  // The retried attempts: one line each, in the worker; no per-attempt info line of the worker's own.
  expect(worker.lines.filter((l) => l.msg === "job attempt failed; retrying").map((l) => l.job)).toEqual(failed);
  expect(worker.lines.filter((l) => l.msg === "job attempt failed")).toEqual([]);

  worker.proc.kill("SIGTERM");
  api.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(await api.exited).toBe(0);
});

it("JETQ_METRICS=false: no /metrics on the API port nor the worker's probe port", async () => {
  const { api, url } = await startApiProcess(backend.nats.url, { JETQ_METRICS: "false" });
  const probePort = await freePort();
  const worker = startProcess("worker", {
    NATS_URL: backend.nats.url,
    HOST: "127.0.0.1",
    JETQ_PROBE_PORT: String(probePort),
    JETQ_METRICS: "false",
  });
  await worker.waitForLine((l) => l.msg === "worker started");
  expect((await fetch(`${url}/metrics`)).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${probePort}/metrics`)).status).toBe(404);
  expect((await fetch(`http://127.0.0.1:${probePort}/readyz`)).status).toBe(200);
  worker.proc.kill("SIGTERM");
  api.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(await api.exited).toBe(0);
});
