/**
 * The Engine contract: the only thing service/ and worker/ talk to.
 * Every engine (JetStream, embedded) implements it and passes test/conformance/.
 *
 * Times are milliseconds since the Unix epoch; durations are milliseconds.
 * Failures are thrown as EngineError (see errors.ts): a code of the engine's
 * own and a message for the caller; the service layer maps the code to the
 * protocol's.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { EngineError } from "./errors.js";
import type { JobEventListener } from "./job-events.js";
import type { WebhookOutbox } from "./webhook-outbox.js";
import type { TraceContext } from "./trace-context.js";

export type { TraceContext };

export type JobState = "QUEUED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED" | "EXPIRED";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogEntry {
  message: string;
  level: LogLevel;
  /** "handler" for lines the job's handler wrote, "jetq" for the runtime. */
  source: string;
  timestamp: number;
}

export interface JobError {
  /** Stable machine-readable code: HANDLER_ERROR, CANCELLED, TIMEOUT, ... */
  code: string;
  message: string;
}

/** The status object of one job, as GetStatus and StreamStatus report it. */
export interface JobStatus {
  id: string;
  queue: string;
  state: JobState;
  /** 1 to 10, higher runs first (5 unless the job asked for another). */
  priority?: number;
  /** Jobs that will run before this one, of every priority (0 = next); only while QUEUED. */
  queuePosition?: number;
  /** Attempt running or last run, from 1; 0 before the first start. */
  attempt: number;
  /** 0..1 as last reported by the handler. */
  progress: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: JobError;
  /** Only when asked for with includeLogs. */
  logs?: LogEntry[];
  /** The input as submitted: only with includeInput, and absent when not kept (see Driver.readInput). */
  input?: JsonValue;
}

export interface JobResult {
  id: string;
  state: JobState;
  /** Only when COMPLETED. */
  output?: JsonValue;
  error?: JobError;
}

export interface CancelOutcome {
  /** True when this call cancelled the job. */
  removed: boolean;
  message: string;
  job: JobStatus;
}

export interface QueueCounts {
  queue: string;
  inQueue: number;
  running: number;
}

/** Per-job settings; unset fields take the queue's defaults. */
export interface JobOptions {
  /** 1 to 10, higher runs first; unset: 5 (see job-id.ts for where it shows in the id). */
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Epoch ms; a job not started by then ends EXPIRED. */
  startDeadline?: number;
  /** Overrides QueueConfig.backoffBaseMs for this job (delay before the first retry). */
  backoffBaseMs?: number;
  /** Overrides QueueConfig.backoffMaxMs for this job (cap of any retry delay). */
  backoffMaxMs?: number;
  /** Overrides QueueConfig.maxLostLeases for this job (see lost-leases.ts). */
  maxLostLeases?: number;
  /** Where the job is POSTed when it ends (../webhooks/); unset: the queue's QueueConfig.webhookUrl. */
  webhookUrl?: string;
}

export interface SubmitInput {
  queue: string;
  input: JsonValue;
  idempotencyKey?: string;
  /** Owner of the job; "" when the server runs without keys. */
  tenant?: string;
  options?: JobOptions;
  /** The submitting call's W3C trace context, handed to the worker with the job (see trace-context.ts). */
  trace?: TraceContext;
}

export interface ReadOptions {
  includeLogs?: boolean;
  includeInput?: boolean; // JobStatus.input: getStatus only
  /** When set, jobs of other tenants answer NOT_FOUND. */
  tenant?: string;
}

export interface WatchOptions extends ReadOptions {
  /** Ends the iteration (without error) when aborted. */
  signal?: AbortSignal;
}

/** A submitAndWatch reads as the job's submitter: no tenant of its own. */
export type SubmitWatchOptions = Omit<WatchOptions, "tenant">;

/** Queue-wide defaults, set by whoever declares the queue (a worker or config). */
export interface QueueConfig {
  /** A delivered job not acked nor heartbeated within this is redelivered. */
  ackWaitMs: number;
  /** Attempts a job may take unless its options say otherwise. */
  maxAttempts: number;
  /** Backoff before retry n (1-based) is min(backoffMaxMs, backoffBaseMs * 2^(n-1)), jittered. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /**
   * Lost leases (worker died, no outcome within the ack wait) a job survives:
   * they rerun it without using up maxAttempts; one more ends it WORKER_LOST.
   */
  maxLostLeases: number;
  /** Where jobs of this queue are POSTed when they end, unless a job names its own; unset = nowhere. */
  webhookUrl?: string;
}

export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  ackWaitMs: 30_000,
  maxAttempts: 1,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  maxLostLeases: 5,
};

/** How a handler's attempt ended badly. */
export interface FailOptions {
  /** false = no further attempts whatever max_attempts says. Default true. */
  retryable?: boolean;
}

