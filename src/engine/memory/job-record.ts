/**
 * What the embedded engine stores per job and per queue, and the status
 * snapshot it hands out (always a fresh copy: callers never share state).
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type {
  JobAttempt,
  JobError,
  JobOptions,
  JobState,
  JobStatus,
  LogEntry,
  QueueConfig,
  TraceContext,
} from "../types.js";
import type { DriverDelivery } from "../driver/types.js";
import { overRetained, type LogBounds } from "../log-bounds.js";
import { createReadyLine, type ReadyLine } from "./ready-line.js";

/**
 * Where a live job is. Exactly one of: waiting to be fetched, waiting out a
 * retry backoff, held by a lease (delivered, maybe begun), or finished.
 */
export type Phase = "ready" | "backoff" | "leased" | "done" | "scheduled";

/** One delivery of a job; the job points at its current one. */
export interface Delivery {
  readonly job: JobRecord;
  /** Delivery number = the attempt this delivery runs. */
  readonly attempt: number;
  readonly ackWaitMs: number;
  readonly cancel: AbortController;
  timer: NodeJS.Timeout;
  begun: boolean;
}

/**
 * What changed: the job itself, its logs, or (for a QUEUED job) possibly its
 * position, because the waiting line of its queue moved.
 */
export type ChangeKind = "status" | "log" | "position";

/** Notified of every change of one job (see watch.ts). */
export interface JobWatcher {
  readonly includeLogs: boolean;
  changed(kind: ChangeKind): void;
  closed(): void;
}

export interface JobRecord {
  readonly id: string;
  readonly seq: number;
  /** 1 to 10 (../core/priority.ts): which line of its queue it waits in. */
  readonly priority: number;
  readonly queue: QueueState;
  readonly tenant: string;
  readonly idempotencyKey: string | undefined;
  readonly input: JsonValue;
  /** Replaced by a Retry (retriedOptions). */
  options: JobOptions;
  /** The submitter's trace context, handed to each delivery. */
  readonly trace: TraceContext | undefined;
  readonly createdAt: number;
  /**
   * Its place in the waiting line: its seq at first, a new number when it
   * comes back to the end of the line (a Retry, a delayed job due).
   */
  line: number;
  /** A delayed job's run time (see schedule.ts). */
  scheduledAt?: number;
  /** Ended attempts kept beyond the last one (retried failures, runs before a Retry). */
  history?: JobAttempt[];
  state: JobState;
  phase: Phase;
  /** Attempt running or last run (set at begin). */
  attempt: number;
  /** Deliveries that count as attempts. */
  deliveries: number;
  /**
   * Attempts handed back after they began (shutdown): numbered, so the rerun
   * knows it is one, but not counted against maxAttempts.
   */
  interrupted?: number;
  /** Leases lost so far (see lost-leases.ts): numbered, not counted against maxAttempts. */
  lost?: number;
  progress: number;
  startedAt?: number;
  finishedAt?: number;
  error?: JobError;
  output?: JsonValue;
  /** The newest lines, within the log bounds (appendLogs keeps them so). */
  logs?: LogEntry[];
  /** UTF-8 bytes of the messages in logs. */
  logBytes?: number;
  delivery?: Delivery;
  backoffTimer?: NodeJS.Timeout;
  watchers?: Set<JobWatcher>;
}

export interface FetchWaiter {
  readonly max: number;
  serve(deliveries: DriverDelivery[]): void;
}

export interface QueueState {
  readonly name: string;
  config: QueueConfig;
  nextSeq: number;
  /** Every job still retained, by seq. */
  readonly jobs: Map<number, JobRecord>;
  /** Jobs not yet terminal, in seq order (Map keeps insertion order). */
  readonly live: Map<number, JobRecord>;
  /** Seqs of jobs in phase "ready", by priority: the order fetch hands them out in. */
  readonly ready: ReadyLine;
  /** Pending fetches, served first come first served. */
  readonly waiters: FetchWaiter[];
  /** Jobs in phase "leased". */
  leased: number;
  /** Jobs in phase "scheduled": delayed, not in live nor in line until due. */
  readonly scheduled: Set<JobRecord>;
  /** Jobs of this queue someone watches: told when the line moves. */
  readonly watched: Set<JobRecord>;
  /** A position update of the watched jobs is scheduled. */
  positionsMoving: boolean;
  /** When the watched jobs were last told their line moved (ms). */
  positionsAt: number;
}

export function createQueueState(name: string, config: QueueConfig): QueueState {
  const live = new Map<number, JobRecord>();
  const queue: QueueState = {
    name,
    config,
    nextSeq: 1,
    jobs: new Map(),
    live,
    // A job that is leased or backing off may come back to "ready": the
    // oldest live job bounds how far the window may slide.
    ready: createReadyLine(() => {
      const oldest = live.keys().next();
      return oldest.done ? queue.nextSeq : oldest.value;
    }),
    waiters: [],
    leased: 0,
    scheduled: new Set(),
    watched: new Set(),
    positionsMoving: false,
    positionsAt: 0,
  };
  return queue;
}

/** A fresh status object for callers. */
export function snapshot(job: JobRecord, includeLogs = false): JobStatus {
  const status: JobStatus = {
    id: job.id,
    queue: job.queue.name,
    state: job.state,
    attempt: job.attempt,
    progress: job.progress,
    createdAt: job.createdAt,
  };
  if (job.state === "QUEUED" && job.phase !== "scheduled")
    status.queuePosition = job.queue.ready.ahead(job.line, job.priority);
  if (job.scheduledAt !== undefined) status.scheduledAt = job.scheduledAt;
  if (job.startedAt !== undefined) status.startedAt = job.startedAt;
  if (job.finishedAt !== undefined) status.finishedAt = job.finishedAt;
  if (job.error) status.error = { code: job.error.code, message: job.error.message };
  if (includeLogs) status.logs = (job.logs ?? []).map((entry) => ({ ...entry }));
  return status;
}

/** Adds lines to the job's log, dropping its oldest beyond what a job keeps. */
export function appendLogs(job: JobRecord, entries: readonly LogEntry[], bounds: LogBounds): void {
  const logs = (job.logs ??= []);
  let bytes = job.logBytes ?? 0;
  for (const e of entries) {
    logs.push(e);
    bytes += Buffer.byteLength(e.message);
  }
  let drop = 0;
  while (overRetained(logs.length - drop, bytes, bounds)) bytes -= Buffer.byteLength(logs[drop++]!.message);
  if (drop > 0) logs.splice(0, drop);
  job.logBytes = bytes;
}
