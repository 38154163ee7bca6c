/**
 * The engine core: the Engine interface, implemented once over any storage
 * driver (../driver/types.ts). What every call checks, and the rules of a
 * job, live here; the driver stores. docs/ARCHITECTURE.md §3.
 */
import { inputTooLarge, invalidArgument, payloadBytes, queueNotFound, unavailable } from "../errors.js";
import { DEFAULT_PRIORITY, jobIdParts, parseJobId } from "../job-id.js";
import { DEFAULT_LOG_BOUNDS, type LogBounds } from "../log-bounds.js";
import { DEFAULT_PROGRESS_INTERVAL_MS } from "../progress-pacing.js";
import { assertQueueName } from "../queue-name.js";
import { settingNamer, type SettingNamer } from "../settings.js";
import { withSchedule } from "../schedule.js";
import { submitThenWatch } from "../submit-and-watch.js";
import { checkedTraceContext } from "../trace-context.js";
import type {
  BatchOutcome,
  CancelOutcome,
  Engine,
  EngineStats,
  FetchOptions,
  JobLease,
  JobOptions,
  JobPage,
  JobResult,
  JobStatus,
  ListJobsQuery,
  LogEntry,
  QueueConfig,
  QueueCounts,
  QueueInfo,
  ReadOptions,
  Readiness,
  SubmitInput,
  SubmitWatchOptions,
  WatchJobsTarget,
  WatchOptions,
} from "../types.js";
import type { Driver, Inserted, JobRef, NewJob } from "../driver/types.js";
import { JobEvents, type JobEventListener } from "../job-events.js";
import type { WebhookOutbox } from "../webhook-outbox.js";
import { submitBatch } from "./batch.js";
import { CoreLease, type LeaseRules } from "./lease.js";
import { fetchUnlessPaused } from "./pause.js";
import { watchWithPriority, withPriority } from "./priority.js";
import { describeQueues, listJobs, listQueryOf } from "./list-jobs.js";
import { jobOptionsOf, queueConfigOf } from "./validate.js";
import { checkTarget, closingController, watchJobs } from "./watch-jobs.js";

/** Largest input and output (JSON bytes) by default: the server's 16 MiB request limit. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface CoreOptions {
  /** Largest input and output (JSON bytes); default MAX_PAYLOAD_BYTES. */
  maxPayloadBytes?: number;
  logBounds?: LogBounds;
  /** Least time between two progress events of one attempt; default 100. */
  progressIntervalMs?: number;
  settingName?: SettingNamer;
  /** Told when a job-event listener throws (the event still reaches the others). */
  onListenerError?: (err: unknown) => void;
}

/** The maxPayloadBytes option, checked. */
export function maxPayloadBytesOf(value: number | undefined): number {
  const bytes = value ?? MAX_PAYLOAD_BYTES;
  if (!(bytes > 0)) throw invalidArgument(`maxPayloadBytes: ${bytes} must be greater than zero`);
  return bytes;
}

export function createEngine(driver: Driver, options: CoreOptions = {}): Engine {
  return new CoreEngine(driver, options);
}

const refOf = (id: string): JobRef => ({ id, ...parseJobId(id) });

class CoreEngine implements Engine {
  readonly kind: Engine["kind"];
  private readonly driver: Driver;
  private readonly rules: LeaseRules;
  private readonly events: JobEvents;
  private closed = false;
  readonly webhooks: WebhookOutbox;

  constructor(driver: Driver, options: CoreOptions) {
    this.driver = driver;
    this.kind = driver.kind;
    this.events = new JobEvents(options.onListenerError);
    this.webhooks = driver.webhooks;
    driver.setEventSink(this.events.emit);
    this.rules = {
      emit: this.events.emit,
      logBounds: options.logBounds ?? DEFAULT_LOG_BOUNDS,
      settingName: options.settingName ?? settingNamer(),
      progressIntervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
      maxPayloadBytes: maxPayloadBytesOf(options.maxPayloadBytes),
    };
  }

  readiness(): Readiness {
    return this.driver.readiness();
  }

  onReadinessChange(listener: (readiness: Readiness) => void): () => void {
    return this.driver.onReadinessChange(listener);
  }

  async declareQueue(queue: string, config?: Partial<QueueConfig>): Promise<void> {
    assertQueueName(queue);
    const full = queueConfigOf(config);
    this.assertOpen();
    await this.driver.declareQueue(queue, full);
  }

