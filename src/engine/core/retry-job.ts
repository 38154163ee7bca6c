/**
 * What Retry may retry, and what it leaves of the job's attempts, once for
 * every driver. A FAILED, CANCELLED or EXPIRED job runs again under its id;
 * a COMPLETED job is not retried (its result stands: submit it again to
 * compute it again), and a QUEUED or RUNNING one is still in its course.
 */
import { failedPrecondition } from "../errors.js";
import type { JobAttempt, JobError, JobOptions, JobState } from "../types.js";

export const RETRYABLE_STATES: ReadonlySet<JobState> = new Set(["FAILED", "CANCELLED", "EXPIRED"]);

/** Throws FAILED_PRECONDITION naming the job's state unless Retry may run it again. */
export function assertRetryable(id: string, state: JobState): void {
  if (RETRYABLE_STATES.has(state)) return;
  const why =
    state === "COMPLETED"
      ? "a completed job is not run again (submit it anew)"
      : "it has not finished (cancel it first, or wait for its end)";
  throw failedPrecondition(`job "${id}" is ${state}: only FAILED, CANCELLED or EXPIRED jobs can be retried; ${why}`);
}

/**
 * The options a retried job runs with: without its start deadline (it
 * passed, or would expire the new run: the Retry is the order to run now)
 * and without its run time (it is due at once).
 */
export function retriedOptions(options: JobOptions): JobOptions {
  const { startDeadline: _deadline, runAt: _runAt, delayMs: _delay, ...rest } = options;
  return rest;
}

/** The newest attempts a job keeps in its history (older ones are dropped). */
export const MAX_KEPT_ATTEMPTS = 100;

/** What a job says of its last attempt (a status, a stored record). */
export interface LastAttempt {
  state: JobState;
  attempt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: JobError;
}

/** The history with `entry` appended (replacing an entry of the same number), newest kept. */
export function appendAttempt(history: readonly JobAttempt[] | undefined, entry: JobAttempt): JobAttempt[] {
  const kept = (history ?? []).filter((a) => a.attempt !== entry.attempt);
  kept.push(entry);
  return kept.slice(-MAX_KEPT_ATTEMPTS);
}

/** The ended attempt a finished job's last run was, if it ran and the history lacks it. */
export function endedLast(history: readonly JobAttempt[] | undefined, last: LastAttempt): JobAttempt | undefined {
  if (last.attempt < 1 || last.startedAt === undefined) return undefined;
  if (history?.some((a) => a.attempt === last.attempt)) return undefined;
  if (last.state === "QUEUED" || last.state === "RUNNING") return undefined;
  return {
    attempt: last.attempt,
    startedAt: last.startedAt,
    ...(last.finishedAt !== undefined ? { finishedAt: last.finishedAt } : {}),
    outcome: last.state,
    ...(last.error ? { error: { ...last.error } } : {}),
  };
}

/** The attempts that ended, oldest first: the stored history and the last run when it ended. */
export function attemptsOf(history: readonly JobAttempt[] | undefined, last: LastAttempt): JobAttempt[] {
  const out = (history ?? []).map((a) => ({ ...a, ...(a.error ? { error: { ...a.error } } : {}) }));
  const ended = endedLast(history, last);
  if (ended) out.push(ended);
  return out;
}

/** A failed attempt that is retried: outcome QUEUED, with its error. */
export function retriedAttempt(attempt: number, startedAt: number | undefined, error: JobError): JobAttempt {
  return {
    attempt,
    ...(startedAt !== undefined ? { startedAt } : {}),
    finishedAt: Date.now(),
    outcome: "QUEUED",
    error: { ...error },
  };
}

/** A begun attempt whose lease was lost and which runs again: outcome QUEUED, error WORKER_LOST. */
export function lostAttempt(attempt: number, startedAt: number | undefined, ackWaitMs: number): JobAttempt {
  return retriedAttempt(attempt, startedAt, {
    code: "WORKER_LOST",
    message: `the worker was lost (died, disconnected or stalled: no outcome and no heartbeat within ${ackWaitMs} ms); the job runs again`,
  });
}
