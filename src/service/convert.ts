/**
 * Engine types ⇄ generated messages. The engine speaks plain JSON values and
 * epoch milliseconds; the wire speaks google.protobuf.Value and Timestamp.
 */
import { create, type JsonValue } from "@bufbuild/protobuf";
import { durationMs, timestampFromMs, timestampMs, type Value } from "@bufbuild/protobuf/wkt";
import {
  CancelResponseSchema,
  GetResultResponseSchema,
  JobErrorSchema,
  JobSchema,
  LogEntrySchema,
  LogLevel as ProtoLogLevel,
  QueueCountResponseSchema,
  type CancelResponse,
  type GetResultResponse,
  type Job,
  type JobError as ProtoJobError,
  type JobOptions as ProtoJobOptions,
  type LogEntry as ProtoLogEntry,
  type QueueCountResponse,
} from "../../gen/jetq/v1/queue_pb.js";
import { invalidArgument } from "../engine/errors.js";
import { DEFAULT_PRIORITY } from "../engine/job-id.js";
import { scheduleFromProto, scheduleToProto } from "./job-control/schedule-wire.js";
import { assertMaxLostLeases } from "../engine/lost-leases.js";
import { assertWebhookUrl } from "../engine/webhook-url.js";
import type {
  CancelOutcome,
  JobError,
  JobOptions,
  JobResult,
  JobStatus,
  LogEntry,
  LogLevel,
  QueueCounts,
} from "../engine/types.js";
import { jobStateToProto } from "./job-state-wire.js";
import { jsonToValue, valueToJsonStrict } from "./json-value.js";

const LEVELS: Record<LogLevel, ProtoLogLevel> = {
  debug: ProtoLogLevel.DEBUG,
  info: ProtoLogLevel.INFO,
  warn: ProtoLogLevel.WARN,
  error: ProtoLogLevel.ERROR,
};

export function logLevelToProto(level: LogLevel): ProtoLogLevel {
  return LEVELS[level] ?? ProtoLogLevel.UNSPECIFIED;
}

export { jsonToValue } from "./json-value.js";

/**
 * A missing Value (field unset) is JSON null, so Submit without input works.
 * A Value JSON cannot hold (NaN or Infinity, e.g. from `1e999` or binary
 * double bits) is the client's mistake: INVALID_ARGUMENT, not INTERNAL.
 */
