/**
 * The wire side of delayed jobs and attempt history (issue 17): JobOptions
 * run_at / delay to the engine's runAt / delayMs, checked by the engine's
 * rule (../../engine/schedule.ts) with the fields named as the client wrote
 * them; Job.scheduled_at and Job.attempts from a status.
 */
import { create } from "@bufbuild/protobuf";
import { durationMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  JobAttemptSchema,
  JobErrorSchema,
  type Job,
  type JobAttempt as ProtoJobAttempt,
  type JobOptions as ProtoJobOptions,
} from "../../../gen/jetq/v1/queue_pb.js";
import { invalidArgument } from "../../engine/errors.js";
import { scheduledTime } from "../../engine/schedule.js";
import { jobStateToProto } from "../job-state-wire.js";
import type { JobAttempt, JobOptions, JobStatus } from "../../engine/types.js";

const WIRE_NAMES = { runAt: "options.run_at", delay: "options.delay", startDeadline: "options.start_deadline" };

/** Adds run_at / delay of the request to `out` (whose startDeadline is already checked). */
export function scheduleFromProto(options: ProtoJobOptions, out: JobOptions, now: number): void {
  if (options.runAt !== undefined) {
    const { nanos } = options.runAt;
    if (nanos < 0 || nanos > 999_999_999) {
      throw invalidArgument(`options.run_at: nanos ${nanos} is out of range 0..999999999`);
    }
    const ms = timestampMs(options.runAt);
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15)
      throw invalidArgument("options.run_at: is not a valid timestamp");
    out.runAt = ms;
  }
  if (options.delay !== undefined) {
    const { seconds, nanos } = options.delay;
    if (nanos < -999_999_999 || nanos > 999_999_999) {
      throw invalidArgument(`options.delay: nanos ${nanos} is out of range -999999999..999999999`);
    }
    const ms = durationMs(options.delay);
    if (!Number.isFinite(ms)) throw invalidArgument(`options.delay: ${seconds}s is not a duration`);
    out.delayMs = ms;
  }
  // The engine's rule, naming the proto's fields; the engine applies it again.
  scheduledTime(out, now, WIRE_NAMES);
}

function attemptToProto(a: JobAttempt): ProtoJobAttempt {
  return create(JobAttemptSchema, {
    attempt: a.attempt,
    startedAt: a.startedAt !== undefined ? timestampFromMs(a.startedAt) : undefined,
    finishedAt: a.finishedAt !== undefined ? timestampFromMs(a.finishedAt) : undefined,
    outcome: jobStateToProto(a.outcome),
    error: a.error ? create(JobErrorSchema, { code: a.error.code, message: a.error.message }) : undefined,
  });
}

/** Sets Job.scheduled_at and Job.attempts from the status. */
export function scheduleToProto(job: Job, status: JobStatus): Job {
  if (status.scheduledAt !== undefined) job.scheduledAt = timestampFromMs(status.scheduledAt);
  if (status.attempts) job.attempts = status.attempts.map(attemptToProto);
  return job;
}
