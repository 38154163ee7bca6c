/**
 * GET /metrics of a server (src/ops/metrics.ts) on each engine, the server
 * and its worker in this process (on NATS, each on its own connection): job
 * counters equal the jobs in each terminal state after a workload of known
 * outcomes; RPCs are counted by method and code on every way in; the queue
 * gauges and the open-streams gauge read what is there.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueService } from "../../gen/jetq/v1/queue_pb.js";
import type { Engine } from "../../src/engine/types.js";
import { formatJobId, newToken } from "../../src/engine/job-id.js";
import { createMetrics } from "../../src/ops/metrics.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { waitFor, waitForState } from "../conformance/harness.js";
import { ENGINES, uniqueQueue, type EngineBackend } from "../helpers/engines.js";
import { samplesOf, scrape, valueOf, type Exposition } from "../helpers/prometheus.js";

const RETRY_FAST = { maxAttempts: 2, backoffBaseMs: 10, backoffMaxMs: 10 };

describe.each(ENGINES)("metrics [$name]", (kind) => {
  let backend: EngineBackend;
  let engine: Engine;
  let server: RunningServer;
  let worker: Worker;
  const work = uniqueQueue("work");
  const idle = uniqueQueue("idle");
  const late = uniqueQueue("late");

  beforeAll(async () => {
    backend = await kind.start();
    engine = await backend.open();
    const workerEngine = await backend.open();
    // The worker's engine is another connection on NATS: one registry counts both, as one process would.
    const metrics = createMetrics({ queueCounts: { engine } });
    metrics.observe(workerEngine);
    server = await startServer({ engine, port: 0, host: "127.0.0.1", metrics });
    await engine.declareQueue(idle);
    await engine.declareQueue(late);
    worker = createWorker({
      engine: workerEngine,
      queues: {
        [work]: {
          handler: (input) => {
            if ((input as { fail?: boolean }).fail) throw new Error("asked to fail");
            return input;
          },
          config: RETRY_FAST,
        },
      },
    });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop({ graceMs: 0 });
    await server?.close();
    await backend?.stop();
  });

  const job = (e: Exposition, name: string, labels: Record<string, string>) => valueOf(e, name, labels) ?? 0;

  it("after 5 completed, 3 failed after a retry, 2 cancelled while queued and 1 expired, the counters say so", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await engine.submit({ queue: work, input: { i } })).id);
    for (let i = 0; i < 3; i++) ids.push((await engine.submit({ queue: work, input: { fail: true } })).id);
    for (let i = 0; i < 2; i++) {
      const { id } = await engine.submit({ queue: idle, input: i });
      expect((await engine.cancel(id)).removed).toBe(true);
    }
    const deadline = Date.now() + 150;
    const expiring = await engine.submit({ queue: late, input: 0, options: { startDeadline: deadline } });
    await waitFor(() => Date.now() > deadline + 20, { what: "the deadline to pass" });
    // On NATS a job expires when a worker fetches it.
    await worker.addQueue(late, { handler: (input) => input });
    for (const id of ids.slice(0, 5)) await waitForState(engine, id, "COMPLETED");
    for (const id of ids.slice(5)) await waitForState(engine, id, "FAILED");
    await waitForState(engine, expiring.id, "EXPIRED");

    // The worker tells its outcome right after the write the API reads: wait for the counters to catch up.
    const m = await waitFor(async () => {
      const e = await scrape(server.url);
      return samplesOf(e, "jetq_jobs_finished_total").reduce((n, s) => n + s.value, 0) === 11 ? e : undefined;
    });
    expect(job(m, "jetq_jobs_submitted_total", { queue: work })).toBe(8);
    expect(job(m, "jetq_jobs_submitted_total", { queue: idle })).toBe(2);
    expect(job(m, "jetq_jobs_submitted_total", { queue: late })).toBe(1);
    expect(job(m, "jetq_jobs_finished_total", { queue: work, state: "completed" })).toBe(5);
    expect(job(m, "jetq_jobs_finished_total", { queue: work, state: "failed" })).toBe(3);
    expect(job(m, "jetq_jobs_finished_total", { queue: idle, state: "cancelled" })).toBe(2);
    expect(job(m, "jetq_jobs_finished_total", { queue: late, state: "expired" })).toBe(1);
    expect(job(m, "jetq_jobs_started_total", { queue: work })).toBe(5 + 3 * 2);
    expect(job(m, "jetq_jobs_retried_total", { queue: work })).toBe(3);
    expect(samplesOf(m, "jetq_jobs_redelivered_total")).toEqual([]);
    expect(samplesOf(m, "jetq_jobs_released_total")).toEqual([]);
    // Histograms: one observation per first start, per end with a run, per end.
    expect(job(m, "jetq_job_queue_wait_seconds_count", { queue: work })).toBe(8);
    expect(job(m, "jetq_job_run_seconds_count", { queue: work, state: "completed" })).toBe(5);
    expect(job(m, "jetq_job_run_seconds_count", { queue: work, state: "failed" })).toBe(3);
    expect(samplesOf(m, "jetq_job_run_seconds_count", { queue: idle })).toEqual([]);
    expect(job(m, "jetq_job_end_to_end_seconds_count", { queue: idle, state: "cancelled" })).toBe(2);
    expect(job(m, "jetq_job_end_to_end_seconds_count", { queue: late, state: "expired" })).toBe(1);
    expect(job(m, "jetq_job_end_to_end_seconds_bucket", { queue: work, state: "completed", le: "+Inf" })).toBe(5);
    expect(m.types.get("jetq_job_run_seconds")).toBe("histogram");
    expect(m.types.get("jetq_jobs_finished_total")).toBe("counter");
    expect(valueOf(m, "jetq_engine_ready", { engine: kind.name })).toBe(1);
    expect(samplesOf(m, "process_cpu_user_seconds_total")).toHaveLength(1);
  });

  it("the queue gauges show waiting and running jobs per queue", async () => {
    const q = uniqueQueue("gauge");
    await engine.declareQueue(q);
    for (let i = 0; i < 3; i++) await engine.submit({ queue: q, input: i });
    const m = await scrape(server.url);
    expect(valueOf(m, "jetq_queue_jobs", { queue: q, state: "waiting" })).toBe(3);
    expect(valueOf(m, "jetq_queue_jobs", { queue: q, state: "running" })).toBe(0);
    expect(valueOf(m, "jetq_queue_counts_up")).toBe(1);
    expect(valueOf(m, "jetq_queues")).toBe((await engine.listQueues()).length);
  });

  it("RPCs are counted by method and code on the Connect fast path and gRPC; the open stream is in the gauge", async () => {
    const labels = (method: string, code: string) => ({ service: "jetq.v1.QueueService", method, code });
    const before = await scrape(server.url);
    const count = (e: Exposition, method: string, code: string) =>
      valueOf(e, "jetq_rpc_handled_total", labels(method, code)) ?? 0;
    const { id } = await engine.submit({ queue: idle, input: 1 });
    const connect = createClient(QueueService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const grpc = createClient(QueueService, createGrpcTransport({ baseUrl: server.url }));
    const fastPathBefore = server.fastPathCalls;
    await connect.getStatus({ id });
    expect(server.fastPathCalls).toBe(fastPathBefore + 1);
    await grpc.getStatus({ id });
    const missing = formatJobId({ queue: idle, seq: 1_000_000, token: newToken() });
    await expect(connect.getStatus({ id: missing })).rejects.toThrow(/not.found/i);

    const abort = new AbortController();
    const stream = connect.streamStatus({ id }, { signal: abort.signal })[Symbol.asyncIterator]();
    await stream.next();
    const open = await scrape(server.url);
    expect(valueOf(open, "jetq_rpc_streams_open", { service: "jetq.v1.QueueService", method: "StreamStatus" })).toBe(1);
    abort.abort();
    await stream.next().catch(() => undefined);
    const after = await waitFor(async () => {
      const e = await scrape(server.url);
      return valueOf(e, "jetq_rpc_streams_open", { service: "jetq.v1.QueueService", method: "StreamStatus" }) === 0
        ? e
        : undefined;
    });
    expect(count(after, "GetStatus", "OK") - count(before, "GetStatus", "OK")).toBe(2);
    expect(count(after, "GetStatus", "NotFound") - count(before, "GetStatus", "NotFound")).toBe(1);
    expect(count(after, "StreamStatus", "Canceled") - count(before, "StreamStatus", "Canceled")).toBe(1);
    const timed = valueOf(after, "jetq_rpc_duration_seconds_count", {
      service: "jetq.v1.QueueService",
      method: "GetStatus",
    });
    expect(timed).toBe(count(after, "GetStatus", "OK") + count(after, "GetStatus", "NotFound"));
  });

  it("each server has its own registry; metrics: false serves no /metrics; only GET and HEAD are answered", async () => {
    const other = await startServer({ engine, port: 0, host: "127.0.0.1" });
    const off = await startServer({ engine, port: 0, host: "127.0.0.1", metrics: false });
    try {
      const m = await scrape(other.url);
      expect(samplesOf(m, "jetq_jobs_submitted_total", { queue: work })).toEqual([]);
      expect(samplesOf(m, "jetq_rpc_handled_total")).toEqual([]);
      expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
      const post = await fetch(`${other.url}/metrics`, { method: "POST" });
      expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    } finally {
      await other.close();
      await off.close();
    }
  });
});