/**
 * One delivery of one job to a worker. The worker calls begin() first, then
 * exactly one of complete(), fail() or release().
 */
export interface JobLease {
  readonly id: string;
  readonly queue: string;
  readonly input: JsonValue;
  /** This delivery's attempt number, from 1. */
  readonly attempt: number;
  readonly createdAt: number;
  readonly options: JobOptions;
  /** The trace context the job was submitted with, if any: the run continues that trace. */
  readonly trace?: TraceContext;
  /** Lease length: heartbeat() well inside it or the job is redelivered. */
  readonly ackWaitMs: number;
  /** Fires when a client cancels the job. */
  readonly cancelled: AbortSignal;
  /**
   * Marks the job RUNNING. Resolves false when the job is already terminal
   * (cancelled while queued, or finished by an earlier delivery): the lease is
   * then settled and the handler must not run.
   */
  begin(): Promise<boolean>;
  /** Extends the lease (JetStream: msg.working()). */
  heartbeat(): Promise<void>;
  log(level: LogLevel, message: string): void;
  /** fraction in 0..1. */
  progress(fraction: number): void;
  /** Resolves false when another outcome (a cancel, another delivery) won. */
  complete(output: JsonValue): Promise<boolean>;
  /** Retries when retryable and attempts remain, else ends FAILED. */
  fail(error: JobError, options?: FailOptions): Promise<boolean>;
  /** Hands the job back for redelivery at once (shutdown). */
  release(): Promise<void>;
}

export interface FetchOptions {
  /** At most this many leases; pass the worker's free slots. */
  max: number;
  /** Wait at most this long for the first job. */
  expiresMs: number;
  signal?: AbortSignal;
}

export interface EngineStats {
  /** Subscriptions this engine holds for live status fan-out (JetStream: 1). */
  eventSubscriptions: number;
  /** StreamStatus watches open in this process. */
  openWatches: number;
}

/** Whether the engine can serve calls now; reason says why not. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

export interface Engine {
  readonly kind: "nats" | "memory";
  /** Cheap (no round trip): what the engine last learned about its backend. */
  readiness(): Readiness;
  /** Calls listener each time readiness().ready flips; returns the unsubscribe. */
  onReadinessChange(listener: (readiness: Readiness) => void): () => void;
  /** Creates the queue if missing and sets its defaults. Idempotent. */
  declareQueue(queue: string, config?: Partial<QueueConfig>): Promise<void>;
  submit(input: SubmitInput): Promise<JobStatus>;
  getStatus(id: string, options?: ReadOptions): Promise<JobStatus>;
  /** Current status first, then every change; ends after a terminal state. */
  watch(id: string, options?: WatchOptions): AsyncIterable<JobStatus>;
  /**
   * submit(), then watch() as the submitter: the status submit answers
   * first, then every change once, ending after a terminal state; submit's
   * errors come from the first next(), and nothing is enqueued then. An
   * engine knows the job it has just submitted, so its watch may start
   * without the read an ordinary watch starts with.
   */
  submitAndWatch(input: SubmitInput, options?: SubmitWatchOptions): AsyncIterable<JobStatus>;
  getResult(id: string, options?: ReadOptions): Promise<JobResult>;
  cancel(id: string, options?: ReadOptions): Promise<CancelOutcome>;
  queueCount(queue: string): Promise<QueueCounts>;
  /** Names of the declared queues, in no particular order. */
  listQueues(): Promise<string[]>;
  /** The queue's declared defaults; NOT_FOUND when no one declared it. */
  queueConfig(queue: string): Promise<QueueConfig>;
  /** Adds a line to a job's log whatever its state, finished jobs included (e.g. webhook attempts); best effort. */
  appendLog(id: string, entry: LogEntry): Promise<void>;
  /** Pending webhook deliveries, kept where every process of this backend finds them. */
  readonly webhooks: WebhookOutbox;
  /**
   * Calls listener with each job event this process makes (./job-events.ts):
   * submits, starts, retries, outcomes, cancels. Returns the unsubscribe.
   */
  observe(listener: JobEventListener): () => void;
  // -- job control: lists (ListQueues, ListJobs) --
  /**
   * One page of a queue's jobs in one state: finished states newest first
   * (by when they finished), RUNNING newest first, QUEUED in queue order.
   * Each page costs the same however many finished jobs are kept.
   */
  listJobs(query: ListJobsQuery): Promise<JobPage>;
  /** Every declared queue with its counts, sorted by name. */
  describeQueues(): Promise<QueueInfo[]>;
  // -- end lists --

  // -- job control: retry and delayed jobs --
  /**
   * Runs a FAILED, CANCELLED or EXPIRED job again under its id: QUEUED
   * again, attempt numbers continue, earlier attempts stay in its history.
   * FAILED_PRECONDITION naming the state for any other; NOT_FOUND as
   * getStatus. Of two concurrent retries one makes the new attempt.
   */
  retry(id: string, options?: ReadOptions): Promise<JobStatus>;
  // -- end retry and delayed jobs --

  // -- job control: priority --
  // -- end priority --

  // -- job control: batches, WatchJobs, pause --
  /**
   * Submits each item as submit() would, in order, each checked on its own:
   * an item's failure (a bad option, a queue that does not exist, NATS gone)
   * is that item's outcome. INVALID_ARGUMENT naming `jobs` for an empty list
   * or one over MAX_BATCH_JOBS.
   */
  submitBatch(inputs: SubmitInput[]): Promise<BatchOutcome[]>;
  /**
   * Ids: each job's current status, then every change once, ending when all
   * are terminal (up to MAX_WATCH_IDS; INVALID_ARGUMENT naming `ids[i]`,
   * NOT_FOUND as getStatus). Queue: every change of the jobs of the queue
   * (of options.tenant when set) from now on, until options.signal aborts.
   */
  watchJobs(target: WatchJobsTarget, options?: WatchOptions): AsyncIterable<JobStatus>;
  /** Workers in every process stop starting the queue's jobs; submits are still accepted. */
  pauseQueue(queue: string): Promise<void>;
  /** Workers start the queue's jobs again, in queue order. */
  resumeQueue(queue: string): Promise<void>;
  /** Whether the queue is paused, as this process knows it (NOT_FOUND for an undeclared queue). */
  isPaused(queue: string): Promise<boolean>;
  // -- end batches, WatchJobs, pause --

  /** Worker side: take up to options.max jobs from a queue. */
  fetch(queue: string, options: FetchOptions): Promise<JobLease[]>;
  stats(): EngineStats;
  close(): Promise<void>;
}

