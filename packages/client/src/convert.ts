/** Generated messages ⇄ the SDK's plain shapes (types.ts). */
import { create, fromJson, toJson, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ValueSchema,
  durationFromMs,
  timestampDate,
  timestampFromDate,
  type Timestamp,
  type Value,
} from "@bufbuild/protobuf/wkt";
import {
  JobOptionsSchema,
  JobState as ProtoJobState,
  LogLevel as ProtoLogLevel,
  type GetResultResponse,
  type Job as ProtoJob,
  type JobAttempt as ProtoJobAttempt,
  type JobError as ProtoJobError,
  type QueueInfo as ProtoQueueInfo,
  type SubmitBatchResult,
} from "./gen/jetq/v1/queue_pb.js";
import type {
  BatchResult,
  Job,
  JobAttempt,
  JobOptions,
  JobResult,
  JobState,
  JsonValue,
  LogLevel,
  QueueInfo,
  QueueState,
} from "./types.js";

const STATES: Record<ProtoJobState, JobState | undefined> = {
  [ProtoJobState.UNSPECIFIED]: undefined,
  [ProtoJobState.QUEUED]: "QUEUED",
  [ProtoJobState.RUNNING]: "RUNNING",
  [ProtoJobState.COMPLETED]: "COMPLETED",
  [ProtoJobState.FAILED]: "FAILED",
  [ProtoJobState.CANCELLED]: "CANCELLED",
  [ProtoJobState.EXPIRED]: "EXPIRED",
};

const LEVELS: Record<ProtoLogLevel, LogLevel> = {
  [ProtoLogLevel.UNSPECIFIED]: "unspecified",
  [ProtoLogLevel.DEBUG]: "debug",
  [ProtoLogLevel.INFO]: "info",
  [ProtoLogLevel.WARN]: "warn",
  [ProtoLogLevel.ERROR]: "error",
};

export function stateFromProto(state: ProtoJobState): JobState {
  const s = STATES[state];
  // The server never sends UNSPECIFIED; a newer server's unknown state is not terminal to us.
  return s ?? "QUEUED";
}

const date = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);
const errorOf = (e: ProtoJobError | undefined) => (e ? { code: e.code, message: e.message } : undefined);

const STATE_NUMBERS: Record<JobState, ProtoJobState> = {
  QUEUED: ProtoJobState.QUEUED,
  RUNNING: ProtoJobState.RUNNING,
  COMPLETED: ProtoJobState.COMPLETED,
  FAILED: ProtoJobState.FAILED,
  CANCELLED: ProtoJobState.CANCELLED,
  EXPIRED: ProtoJobState.EXPIRED,
};

/** A state for a request (ListJobs); a plain-JS caller's typo is a TypeError, not a call. */
export function stateToProto(state: JobState): ProtoJobState {
  if (!Object.hasOwn(STATE_NUMBERS, state)) {
    throw new TypeError(`state: must be one of ${Object.keys(STATE_NUMBERS).join(", ")}, got ${JSON.stringify(state)}`);
  }
  return STATE_NUMBERS[state];
}

function attemptFromProto(a: ProtoJobAttempt): JobAttempt {
  return {
    attempt: a.attempt,
    startedAt: date(a.startedAt),
    finishedAt: date(a.finishedAt),
    outcome: stateFromProto(a.outcome),
    error: errorOf(a.error),
  };
}

export function jobFromProto(job: ProtoJob): Job {
  return {
    id: job.id,
    queue: job.queue,
    state: stateFromProto(job.state),
    queuePosition: job.queuePosition,
    priority: job.priority,
    attempt: job.attempt,
    progress: job.progress,
    createdAt: date(job.createdAt),
    startedAt: date(job.startedAt),
    finishedAt: date(job.finishedAt),
    error: errorOf(job.error),
    logs: job.logs.map((l) => ({
      message: l.message,
      level: LEVELS[l.level] ?? "unspecified",
      source: l.source,
      timestamp: date(l.timestamp),
    })),
    scheduledAt: date(job.scheduledAt),
    attempts: job.attempts.map(attemptFromProto),
    ...(job.input === undefined ? {} : { input: fromValue(job.input) }),
  };
}

export function queueInfoFromProto(q: ProtoQueueInfo): QueueInfo {
  const counts = (c: ProtoQueueInfo["lastMinute"]) => ({ completed: c?.completed ?? 0, failed: c?.failed ?? 0 });
  return {
    name: q.name,
    waiting: q.waiting,
    running: q.running,
    delayed: q.delayed,
    paused: q.paused,
    lastMinute: counts(q.lastMinute),
    lastHour: counts(q.lastHour),
  };
}

/** PauseQueue and ResumeQueue answer only these fields of QueueInfo. */
export function queueStateFromProto(q: ProtoQueueInfo): QueueState {
  return { name: q.name, waiting: q.waiting, running: q.running, paused: q.paused };
}

/** One result of SubmitBatch; `index` is the item's place in the request. */
export function batchResultFromProto(r: SubmitBatchResult, index: number): BatchResult {
  if (r.outcome.case === "job") return { index, id: r.outcome.value.id, job: jobFromProto(r.outcome.value) };
  if (r.outcome.case === "error") {
    const e = r.outcome.value;
    return { index: e.index, error: { code: e.code, message: e.message } };
  }
  // A newer server's outcome this SDK does not know: not a job it can name.
  return { index, error: { code: "unknown", message: `jobs[${index}]: the server's answer has no job and no error` } };
}

/**
 * Any JSON value as google.protobuf.Value. JSON.stringify's view decides
 * (undefined fields dropped, Dates as strings), so what a caller can
 * serialize is what the handler gets; what it cannot is a clear TypeError.
 */
export function toValue(input: unknown): Value {
  let json: JsonValue;
  try {
    const text = JSON.stringify(input);
    json = text === undefined ? null : (JSON.parse(text) as JsonValue);
  } catch (err) {
    throw new TypeError(`input: not serializable as JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  return fromJson(ValueSchema, json);
}

export function fromValue(value: Value | undefined): JsonValue {
  if (value === undefined || value.kind.case === undefined) return null;
  return toJson(ValueSchema, value) as JsonValue;
}

export function resultFromProto(res: GetResultResponse): JobResult {
  return {
    id: res.id,
    state: stateFromProto(res.state),
    output: res.output === undefined ? undefined : fromValue(res.output),
    error: errorOf(res.error),
  };
}

/** Plain options (milliseconds, Dates) as the JobOptions message; the server validates the numbers. */
export function optionsToProto(o: JobOptions | undefined): MessageInitShape<typeof JobOptionsSchema> | undefined {
  if (!o) return undefined;
  return create(JobOptionsSchema, {
    priority: o.priority,
    maxAttempts: o.maxAttempts,
    maxLostLeases: o.maxLostLeases,
    timeout: o.timeoutMs === undefined ? undefined : durationFromMs(o.timeoutMs),
    retryBackoff: o.retryBackoffMs === undefined ? undefined : durationFromMs(o.retryBackoffMs),
    retryBackoffMax: o.retryBackoffMaxMs === undefined ? undefined : durationFromMs(o.retryBackoffMaxMs),
    startDeadline: o.startDeadline === undefined ? undefined : timestampFromDate(o.startDeadline),
    runAt: o.runAt === undefined ? undefined : timestampFromDate(o.runAt),
    delay: o.delayMs === undefined ? undefined : durationFromMs(o.delayMs),
  });
}
