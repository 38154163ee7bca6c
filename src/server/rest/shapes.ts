/**
 * The JSON the REST endpoints answer, made from the RPCs' messages. States
 * get the names hosted queue APIs use (QUEUED is IN_QUEUE, RUNNING is
 * IN_PROGRESS); the terminal ones keep jetq's names and carry their error.
 */
import { toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  JobState,
  LogLevel,
  type CancelResponse,
  type GetResultResponse,
  type Job,
  type JobError,
  type LogEntry,
  type QueueCountResponse,
} from "../../../gen/jetq/v1/queue_pb.js";

export type RestStatus = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "CANCELLED" | "EXPIRED";

const STATUS: Record<JobState, RestStatus | undefined> = {
  [JobState.UNSPECIFIED]: undefined,
  [JobState.QUEUED]: "IN_QUEUE",
  [JobState.RUNNING]: "IN_PROGRESS",
  [JobState.COMPLETED]: "COMPLETED",
  [JobState.FAILED]: "FAILED",
  [JobState.CANCELLED]: "CANCELLED",
  [JobState.EXPIRED]: "EXPIRED",
};

const LEVEL: Record<LogLevel, string> = {
  [LogLevel.UNSPECIFIED]: "INFO",
  [LogLevel.DEBUG]: "DEBUG",
  [LogLevel.INFO]: "INFO",
  [LogLevel.WARN]: "WARN",
  [LogLevel.ERROR]: "ERROR",
};

export interface RestLog {
  message: string;
  level: string;
  source: string;
  timestamp: string;
}

export interface RestJobStatus {
  request_id: string;
  status: RestStatus;
  /** Jobs ahead of this one; only while IN_QUEUE. */
  queue_position?: number;
  /** The handler's progress, 0 to 1. */
  progress: number;
  /** The attempt running or last run, from 1; 0 before the first start. */
  attempt: number;
  logs?: RestLog[];
  /** The job's input as submitted: only with ?input=1, and absent when not kept (GetStatus include_input). */
  input?: JsonValue;
  error?: { code: string; message: string };
  response_url: string;
}

export function restStatus(state: JobState): RestStatus {
  return STATUS[state] ?? "IN_QUEUE";
}

export function isTerminalStatus(status: RestStatus): boolean {
  return status !== "IN_QUEUE" && status !== "IN_PROGRESS";
}

/** A job's status; logs and input only when asked for (they are then on the message). */
export function statusJson(job: Job, responseUrl: string, withLogs: boolean): RestJobStatus {
  const status = restStatus(job.state);
  return {
    request_id: job.id,
    status,
    ...(status === "IN_QUEUE" && job.queuePosition !== undefined ? { queue_position: job.queuePosition } : {}),
    progress: job.progress,
    attempt: job.attempt,
    ...(withLogs ? { logs: job.logs.map(logJson) } : {}),
    ...(job.input ? { input: toJson(ValueSchema, job.input) } : {}),
    ...(job.error ? { error: errorJson(job.error) } : {}),
    response_url: responseUrl,
  };
}

export function logJson(entry: LogEntry): RestLog {
  return {
    message: entry.message,
    level: LEVEL[entry.level] ?? "INFO",
    source: entry.source,
    timestamp: new Date(entry.timestamp ? timestampMs(entry.timestamp) : 0).toISOString(),
  };
}

function errorJson(error: JobError): { code: string; message: string } {
  return { code: error.code, message: error.message };
}

/** GET /queue/requests/{id}: the outcome; `response` is the output exactly as the handler returned it. */
export function resultJson(result: GetResultResponse, logs: LogEntry[] | undefined) {
  return {
    request_id: result.id,
    status: restStatus(result.state),
    response: result.output ? (toJson(ValueSchema, result.output) as JsonValue) : null,
    ...(result.error ? { error: errorJson(result.error) } : {}),
    ...(logs ? { logs: logs.map(logJson) } : {}),
  };
}

export type CancelStatus = "CANCELLATION_REQUESTED" | "ALREADY_COMPLETED" | "NOT_FOUND";

export function cancelJson(res: CancelResponse): { status: CancelStatus; removed: boolean; message: string } {
  return {
    status: res.removed ? "CANCELLATION_REQUESTED" : "ALREADY_COMPLETED",
    removed: res.removed,
    message: res.message,
  };
}

export function countJson(res: QueueCountResponse) {
  return { queue_name: res.queue, in_queue: res.inQueue, running: res.running, paused: res.paused };
}