  async submit(input: SubmitInput): Promise<JobStatus> {
    return (await this.insert(this.newJob(input))).status;
  }

  async getStatus(id: string, read: ReadOptions = {}): Promise<JobStatus> {
    const ref = this.openRef(id);
    const { includeInput, ...rest } = read;
    if (!includeInput) return withPriority(await this.driver.read(ref, rest), ref.priority);
    // Both at once, each checking the tenant: the input never changes, so
    // it needs no snapshot shared with the status.
    const [status, input] = await Promise.all([this.driver.read(ref, rest), this.driver.readInput(ref, rest)]);
    if (input !== undefined) status.input = input;
    return withPriority(status, ref.priority);
  }

  watch(id: string, options: WatchOptions = {}): AsyncIterable<JobStatus> {
    const ref = this.openRef(id);
    return watchWithPriority(this.driver.watch(ref, options), ref.priority);
  }

  submitAndWatch(input: SubmitInput, options: SubmitWatchOptions = {}): AsyncIterable<JobStatus> {
    let fresh = false;
    let ref: JobRef | undefined;
    return submitThenWatch(
      async () => {
        const inserted = await this.insert(this.newJob(input));
        fresh = inserted.fresh;
        ref = inserted.ref;
        return inserted.status;
      },
      (queued) =>
        this.driver.watch(
          ref ?? refOf(queued.id),
          { ...options, tenant: input.tenant ?? "" },
          fresh ? queued : undefined,
        ),
      (status, queued) => withPriority(status, queued.priority),
    );
  }

  async getResult(id: string, read: ReadOptions = {}): Promise<JobResult> {
    return this.driver.readResult(this.openRef(id), read);
  }

  async cancel(id: string, read: ReadOptions = {}): Promise<CancelOutcome> {
    const ref = this.openRef(id);
    const { options, ...outcome } = await this.driver.cancel(ref, read);
    withPriority(outcome.job, ref.priority);
    if (outcome.removed) this.emitCancelled(outcome, read.tenant ?? "", options);
    return outcome;
  }

  async queueConfig(queue: string): Promise<QueueConfig> {
    assertQueueName(queue);
    this.assertOpen();
    const config = await this.driver.queueConfig(queue);
    if (!config) throw queueNotFound(queue);
    return config;
  }

  async appendLog(id: string, entry: LogEntry): Promise<void> {
    await this.driver.appendLog(this.openRef(id), entry);
  }

  observe(listener: JobEventListener): () => void {
    return this.events.observe(listener);
  }

  async queueCount(queue: string): Promise<QueueCounts> {
    assertQueueName(queue);
    this.assertOpen();
    const { driver } = this;
    // Delayed jobs are not waiting in line: counted apart, and only when there are some.
    const [counts, delayed] = await Promise.all([driver.count(queue), driver.delayedCount?.(queue) ?? 0]);
    return delayed > 0 ? { ...counts, delayed } : counts;
  }

  async listQueues(): Promise<string[]> {
    this.assertOpen();
    return this.driver.listQueues();
  }

  async fetch(queue: string, options: FetchOptions): Promise<JobLease[]> {
    assertQueueName(queue);
    const max = Math.floor(options.max);
    // As a pending fetch when the engine closes: nothing more to hand out.
    if (this.closed || !(max >= 1) || options.signal?.aborted) return [];
    const isClosed = () => this.closed;
    const deliveries = await fetchUnlessPaused(this.driver, queue, max, options.expiresMs, options.signal, isClosed);
    return deliveries.map((d) => new CoreLease(d, this.rules));
  }

  // -- job control: lists (ListQueues, ListJobs) --
  async listJobs(query: ListJobsQuery): Promise<JobPage> {
    const checked = listQueryOf(query);
    this.assertOpen();
    return listJobs(this.driver, checked);
  }

  async describeQueues(): Promise<QueueInfo[]> {
    this.assertOpen();
    return describeQueues(this.driver);
  }
  // -- end lists --

  // -- job control: retry and delayed jobs --
  async retry(id: string, read: ReadOptions = {}): Promise<JobStatus> {
    // What may be retried is ../core/retry-job.ts's rule; the driver applies it atomically.
    const ref = this.openRef(id);
    return withPriority(await this.driver.retry(ref, read), ref.priority);
  }
  // -- end retry and delayed jobs --

