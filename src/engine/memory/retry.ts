/**
 * Retry on the embedded driver: one synchronous step, so two concurrent
 * retries cannot both win (the second finds the job QUEUED). The job keeps
 * its id and joins the end of its queue's line; its last attempt moves to
 * the history; the attempts before the Retry count as handed back
 * (`interrupted`: numbered, not counted against max_attempts) and lost
 * leases start again from 0, so the job has its full budget again.
 */
import { appendAttempt, assertRetryable, endedLast, retriedOptions } from "../core/retry-job.js";
import type { JobStatus, ReadOptions } from "../types.js";
import type { JobRef } from "../driver/types.js";
import type { MemoryDeliveries } from "./deliveries.js";
import { snapshot, type JobRecord } from "./job-record.js";
import type { MemoryStore } from "./store.js";
import { notifyWatchers } from "./watch.js";

export function retryJob(store: MemoryStore, deliveries: MemoryDeliveries, ref: JobRef, read: ReadOptions): JobStatus {
  const job = store.lookup(ref, read);
  assertRetryable(job.id, job.state);
  const ended = endedLast(job.history, job);
  if (ended) job.history = appendAttempt(job.history, ended);
  requeue(store, job);
  notifyWatchers(job, "status");
  deliveries.serveWaiters(job.queue);
  return snapshot(job);
}

function requeue(store: MemoryStore, job: JobRecord): void {
  const q = job.queue;
  job.options = retriedOptions(job.options);
  job.interrupted = job.deliveries;
  job.lost = 0;
  job.state = "QUEUED";
  job.error = undefined;
  job.finishedAt = undefined;
  job.output = undefined;
  job.scheduledAt = undefined;
  job.progress = 0;
  job.line = q.nextSeq++;
  q.live.set(job.line, job);
  store.makeReady(job);
}
