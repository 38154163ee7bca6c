/**
 * What running and settling one job share: the worker's side (its logger,
 * the pulls' hold, stop()'s grace) and, per job, its log and the lease
 * calls retried while the engine is unreachable.
 */
import type { Logger } from "pino";
import type { ActiveJob } from "./active-job.js";
import { JobLog } from "./job-log.js";
import { LEASE_RETRY, whileUnreachable, type RetryPolicy } from "./lease-retry.js";
import type { PullHold } from "./pull-hold.js";

/** The worker-wide part, one per worker. */
export interface JobRuntime {
  logger: Logger;
  hold: PullHold;
  /** Aborted when stop()'s grace ran out: lease calls waiting for the engine stop retrying. */
  graceOver: AbortSignal;
  /** Default LEASE_RETRY. */
  retry?: RetryPolicy;
}

export interface JobScope {
  readonly log: JobLog;
  /** Log bindings; begin() may renumber the attempt. */
  readonly bindings: { queue: string; job: string; attempt: number };
  /** A lease call, retried while UNAVAILABLE (lease-retry.ts); an outage makes the job hold the pulls. */
  call<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

export function jobScope(job: ActiveJob, runtime: JobRuntime): JobScope {
  const { lease } = job;
  const bindings = { queue: lease.queue, job: lease.id, attempt: lease.attempt };
  const log = new JobLog(runtime.logger, bindings);
  const retry = {
    log,
    policy: runtime.retry ?? LEASE_RETRY,
    giveUp: runtime.graceOver,
    onOutage: () => runtime.hold.hold(job),
    onReached: () => runtime.hold.reachedAgain(job),
  };
  return { log, bindings, call: (what, fn) => whileUnreachable(what, fn, retry) };
}
