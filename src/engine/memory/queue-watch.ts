/**
 * Who watches a whole queue of the embedded driver (Driver.watchQueue): told
 * the id of each job of the queue that is submitted or changes, so the
 * core's WatchJobs follows it. Keyed by the queue's state, which lives as
 * long as the queue.
 */
import type { JobRecord, QueueState } from "./job-record.js";

export type QueueListener = (id: string) => void;

const listeners = new WeakMap<QueueState, Set<QueueListener>>();

/** Registers onJob for the queue's jobs; returns the unsubscribe. */
export function listenToQueue(q: QueueState, onJob: QueueListener): () => void {
  let set = listeners.get(q);
  if (!set) listeners.set(q, (set = new Set()));
  set.add(onJob);
  return () => {
    set.delete(onJob);
    if (set.size === 0) listeners.delete(q);
  };
}

/** Tells the queue's watchers that this job was submitted or changed. */
export function tellQueueWatchers(job: JobRecord): void {
  const set = listeners.get(job.queue);
  if (!set) return;
  for (const onJob of [...set]) onJob(job.id);
}
