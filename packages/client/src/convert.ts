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
} from "./gen/jetq/v1/queue_pb.js";
import type { Job, JobOptions, JobResult, JobState, JsonValue, LogLevel } from "./types.js";

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
    error: job.error ? { code: job.error.code, message: job.error.message } : undefined,
    logs: job.logs.map((l) => ({
      message: l.message,
      level: LEVELS[l.level] ?? "unspecified",
      source: l.source,
      timestamp: date(l.timestamp),
    })),
  };
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
    error: res.error ? { code: res.error.code, message: res.error.message } : undefined,
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
  });
}
