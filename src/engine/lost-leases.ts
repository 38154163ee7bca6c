/**
 * The crash-retry rule, shared by every engine. A lost lease (its worker
 * died, lost its connection or stalled past the ack wait: the attempt began,
 * or was delivered, and never reported an outcome) is not the job's failure:
 * the job runs again without using up max_attempts, up to maxLostLeases
 * times; the next loss ends it FAILED with code WORKER_LOST. `attempt` still
 * numbers every run, lost ones included.
 */
import { invalidArgument } from "./errors.js";
import type { JobError, JobOptions, QueueConfig } from "./types.js";

export const WORKER_LOST = "WORKER_LOST";
export const DEFAULT_MAX_LOST_LEASES = 5;
export const MAX_LOST_LEASES_LIMIT = 100;

/** How many lost leases the job survives: its own option, else its queue's. */
export function maxLostLeasesOf(options: JobOptions, config: QueueConfig): number {
  return options.maxLostLeases ?? config.maxLostLeases ?? DEFAULT_MAX_LOST_LEASES;
}

/** Attempts that count against max_attempts: runs that were neither handed back nor lost. */
export function attemptsUsed(attempt: number, interrupted = 0, lost = 0): number {
  return attempt - interrupted - lost;
}

/** Whether `lost` lost leases (this one included) end the job. */
export function tooManyLostLeases(lost: number, options: JobOptions, config: QueueConfig): boolean {
  return lost > maxLostLeasesOf(options, config);
}

/** The error of a job that ended because its workers kept dying. */
export function workerLostError(lost: number, options: JobOptions, config: QueueConfig): JobError {
  const cap = maxLostLeasesOf(options, config);
  return {
    code: WORKER_LOST,
    message:
      `the job's worker was lost ${lost} time${lost === 1 ? "" : "s"} (died, disconnected or stalled: ` +
      `no outcome and no heartbeat within ${config.ackWaitMs} ms); at most ${cap} lost ` +
      `lease${cap === 1 ? " is" : "s are"} retried`,
  };
}

/** Throws INVALID_ARGUMENT naming `field` unless n is a whole number in 0..MAX_LOST_LEASES_LIMIT. */
export function assertMaxLostLeases(field: string, n: unknown, unset: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_LOST_LEASES_LIMIT) {
    throw invalidArgument(`${field}: ${String(n)} is out of range: use 0 to ${MAX_LOST_LEASES_LIMIT}, or ${unset}`);
  }
  return n;
}

/**
 * Why a delivery must not run, its job ending FAILED with the error: one
 * lost lease too many, or no attempts left (only when max_attempts was
 * lowered under a job that runs). undefined: it runs.
 */
export function refusalOf(
  run: { attempt: number; interrupted: number; lost: number },
  options: JobOptions,
  config: QueueConfig,
): JobError | undefined {
  if (tooManyLostLeases(run.lost, options, config)) return workerLostError(run.lost, options, config);
  const maxAttempts = options.maxAttempts ?? config.maxAttempts;
  if (attemptsUsed(run.attempt, run.interrupted, run.lost) > maxAttempts) {
    return { code: "ATTEMPTS_EXHAUSTED", message: `no attempts remain of ${maxAttempts}` };
  }
  return undefined;
}
