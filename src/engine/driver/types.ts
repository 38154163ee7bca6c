/**
 * The storage driver contract: what the engine core (../core/engine.ts)
 * needs of a backend, and nothing else (River's riverdriver is the model).
 * The core holds the job rules (validation, limits, the lease's decisions,
 * the retry policy, error wording, the watch queue and change rule); a
 * driver stores and retrieves, atomically for its backend, and announces
 * changes. Two drivers: ../nats/ (JetStream) and ../memory/ (this process).
 * Every driver passes test/driver/ and the engine over it test/conformance/.
 *
 * Arguments reach a driver already checked: queue names well-formed, ids
 * parsed, configs and options valid, payloads within the limit. Failures are
 * EngineErrors (../errors.ts). docs/ARCHITECTURE.md §3 describes it.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { JobIdParts } from "../job-id.js";
import type { JobEventListener } from "../job-events.js";
import type {
  CancelOutcome,
  EngineStats,
  FinishedCounts,
  JobError,
  JobOptions,
  JobResult,
  JobState,
  JobStatus,
  LogEntry,
  QueueConfig,
  QueueCounts,
  ReadOptions,
  Readiness,
  TraceContext,
  WatchOptions,
} from "../types.js";
import type { WebhookOutbox } from "../webhook-outbox.js";

/** A parsed job id. */
export interface JobRef extends JobIdParts {
  id: string;
}

/** A job to store, checked by the core. */
export interface NewJob {
  queue: string;
  /** The input as JSON text: encoded once, by the core, which also checked its size. */
  inputJson: string;
  tenant: string;
  idempotencyKey?: string;
  options: JobOptions;
  /** Stored with the job and handed back on each delivery (checked by the core). */
  trace?: TraceContext;
}

export interface Inserted {
  /** QUEUED with its position, or (idempotent repeat) the existing job's status. */
  status: JobStatus;
  /** This call stored the job (not an idempotent repeat). */
  fresh: boolean;
}

/** A cancel's outcome, with what the core tells observers of a job it removed. */
export interface DriverCancelOutcome extends CancelOutcome {
  /** The cancelled job's options, when this call removed it. */
  options?: JobOptions;
}

/** How a delivered job's attempts stand: see ../lost-leases.ts. */
export interface RunAccount {
  /** The attempt this delivery would run, from 1. */
  attempt: number;
  interrupted: number;
  lost: number;
}

/** What begin() learns before it marks the attempt RUNNING. */
export type Inspection = { over: true } | { over: false; run: RunAccount };

export type TerminalState = "COMPLETED" | "FAILED" | "EXPIRED";

export interface TerminalFields {
  error?: JobError;
  output?: JsonValue;
  /** The output as JSON text (the core encoded it to check its size). */
  outputJson?: string;
  progress?: number;
  /** Attempt number to record when the attempt never ran (a refusal): default the delivery's. */
  attempt?: number;
}

/**
 * One delivery of one job. The core's lease (../core/lease.ts) calls
 * inspect() then markRunning() to begin, and then exactly one of finish(),
 * retry() or release(). A driver answers false (or "over") whenever
 * another outcome won: a cancel, another delivery, a lease that expired.
 */
export interface DriverDelivery {
  readonly ref: JobRef;
  /** Owner of the job; "" on a server without keys. */
  readonly tenant: string;
  readonly input: JsonValue;
  readonly createdAt: number;
  readonly options: JobOptions;
  /** The trace context the job was inserted with. */
  readonly trace?: TraceContext;
  readonly config: QueueConfig;
  /** Fires when a client cancels the job (the CANCELLED state is stored first). */
  readonly cancelled: AbortSignal;
  /** This delivery's attempt number: as known at delivery, then as begin() found it. */
  readonly attempt: number;
  /** Whether the job may still run, and how its attempts stand. */
  inspect(): Promise<Inspection>;
  /**
   * Stores the attempt RUNNING, started at startedAt; resolves the run it
   * marked, or undefined when it must not run. `refuse` says whether a run
   * account found meanwhile (another delivery's record) must not run: the
   * driver then ends the job FAILED with that error.
   */
  markRunning(
    run: RunAccount,
    startedAt: number,
    refuse: (run: RunAccount) => JobError | undefined,
  ): Promise<RunAccount | undefined>;
  /** Extends the lease. */
  heartbeat(): void;
  /** Stores a log line of the attempt (best effort) and announces it. */
  appendLog(entry: LogEntry): void;
  /** The attempt's progress, visible to reads at once. */
  setProgress(progress: number): void;
  /** Tells watchers the progress (the core paces these). */
  announceProgress(progress: number): void;
  /** Ends the job in a terminal state. */
  finish(state: TerminalState, fields: TerminalFields): Promise<boolean>;
  /** Stores the failed attempt QUEUED again, to be redelivered after delayMs. */
  retry(error: JobError, delayMs: number): Promise<boolean>;
  /** Hands the job back for redelivery at once; not an attempt (see ../lost-leases.ts). */
  release(begun: boolean): Promise<void>;
}

// -- job control types: lists --
/**
 * A page request as the core checked it. `after` is the driver's own
 * position (the core carries it opaquely in the cursor, as non-negative
 * integers): a driver checks it names a place in this list, else throws
 * INVALID_ARGUMENT naming the cursor.
 */
