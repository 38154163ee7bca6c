/**
 * One job this worker holds, from the pull that handed it out until its
 * handler returned: its lease, its abort signal and why it aborted, and
 * whether stop() handed it back or an outcome already settled it.
 */
import type { JobLease } from "../engine/types.js";
import { timeoutMessage } from "./outcome.js";

export type AbortReason = "cancel" | "timeout" | "shutdown";

export interface ActiveJob {
  readonly lease: JobLease;
  /** Its signal is the handler's ctx.signal. */
  readonly controller: AbortController;
  /** Why the signal aborted; settle() reads it. */
  reason?: AbortReason;
  /** Handed back by stop(): nothing else may settle this lease. */
  released: boolean;
  /** complete/fail was called: the handler may still be running, the lease is done. */
  settled: boolean;
  /** Resolves when the job is settled and its handler returned. */
  done: Promise<void>;
}

export function newActiveJob(lease: JobLease): ActiveJob {
  return { lease, controller: new AbortController(), released: false, settled: false, done: Promise.resolve() };
}

/** Aborts the handler's signal for `reason`, unless it already aborted for another. */
export function abortJob(job: ActiveJob, reason: AbortReason): void {
  if (job.controller.signal.aborted) return;
  job.reason = reason;
  job.controller.abort(abortError(reason, job));
}

/** What the handler's signal.reason is. */
function abortError(reason: AbortReason, job: ActiveJob): Error {
  switch (reason) {
    case "cancel":
      return new DOMException(`job ${job.lease.id} was cancelled`, "AbortError");
    case "timeout":
      return new DOMException(timeoutMessage(job.lease), "TimeoutError");
    case "shutdown":
      return new DOMException("the worker is shutting down", "AbortError");
  }
}