export function valueToJson(value: Value | undefined, field = "input"): JsonValue {
  if (value === undefined || value.kind.case === undefined) return null;
  try {
    return valueToJsonStrict(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidArgument(`${field}: not a JSON value: ${why}`);
  }
}

function jobErrorToProto(error: JobError): ProtoJobError {
  return create(JobErrorSchema, { code: error.code, message: error.message });
}

function logEntryToProto(entry: LogEntry): ProtoLogEntry {
  return create(LogEntrySchema, {
    message: entry.message,
    level: logLevelToProto(entry.level),
    source: entry.source,
    timestamp: timestampFromMs(entry.timestamp),
  });
}

export function jobToProto(status: JobStatus): Job {
  const job = create(JobSchema, {
    id: status.id,
    queue: status.queue,
    state: jobStateToProto(status.state),
    queuePosition: status.state === "QUEUED" ? status.queuePosition : undefined,
    priority: status.priority ?? DEFAULT_PRIORITY,
    attempt: status.attempt,
    progress: status.progress,
    createdAt: timestampFromMs(status.createdAt),
    startedAt: status.startedAt !== undefined ? timestampFromMs(status.startedAt) : undefined,
    finishedAt: status.finishedAt !== undefined ? timestampFromMs(status.finishedAt) : undefined,
    error: status.error ? jobErrorToProto(status.error) : undefined,
    logs: status.logs?.map(logEntryToProto) ?? [],
    // Unset unless asked for (and kept); a null input is a set Value holding null.
    input: status.input !== undefined ? jsonToValue(status.input) : undefined,
  });
  return scheduleToProto(job, status);
}

export function resultToProto(result: JobResult): GetResultResponse {
  return create(GetResultResponseSchema, {
    id: result.id,
    state: jobStateToProto(result.state),
    output: result.state === "COMPLETED" && result.output !== undefined ? jsonToValue(result.output) : undefined,
    error: result.error ? jobErrorToProto(result.error) : undefined,
  });
}

export function cancelToProto(outcome: CancelOutcome): CancelResponse {
  return create(CancelResponseSchema, {
    removed: outcome.removed,
    message: outcome.message,
    job: jobToProto(outcome.job),
  });
}

export function countsToProto(counts: QueueCounts): QueueCountResponse {
  return create(QueueCountResponseSchema, {
    queue: counts.queue,
    inQueue: counts.inQueue,
    running: counts.running,
  });
}

export const MAX_ATTEMPTS_LIMIT = 100;
/** Upper bound of every duration option (timeout, retry_backoff, retry_backoff_max). */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;
export const MAX_TIMEOUT_MS = MAX_DURATION_MS;
/** Clients' clocks drift: a deadline this far in the past is still accepted. */
export const START_DEADLINE_SKEW_MS = 60_000;
/** A start deadline further ahead than this is a mistake (seconds sent as milliseconds, ...). */
export const MAX_START_DEADLINE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;

/** A google.protobuf.Duration option as whole milliseconds, > 0 and at most 24h. */
function durationOption(field: string, d: NonNullable<ProtoJobOptions["timeout"]>, unset: string): number {
  const { seconds, nanos } = d;
  const ms = durationMs(d);
  if (seconds < 0n || nanos < 0 || nanos > 999_999_999 || !(ms > 0)) {
    throw invalidArgument(`options.${field}: must be greater than zero (got ${seconds}s ${nanos}ns); ${unset}`);
  }
  if (ms > MAX_DURATION_MS) {
    throw invalidArgument(
      `options.${field}: ${Math.round(ms / 1000)}s is over the limit of 24h (${MAX_DURATION_MS / 1000}s)`,
    );
  }
  return Math.ceil(ms);
}

/**
 * Validates and converts Submit's options. Errors name the field as the
 * client wrote it (snake_case, as in the .proto).
 */
export function jobOptionsFromProto(options: ProtoJobOptions | undefined, now: number = Date.now()): JobOptions {
  const out: JobOptions = {};
  if (!options) return out;
  // Checked by the engine core (options.priority, 1 to 10), the rule's one place.
  if (options.priority !== undefined) out.priority = options.priority;
  if (options.maxAttempts !== undefined) {
    const n = options.maxAttempts;
    if (!Number.isInteger(n) || n < 1 || n > MAX_ATTEMPTS_LIMIT) {
      throw invalidArgument(
        `options.max_attempts: ${n} is out of range: use 1 to ${MAX_ATTEMPTS_LIMIT}, or leave it unset for the queue's default`,
      );
    }
    out.maxAttempts = n;
  }
  if (options.maxLostLeases !== undefined) {
    out.maxLostLeases = assertMaxLostLeases(
      "options.max_lost_leases",
      options.maxLostLeases,
      "leave it unset for the queue's default",
    );
  }
  if (options.timeout !== undefined) {
    out.timeoutMs = durationOption("timeout", options.timeout, "leave it unset for no time limit");
  }
  if (options.retryBackoff !== undefined) {
    out.backoffBaseMs = durationOption("retry_backoff", options.retryBackoff, "leave it unset for the queue's default");
  }
  if (options.retryBackoffMax !== undefined) {
    out.backoffMaxMs = durationOption(
      "retry_backoff_max",
      options.retryBackoffMax,
      "leave it unset for the queue's default",
    );
    if (out.backoffBaseMs !== undefined && out.backoffMaxMs < out.backoffBaseMs) {
      throw invalidArgument(
        `options.retry_backoff_max: ${out.backoffMaxMs} ms is below options.retry_backoff (${out.backoffBaseMs} ms); the cap must be at least the first delay`,
      );
    }
  }
  if (options.startDeadline !== undefined) {
    const { nanos } = options.startDeadline;
    if (nanos < 0 || nanos > 999_999_999) {
      throw invalidArgument(`options.start_deadline: nanos ${nanos} is out of range 0..999999999`);
    }
    const ms = timestampMs(options.startDeadline);
    // Date's own range, so the messages below can always print it.
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
      throw invalidArgument("options.start_deadline: is not a valid timestamp");
    }
    if (ms < now - START_DEADLINE_SKEW_MS) {
      throw invalidArgument(
        `options.start_deadline: ${new Date(ms).toISOString()} is in the past (server time ${new Date(now).toISOString()}); use a time in the future`,
      );
    }
    if (ms > now + MAX_START_DEADLINE_AHEAD_MS) {
      throw invalidArgument(
        `options.start_deadline: ${new Date(ms).toISOString()} is more than a year ahead (server time ${new Date(now).toISOString()}); leave it unset for no deadline`,
      );
    }
    out.startDeadline = ms;
  }
  if (options.runAt !== undefined || options.delay !== undefined) scheduleFromProto(options, out, now);
  if (options.webhookUrl !== "") out.webhookUrl = assertWebhookUrl("options.webhook_url", options.webhookUrl);
  return out;
}