export interface ListQuery {
  queue: string;
  state: JobState;
  limit: number;
  after?: number[];
  tenant?: string;
}

export interface ListPage {
  jobs: JobStatus[];
  /** Where the next page starts; undefined on the last page. */
  next?: number[];
}
// -- end lists --

export interface Driver {
  readonly kind: "nats" | "memory";
  readiness(): Readiness;
  onReadinessChange(listener: (readiness: Readiness) => void): () => void;
  /** Creates the queue if missing, or replaces its config; waiting jobs stay. */
  declareQueue(queue: string, config: QueueConfig): Promise<void>;
  /** Stores a job (or finds the job of its idempotency key). NOT_FOUND for an undeclared queue. */
  insert(job: NewJob): Promise<Inserted>;
  /** NOT_FOUND for unknown ids and, when options.tenant is set, other tenants' jobs. */
  read(ref: JobRef, options: ReadOptions): Promise<JobStatus>;
  readResult(ref: JobRef, options: ReadOptions): Promise<JobResult>;
  /**
   * The job's input as submitted, in any state (GetStatus include_input);
   * undefined when the driver did not keep it (a job that ended before it
   * kept inputs of finished jobs). NOT_FOUND as read().
   */
  readInput(ref: JobRef, options: ReadOptions): Promise<JsonValue | undefined>;
  cancel(ref: JobRef, options: ReadOptions): Promise<DriverCancelOutcome>;
  count(queue: string): Promise<QueueCounts>;
  /** Names of the declared queues. */
  listQueues(): Promise<string[]>;
  /** The queue's config as declared; undefined when no one declared it. */
  queueConfig(queue: string): Promise<QueueConfig | undefined>;
  /** Stores a line in the job's log whatever its state (best effort); NOT_FOUND for unknown ids. */
  appendLog(ref: JobRef, entry: LogEntry): Promise<void>;
  /** Pending webhook deliveries (../webhook-outbox.ts). */
  readonly webhooks: WebhookOutbox;
  /**
   * The job's current status, then each change (pushed through
   * ../core/queued-iterator.ts, told apart by ../core/status-change.ts),
   * ending after a terminal one. `inserted`: the status insert() answered,
   * for a job this process has just stored (the driver may start from it).
   */
  watch(ref: JobRef, options: WatchOptions, inserted?: JobStatus): AsyncIterable<JobStatus>;
  /** Up to max deliveries, waiting at most expiresMs for the first; [] once closed. */
  fetch(queue: string, max: number, expiresMs: number, signal?: AbortSignal): Promise<DriverDelivery[]>;
  // -- job control: lists (ListQueues, ListJobs) --
  /**
   * Up to query.limit jobs of the list after query.after (see ListQuery);
   * `next` when more may follow. Reading a page costs O(limit), whatever
   * the number of finished jobs kept: a driver may stop after a bounded
   * scan and answer fewer jobs with a `next`. NOT_FOUND for an undeclared queue.
   */
  listJobs(query: ListQuery): Promise<ListPage>;
  /** COMPLETED and FAILED jobs of the queue that ended at or after each of `since` (epoch ms). */
  finishedCounts(queue: string, since: readonly number[]): Promise<FinishedCounts[]>;
  /** Jobs waiting for their run_at; a driver without delayed jobs leaves it out (0). */
  delayedCount?(queue: string): Promise<number>;
  // -- end lists --

  // -- job control: retry and delayed jobs --
  /**
   * Makes a finished job QUEUED again (a new message, a fresh attempt
   * budget, its last attempt moved to the history) if assertRetryable
   * (../core/retry-job.ts) allows its state, atomically: of two concurrent
   * calls one wins, the other sees the job QUEUED. NOT_FOUND as read().
   */
  retry(ref: JobRef, options: ReadOptions): Promise<JobStatus>;
  // -- end retry and delayed jobs --

  // -- job control: priority --
  // -- end priority --

  // -- job control: batches, WatchJobs, pause --
  /**
   * insert() of each job, in order of the list as far as the backend keeps
   * it; each item's failure is its own outcome. A driver may have several
   * in flight (JetStream: bounded concurrency).
   */
  insertBatch(jobs: NewJob[]): Promise<Array<Inserted | { error: unknown }>>;
  /**
   * Calls onJob with the id of each job of the queue (any tenant) that is
   * submitted or changes from now on, in any process; ids may repeat.
   * Returns the unsubscribe. The core follows each id with watch().
   */
  watchQueue(queue: string, onJob: (id: string) => void): () => void;
  /** Stores the queue's paused flag, for every process; NOT_FOUND for an undeclared queue. */
  setPaused(queue: string, paused: boolean): Promise<void>;
  /** The paused flag as this process knows it (cheap: no round trip most times); NOT_FOUND when undeclared. */
  paused(queue: string): Promise<boolean>;
  // -- end batches, WatchJobs, pause --

  /**
   * Where the driver tells the terminal transitions it makes without a
   * lease or a cancel (an expiry timer, a lease lost once too often); the
   * core calls it once, at construction.
   */
  setEventSink(sink: JobEventListener): void;
  stats(): EngineStats;
  close(): Promise<void>;
}