// -- job control types: lists --
export interface ListJobsQuery {
  queue: string;
  /** Required. */
  state: JobState;
  /** 1 to MAX_PAGE_SIZE; unset or 0 = DEFAULT_PAGE_SIZE. */
  pageSize?: number;
  /** nextCursor of the previous page; unset or "" for the first. */
  cursor?: string;
  /** When set, only this tenant's jobs. */
  tenant?: string;
}

export interface JobPage {
  jobs: JobStatus[];
  /** "" on the last page. A page may hold fewer than pageSize jobs while this is set. */
  nextCursor: string;
}

/** Jobs that ended in a time window. */
export interface FinishedCounts {
  completed: number;
  failed: number;
}

export interface QueueInfo {
  name: string;
  waiting: number;
  running: number;
  /** Jobs waiting for their run_at: 0 until delayed jobs exist. */
  delayed: number;
  paused: boolean;
  lastMinute: FinishedCounts;
  lastHour: FinishedCounts;
}
// -- end lists --

// -- job control types: retry and delayed jobs --
// The fields below extend interfaces declared above (TypeScript merges
// declarations of one interface in one module); they live here so the
// groups of issue 17 edit separate regions of this file.

/** One ended attempt of a job (JobStatus.attempts). */
export interface JobAttempt {
  attempt: number;
  startedAt?: number;
  finishedAt?: number;
  /** COMPLETED, FAILED, CANCELLED, or QUEUED for a failure that was retried. */
  outcome: JobState;
  error?: JobError;
}

export interface JobStatus {
  /** A delayed job's time to run (run_at, or Submit + delay). */
  scheduledAt?: number;
  /** The attempts that ended, oldest first; only when asked for with includeAttempts. */
  attempts?: JobAttempt[];
}

export interface JobOptions {
  /** Epoch ms before which the job does not run (the core turns delayMs into it). */
  runAt?: number;
  /** Submit only: run no earlier than this long after Submit; stored as runAt. */
  delayMs?: number;
}

export interface ReadOptions {
  /** Include the attempts that ended (JobStatus.attempts). */
  includeAttempts?: boolean;
}

export interface QueueCounts {
  /** Jobs waiting for their scheduled time, not in inQueue until due; absent when there are none. */
  delayed?: number;
}
// -- end retry and delayed jobs --

// -- job control types: priority --
// -- end priority --

// -- job control types: batches, WatchJobs, pause --
/** Most jobs one submitBatch takes. */
export const MAX_BATCH_JOBS = 1_000;
/** Most ids one watchJobs follows. */
export const MAX_WATCH_IDS = 1_000;

/** What became of one item of a batch: the job as submit() answers, or why not. */
export type BatchOutcome = { status: JobStatus; fresh: boolean } | { error: EngineError };

/** What watchJobs follows: a list of ids, or a whole queue. */
export type WatchJobsTarget = { ids: string[] } | { queue: string };
// -- end batches, WatchJobs, pause --

export function isTerminal(state: JobState): boolean {
  return state === "COMPLETED" || state === "FAILED" || state === "CANCELLED" || state === "EXPIRED";
}