  // -- job control: priority --
  // -- end priority --

  // -- job control: batches, WatchJobs, pause --
  /** Aborted by close(): ends open WatchJobs, which may follow no job at the time. */
  private readonly closing = closingController();

  async submitBatch(inputs: SubmitInput[]): Promise<BatchOutcome[]> {
    this.assertOpen();
    return submitBatch(this.driver, inputs, {
      newJob: (input) => this.newJob(input),
      inserted: (job, inserted) => {
        withPriority(inserted.status);
        this.told(job, inserted);
      },
    });
  }

  watchJobs(target: WatchJobsTarget, options: WatchOptions = {}): AsyncIterable<JobStatus> {
    const checked = checkTarget(target);
    this.assertOpen();
    return watchWithPriority(watchJobs(this.driver, checked, options, this.closing.signal));
  }

  async pauseQueue(queue: string): Promise<void> {
    assertQueueName(queue);
    this.assertOpen();
    await this.driver.setPaused(queue, true);
  }

  async resumeQueue(queue: string): Promise<void> {
    assertQueueName(queue);
    this.assertOpen();
    await this.driver.setPaused(queue, false);
  }

  async isPaused(queue: string): Promise<boolean> {
    assertQueueName(queue);
    this.assertOpen();
    return this.driver.paused(queue);
  }

  /** The submitted event of a batch item the driver stored, as insert() tells a Submit's. */
  private told(job: NewJob, inserted: Inserted): void {
    if (!inserted.fresh || !this.events.observed) return;
    const { id, createdAt } = inserted.status;
    this.events.emit({ kind: "submitted", queue: job.queue, id, tenant: job.tenant, createdAt, options: job.options });
  }
  // -- end batches, WatchJobs, pause --

  stats(): EngineStats {
    return this.driver.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    await this.driver.close();
  }

  /** The stored job, with its id's parts (read once: the id's pattern is a regex). */
  private async insert(job: NewJob): Promise<Inserted & { ref?: JobRef }> {
    const inserted: Inserted & { ref?: JobRef } = await this.driver.insert(job);
    const parts = jobIdParts(inserted.status.id);
    inserted.status.priority = parts?.priority ?? DEFAULT_PRIORITY;
    if (parts) inserted.ref = { id: inserted.status.id, ...parts };
    if (inserted.fresh && this.events.observed) {
      const { id, createdAt } = inserted.status;
      this.events.emit({
        kind: "submitted",
        queue: job.queue,
        id,
        tenant: job.tenant,
        createdAt,
        options: job.options,
      });
    }
    return inserted;
  }

  private emitCancelled({ job }: CancelOutcome, tenant: string, options: JobOptions | undefined): void {
    this.events.emit({
      kind: "finished",
      state: "CANCELLED",
      queue: job.queue,
      id: job.id,
      tenant,
      attempt: job.attempt,
      createdAt: job.createdAt,
      ...(job.startedAt !== undefined ? { startedAt: job.startedAt } : {}),
      finishedAt: job.finishedAt ?? Date.now(),
      ...(job.error ? { error: job.error } : {}),
      ...(options ? { options } : {}),
    });
  }

  private assertOpen(): void {
    if (this.closed) throw unavailable("the engine is closed");
  }

  /** The id parsed (INVALID_ARGUMENT naming it when malformed), on an open engine. */
  private openRef(id: string): JobRef {
    const ref = refOf(id);
    this.assertOpen();
    return ref;
  }

  /** The job as the driver stores it: checked, its input encoded once. */
  private newJob(input: SubmitInput): NewJob {
    assertQueueName(input.queue);
    const options = withSchedule(jobOptionsOf(input.options), input.options ?? {}, Date.now());
    const trace = checkedTraceContext(input.trace);
    const inputJson = JSON.stringify(input.input ?? null) ?? "null";
    const { maxPayloadBytes, settingName } = this.rules;
    const bytes = payloadBytes(inputJson, maxPayloadBytes);
    if (bytes > maxPayloadBytes) throw inputTooLarge(bytes, maxPayloadBytes, settingName("maxPayloadBytes"));
    this.assertOpen();
    return {
      queue: input.queue,
      inputJson,
      tenant: input.tenant ?? "",
      options,
      ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
      ...(trace ? { trace } : {}),
    };
  }
}
