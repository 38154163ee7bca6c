/**
 * The job errors the engine itself writes (not the handler's), one wording
 * for every driver: the conformance suite compares them.
 */
import type { JobError } from "../types.js";

export function expiredError(startDeadline: number): JobError {
  return {
    code: "EXPIRED",
    message: `the job was not started before its start deadline ${new Date(startDeadline).toISOString()}`,
  };
}

export const CANCELLED_BY_CLIENT: Readonly<JobError> = Object.freeze({
  code: "CANCELLED",
  message: "cancelled by a client",
});

export function cancelledError(): JobError {
  return { ...CANCELLED_BY_CLIENT };
}

/** Whether a QUEUED job with this start deadline must end EXPIRED at `now`. */
export function deadlinePassed(startDeadline: number | undefined, now: number): boolean {
  return startDeadline !== undefined && startDeadline > 0 && startDeadline <= now;
}
