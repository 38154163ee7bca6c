/**
 * The bulk path: each batcher submits BATCH jobs in one SubmitBatch call,
 * watches them all with one WatchJobs call on the batch's ids (which ends
 * when every job is terminal) and starts its next batch; for a fixed time.
 * A server without SubmitBatch (UNIMPLEMENTED) is reported as such, not as
 * a failure (BulkUnimplemented).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { closeAll, openJobsClients, type HttpVersion } from "../client.js";
import { rate } from "../stats.js";
import { input, TERMINAL, type Api } from "./jobs.js";
import type { ThroughputResult } from "./throughput.js";

/** Jobs per SubmitBatch call: the RPC's limit. */
export const BATCH = 1_000;

export class BulkUnimplemented extends Error {
  constructor(rpc: string) {
    super(`${rpc}: UNIMPLEMENTED on this server`);
  }
}

export interface BulkOptions {
  url: string;
  httpVersion: HttpVersion;
  /** Batches in flight at once, each on its own connection. */
  batchers: number;
  durationMs: number;
  queue?: string;
}

const unimplemented = (err: unknown) => err instanceof ConnectError && err.code === Code.Unimplemented;

/** One batch: SubmitBatch, then WatchJobs on its ids until all are terminal; the count of jobs not COMPLETED. */
async function oneBatch(api: Api, queue: string, first: number): Promise<number> {
  const jobs = Array.from({ length: BATCH }, (_, i) => ({ queue, input: input(first + i) }));
  const answer = await api.submitBatch({ jobs }).catch((err: unknown) => {
    throw unimplemented(err) ? new BulkUnimplemented("SubmitBatch") : err;
  });
  const ids: string[] = [];
  for (const r of answer.results) {
    if (r.outcome.case !== "job") throw new Error(`SubmitBatch item failed: ${JSON.stringify(r.outcome.value)}`);
    ids.push(r.outcome.value.id);
  }
  const open = new Set(ids);
  let notCompleted = 0;
  try {
    for await (const job of api.watchJobs({ ids })) {
      if (!TERMINAL.has(job.state) || !open.delete(job.id)) continue;
      if (job.state !== JobState.COMPLETED) notCompleted++;
      if (open.size === 0) break;
    }
  } catch (err) {
    throw unimplemented(err) ? new BulkUnimplemented("WatchJobs") : err;
  }
  if (open.size > 0) throw new Error(`WatchJobs ended with ${open.size} of ${BATCH} jobs not terminal`);
  return notCompleted;
}

export async function measureBulk(o: BulkOptions): Promise<ThroughputResult> {
  const clients = openJobsClients("lean", o.url, o.httpVersion, o.batchers);
  const queue = o.queue ?? "echo";
  const start = performance.now();
  const stopAt = start + o.durationMs;
  let jobs = 0;
  let notCompleted = 0;
  try {
    await Promise.all(
      clients.map(async ({ api }) => {
        while (performance.now() < stopAt) {
          const first = jobs;
          jobs += BATCH;
          notCompleted += await oneBatch(api, queue, first);
        }
      }),
    );
  } finally {
    closeAll(clients);
  }
  const ms = performance.now() - start;
  if (notCompleted > 0) throw new Error(`${notCompleted} of ${jobs} bulk jobs did not complete`);
  return { jobsPerSec: rate(jobs, ms), jobs, ms, notCompleted };
}
