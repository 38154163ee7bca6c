/**
 * Job series from job events (../engine/job-events.ts): each transition is
 * told once, by the process that made it, so each process counts only its
 * own and the sum over processes is the whole. docs/ARCHITECTURE.md §8.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { JobEvent, JobEventListener, StartedEvent } from "../engine/job-events.js";

/** Seconds, for jobs of milliseconds to hours (the last bucket, 1 day, catches what waited longer). */
export const JOB_SECONDS_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400,
];

/** Jobs whose last start this process remembers (for crash redeliveries); bounded, oldest forgotten first. */
const REMEMBERED_STARTS = 10_000;

export function jobMetricsListener(registry: Registry, label: (queue: string) => string): JobEventListener {
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[] = ["queue"]) =>
    new Counter({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, labelNames: string[]) =>
    new Histogram({ name, help, labelNames, buckets: JOB_SECONDS_BUCKETS, registers });
  const submitted = counter("jetq_jobs_submitted_total", "Jobs stored by a Submit (idempotent repeats not counted).");
  const started = counter("jetq_jobs_started_total", "Attempts that began (the handler ran), crash reruns included.");
  const finished = counter("jetq_jobs_finished_total", "Jobs that reached a terminal state, by state.", [
    "queue",
    "state",
  ]);
  const retried = counter("jetq_jobs_retried_total", "Failed attempts queued to run again.");
  const redelivered = counter(
    "jetq_jobs_redelivered_total",
    "Starts after a lost lease (a worker died, disconnected or stalled): crash reruns.",
  );
  const released = counter("jetq_jobs_released_total", "Jobs a stopping worker handed back unfinished.");
  const queueWait = histogram("jetq_job_queue_wait_seconds", "From submit to the first start.", ["queue"]);
  const runTime = histogram("jetq_job_run_seconds", "From the last attempt's start to the end, by state.", [
    "queue",
    "state",
  ]);
  const endToEnd = histogram("jetq_job_end_to_end_seconds", "From submit to the end, by state.", ["queue", "state"]);
  const crashReruns = crashRerunDetector();

  return (event: JobEvent) => {
    const queue = label(event.queue);
    switch (event.kind) {
      case "submitted":
        submitted.inc({ queue });
        return;
      case "started":
        started.inc({ queue });
        if (crashReruns(event)) redelivered.inc({ queue });
        // The first start only: a retry's or rerun's wait would include backoff and earlier runs.
        if (event.attempt === 1 && event.lostLeases === 0) {
          queueWait.observe({ queue }, seconds(event.startedAt - event.createdAt));
        }
        return;
      case "retried":
        retried.inc({ queue });
        return;
      case "released":
        released.inc({ queue });
        return;
      case "finished": {
        crashReruns.forget(event.id);
        const state = event.state.toLowerCase();
        finished.inc({ queue, state });
        if (event.startedAt !== undefined)
          runTime.observe({ queue, state }, seconds(event.finishedAt - event.startedAt));
        endToEnd.observe({ queue, state }, seconds(event.finishedAt - event.createdAt));
        return;
      }
    }
  };
}

const seconds = (ms: number) => Math.max(0, ms) / 1000;

/**
 * Whether a start reruns a lost lease: its lostLeases grew since this
 * process last saw the job start (a job it never saw start counts from 0).
 * A job that lost a lease and later retries on another process counts
 * again there: processes share no memory of starts.
 */
function crashRerunDetector(): ((event: StartedEvent) => boolean) & { forget(id: string): void } {
  const lastLost = new Map<string, number>();
  const detect = (event: StartedEvent) => {
    const before = lastLost.get(event.id) ?? 0;
    lastLost.delete(event.id);
    lastLost.set(event.id, event.lostLeases);
    if (lastLost.size > REMEMBERED_STARTS) lastLost.delete(lastLost.keys().next().value!);
    return event.lostLeases > before;
  };
  return Object.assign(detect, { forget: (id: string) => void lastLost.delete(id) });
}
