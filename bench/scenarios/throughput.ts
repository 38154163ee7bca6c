/**
 * End-to-end throughput: concurrent clients Submit echo jobs over Connect and
 * see them COMPLETED.
 *   stream  closed loop: each client submits, opens StreamStatus at once and
 *           waits for COMPLETED before its next job (what a real client does)
 *   one-call  the same closed loop with SubmitAndStream: one call per job
 *   one-call-output  the same with include_output: the result in the same call
 *   rest    the same closed loop over REST: POST /queue/{queue}, then the
 *           Server-Sent Events status stream until the terminal event
 *   bulk    SubmitBatch of 1,000 + WatchJobs on the batch (scenarios/bulk.ts)
 *   count   open loop: clients submit as fast as they can for the duration;
 *           completion is watched with QueueCount polls (every 20 ms) until
 *           nothing is waiting or running, then GetResult of every job checks
 *           all are COMPLETED (not timed)
 * Both run for a fixed time, so they finish whatever the rate.
 */
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { closeAll, openJobsClients, type ClientKind, type HttpVersion } from "../client.js";
import type { Codec } from "../lean-client.js";
import { openRestClient } from "../rest-client.js";
import { pool, rate } from "../stats.js";
import { measureBulk } from "./bulk.js";
import { input, runJob, stateName, type Api, type Flow } from "./jobs.js";

export interface ThroughputOptions {
  url: string;
  httpVersion: HttpVersion;
  client: ClientKind;
  /** Concurrent clients (in-flight jobs in the stream mode). */
  clients: number;
  /** Connections they share (HTTP/2 sessions; HTTP/1.1 opens one socket per in-flight call anyway). */
  connections: number;
  durationMs: number;
  queue?: string;
  /** Default "proto" (binary); "json": Connect JSON, lean client only. */
  codec?: Codec;
  /** Batches in flight in the bulk mode. */
  batchers?: number;
}

export interface ThroughputResult {
  jobsPerSec: number;
  jobs: number;
  ms: number;
  notCompleted: number;
  /** CPU time per job of each process (ms), filled in by the orchestrator. */
  cpuMsPerJob?: Record<string, number>;
  /** JetStream API requests and messages in/out of nats-server per job, filled in by the orchestrator. */
  natsPerJob?: { api: number; inMsgs: number; outMsgs: number };
}

/** One job, start to terminal state, the way one closed-loop client runs it. */
type RunOne = (client: number, n: number) => Promise<JobState>;

async function closedLoop(clients: number, durationMs: number, runOne: RunOne): Promise<ThroughputResult> {
  const start = performance.now();
  const stopAt = start + durationMs;
  let jobs = 0;
  let notCompleted = 0;
  let firstError: unknown;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < stopAt) {
        try {
          const state = await runOne(c, jobs);
          if (state !== JobState.COMPLETED) {
            notCompleted++;
            firstError ??= new Error(`job ended ${stateName(state)}`);
          }
        } catch (err) {
          notCompleted++;
          firstError ??= err;
        }
        jobs++;
      }
    }),
  );
  const ms = performance.now() - start;
  if (notCompleted > jobs / 100)
    throw new Error(`${notCompleted} of ${jobs} jobs failed; first: ${String(firstError)}`);
  return { jobsPerSec: rate(jobs - notCompleted, ms), jobs, ms, notCompleted };
}

async function openLoop(apis: Api[], clients: number, durationMs: number, queue: string): Promise<ThroughputResult> {
  const ids: string[] = [];
  const start = performance.now();
  const stopAt = start + durationMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const api = apis[c % apis.length]!;
      while (performance.now() < stopAt) {
        ids.push((await api.submit({ queue, input: input(ids.length) })).id);
      }
    }),
  );
  const api = apis[0]!;
  const drainDeadline = performance.now() + 120_000;
  for (;;) {
    const qc = await api.queueCount({ queue });
    if (qc.inQueue === 0 && qc.running === 0) break;
    if (performance.now() > drainDeadline)
      throw new Error(`queue ${queue} not drained: ${qc.inQueue} waiting, ${qc.running} running`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - start;
  let notCompleted = 0;
  await pool(ids.length, clients, async (i, w) => {
    const r = await apis[w % apis.length]!.getResult({ id: ids[i]! });
    if (r.state !== JobState.COMPLETED) notCompleted++;
  });
  if (notCompleted > 0) throw new Error(`${notCompleted} of ${ids.length} jobs not COMPLETED after the queue drained`);
  return { jobsPerSec: rate(ids.length, ms), jobs: ids.length, ms, notCompleted };
}

/** See the top of this file. */
export type ThroughputMode = "stream" | "one-call" | "one-call-output" | "count" | "rest" | "bulk";

const FLOWS: Record<"stream" | "one-call" | "one-call-output", Flow> = {
  stream: "two-call",
  "one-call": "one-call",
  "one-call-output": "one-call-output",
};

const REST_STATES: Record<string, JobState> = {
  COMPLETED: JobState.COMPLETED,
  FAILED: JobState.FAILED,
  CANCELLED: JobState.CANCELLED,
  EXPIRED: JobState.EXPIRED,
};

async function restLoop(o: ThroughputOptions, queue: string): Promise<ThroughputResult> {
  const rest = openRestClient(o.url);
  try {
    return await closedLoop(o.clients, o.durationMs, async (_, n) => {
      const status = await rest.run(queue, { n, text: "a small job input for the bench" });
      return REST_STATES[status] ?? JobState.UNSPECIFIED;
    });
  } finally {
    rest.close();
  }
}

export async function measureThroughput(o: ThroughputOptions, mode: ThroughputMode): Promise<ThroughputResult> {
  const queue = o.queue ?? "echo";
  if (mode === "rest") return restLoop(o, queue);
  if (mode === "bulk") return measureBulk({ ...o, batchers: o.batchers ?? 4, queue });
  const clients = openJobsClients(o.client, o.url, o.httpVersion, o.connections, o.codec);
  const apis = clients.map((c) => c.api);
  try {
    if (mode === "count") return await openLoop(apis, o.clients, o.durationMs, queue);
    const flow = FLOWS[mode];
    return await closedLoop(o.clients, o.durationMs, (c, n) => runJob(apis[c % apis.length]!, queue, n, flow));
  } finally {
    closeAll(clients);
  }
}
