/**
 * The SDK's own shapes: plain JSON and Dates, no protobuf messages, so
 * callers never meet google.protobuf.Value or Timestamp.
 */

/** Any JSON value (what a job takes as input and gives as output). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type JobState = "QUEUED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED" | "EXPIRED";

export type LogLevel = "debug" | "info" | "warn" | "error" | "unspecified";

export interface LogEntry {
  message: string;
  level: LogLevel;
  /** "handler" for the job's handler, "jetq" for the runtime. */
  source: string;
  timestamp: Date | undefined;
}

/** The status of one job. */
export interface Job {
  id: string;
  queue: string;
  state: JobState;
  /** Jobs that will run before this one, of every priority (0 = next); only while QUEUED. */
  queuePosition: number | undefined;
  /** 1 to 10, higher runs first (5 unless the job asked for another; 0 from a server without priorities). */
  priority: number;
  /** The attempt running or last run, from 1; 0 before the first start. */
  attempt: number;
  /** 0 to 1, as the handler last reported it. */
  progress: number;
  createdAt: Date | undefined;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** Why the job failed, expired or was cancelled. */
  error: { code: string; message: string } | undefined;
  /** The lines the job keeps, oldest first; only when asked for (`logs: true`). */
  logs: LogEntry[];
  /** When a delayed job (runAt, delayMs) becomes due; while in the future it is QUEUED without a queuePosition. */
  scheduledAt: Date | undefined;
  /** The attempts that ended, oldest first; only when asked for (`status({ attempts: true })`). */
  attempts: JobAttempt[];
  /** The input as submitted (placeholders such as $CLIENT_SECRET unfilled); only when asked for (`status({ input: true })`). */
  input?: JsonValue;
}

/** One ended attempt of a job. */
export interface JobAttempt {
  /** Its number, from 1. */
  attempt: number;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** COMPLETED, FAILED, CANCELLED, or QUEUED for a failure that was retried. */
  outcome: JobState;
  /** Why it did not complete; undefined when COMPLETED. */
  error: { code: string; message: string } | undefined;
}

/** How one job runs; unset fields take the queue's defaults. */
export interface JobOptions {
  /** 1 to 10: runs before every waiting job of lower priority; equal ones in submit order. Default 5. */
  priority?: number;
  /** Attempts before the job ends FAILED (1 to 100). */
  maxAttempts?: number;
  /** Time limit of one attempt, in milliseconds. */
  timeoutMs?: number;
  /** Latest time the job may start; not started by then, it ends EXPIRED. */
  startDeadline?: Date;
  /** Delay before the first retry, in milliseconds (doubles per retry). */
  retryBackoffMs?: number;
  /** Longest delay between two attempts, in milliseconds. */
  retryBackoffMaxMs?: number;
  /** How many times the job may lose its worker and still run again (0 to 100). */
  maxLostLeases?: number;
  /** Run no earlier than this time (at most a year ahead). At most one of runAt and delayMs. */
  runAt?: Date;
  /** Run no earlier than this many milliseconds after the submit (over 0, at most a year). */
  delayMs?: number;
}

export interface SubmitOptions {
  /** Repeated submits with the same key return the original job. */
  idempotencyKey?: string;
  options?: JobOptions;
  signal?: AbortSignal;
  /** Deadline of the call itself, in milliseconds. */
  timeoutMs?: number;
}

/** What a completed job gives. */
export interface JobOutput<T extends JsonValue = JsonValue> {
  id: string;
  output: T;
  /** The terminal status (COMPLETED). */
  job: Job;
}

/** GetResult's answer: the outcome of a finished job, whatever it was. */
export interface JobResult {
  id: string;
  state: JobState;
  /** The output; only when COMPLETED. */
  output: JsonValue | undefined;
  error: { code: string; message: string } | undefined;
}

export interface QueueCount {
  queue: string;
  /** Jobs waiting for a worker. */
  inQueue: number;
  /** Jobs a worker is running now. */
  running: number;
  /** Workers are stopped from starting its jobs (pauseQueue); false from a server without pausing. */
  paused: boolean;
}

/** Jobs that ended in a time window. */
export interface FinishedCounts {
  completed: number;
  failed: number;
}

/** One queue as listQueues() describes it. */
export interface QueueInfo {
  name: string;
  /** Jobs due and waiting for a worker. */
  waiting: number;
  /** Jobs a worker is running now. */
  running: number;
  /** Jobs waiting for their time (runAt, delayMs). */
  delayed: number;
  /** Workers are stopped from starting its jobs (pauseQueue). */
  paused: boolean;
  /** Jobs that ended in the last 60 seconds. */
  lastMinute: FinishedCounts;
  /** Jobs that ended in the last hour. */
  lastHour: FinishedCounts;
}

/** A queue after pauseQueue() or resumeQueue(). */
export type QueueState = Pick<QueueInfo, "name" | "waiting" | "running" | "paused">;

/** One page of listJobs(). */
export interface JobPage {
  jobs: Job[];
  /** Pass it as `cursor` for the next page; undefined on the last page. */
  nextCursor: string | undefined;
}

/** One job of a submitBatch(); its options as submit() takes them. */
export interface BatchItem {
  input: unknown;
  /** Default: a random key per item, so a retried batch makes no second job. */
  idempotencyKey?: string;
  options?: JobOptions;
}

/** What became of one item of a batch, at the item's index: its job, or why it was not submitted. */
export type BatchResult =
  | { index: number; id: string; job: Job; error?: undefined }
  | { index: number; id?: undefined; job?: undefined; error: BatchItemError };

export interface BatchItemError {
  /** The code Submit would have failed with, as the Connect protocol spells it, e.g. "invalid_argument". */
  code: string;
  /** What is wrong, naming `jobs[i]` and the field. */
  message: string;
}

export interface CancelResult {
  /** True when this call cancelled the job; false when it had already finished. */
  removed: boolean;
  message: string;
  job: Job;
}

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(["COMPLETED", "FAILED", "CANCELLED", "EXPIRED"]);

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}
