/**
 * The embedded storage driver: every queue and job in this process's memory
 * (store.ts), handed to workers by deliveries.ts, watched by watch.ts. The
 * engine core (../core/engine.ts) puts the job rules on top.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { failedPrecondition } from "../errors.js";
import { formatJobId, newToken } from "../job-id.js";
import type { LogBounds } from "../log-bounds.js";
import type { PositionPacerOptions } from "../position-pacer.js";
import { createReadinessState, type ReadinessState } from "../readiness.js";
import type { SettingNamer } from "../settings.js";
import { cancelledError } from "../core/outcomes.js";
import type {
  EngineStats,
  FinishedCounts,
  JobResult,
  JobStatus,
  LogEntry,
  QueueConfig,
  QueueCounts,
  ReadOptions,
  Readiness,
  WatchOptions,
} from "../types.js";
import type {
  Driver,
  DriverCancelOutcome,
  DriverDelivery,
  Inserted,
  JobRef,
  ListPage,
  ListQuery,
  NewJob,
} from "../driver/types.js";
import { priorityOf } from "../core/priority.js";
import { MemoryDeliveries } from "./deliveries.js";
import { appendLogs, createQueueState, snapshot, type FetchWaiter, type JobRecord } from "./job-record.js";
import { MemoryWebhookOutbox } from "./webhook-outbox.js";
import type { JobEventListener } from "../job-events.js";
import { listenToQueue, tellQueueWatchers } from "./queue-watch.js";
import { liveJobsPage } from "./list-live.js";
import { MemoryStore } from "./store.js";
import { attemptsOf } from "../core/retry-job.js";
import { retryJob } from "./retry.js";
import { MemorySchedule } from "./schedule.js";
import { notifyWatchers, watchJob } from "./watch.js";

export interface MemoryDriverOptions {
  retentionMs: number;
  logBounds: LogBounds;
  settingName: SettingNamer;
  logger?: Logger;
  positionUpdates?: PositionPacerOptions;
}

export class MemoryDriver implements Driver {
  readonly kind = "memory" as const;
  readonly store: MemoryStore;
  private readonly deliveries: MemoryDeliveries;
  private readonly schedule: MemorySchedule;
  // Nothing to lose touch with: ready while open.
  private readonly readinessState: ReadinessState = createReadinessState();
  private readonly logger: Logger | undefined;
  private readonly logBounds: LogBounds;
  readonly webhooks = new MemoryWebhookOutbox();

  private readonly retentionMs: number;

  constructor(options: MemoryDriverOptions) {
    this.logger = options.logger;
    this.logBounds = options.logBounds;
    this.retentionMs = options.retentionMs;
    this.store = new MemoryStore(options);
    this.deliveries = new MemoryDeliveries(this.store, options.logBounds, options.logger);
    this.schedule = new MemorySchedule(this.store, this.deliveries);
  }

  setEventSink(sink: JobEventListener): void {
    this.store.eventSink = sink;
  }

  readiness(): Readiness {
    return this.readinessState.get();
  }

  onReadinessChange(listener: (readiness: Readiness) => void): () => void {
    return this.readinessState.subscribe(listener);
  }

  async declareQueue(queue: string, config: QueueConfig): Promise<void> {
    // As the JetStream driver: the declared config replaces the queue's; jobs already waiting stay.
    const existing = this.store.queues.get(queue);
    if (existing) existing.config = config;
    else this.store.queues.set(queue, createQueueState(queue, config));
  }

  async insert(job: NewJob): Promise<Inserted> {
    const { store } = this;
    const q = store.getQueue(job.queue);
    const key = job.idempotencyKey;
    const slot = key !== undefined ? store.idempotencySlot(job.tenant, q.name, key) : undefined;
    const existing = slot !== undefined ? store.idempotency.get(slot) : undefined;
    if (existing && existing.queue.jobs.get(existing.seq) === existing) {
      store.expireIfDue(existing, Date.now());
      return { status: snapshot(existing), fresh: false };
    }
    const seq = q.nextSeq++;
    // One sequence per queue: the id's level character says the priority (as on JetStream).
    const priority = priorityOf(job.options);
    const record: JobRecord = {
      id: formatJobId({ queue: q.name, priority, seq, token: newToken() }),
      seq,
      priority,
      queue: q,
      tenant: job.tenant,
      idempotencyKey: key,
      // Parsed from the JSON text, as the JetStream driver's workers read it.
      input: JSON.parse(job.inputJson) as JsonValue,
      options: job.options,
      trace: job.trace,
      createdAt: Date.now(),
      line: seq,
      state: "QUEUED",
      phase: "ready",
      attempt: 0,
      deliveries: 0,
      progress: 0,
    };
    q.jobs.set(seq, record);
    if (!this.schedule.hold(record)) {
      q.live.set(seq, record);
      q.ready.add(seq, priority);
      store.linesMoved(q);
    }
    if (slot !== undefined) store.idempotency.set(slot, record);
    if (job.options.startDeadline !== undefined) store.deadlines.add(job.options.startDeadline, record.id);
    const status = snapshot(record);
    tellQueueWatchers(record);
    this.deliveries.serveWaiters(q);
    return { status, fresh: true };
  }

  async read(ref: JobRef, read: ReadOptions): Promise<JobStatus> {
    const job = this.store.lookup(ref, read);
    const status = snapshot(job, read.includeLogs ?? false);
    if (read.includeAttempts) status.attempts = attemptsOf(job.history, job);
    return status;
  }

  async readInput(ref: JobRef, read: ReadOptions): Promise<JsonValue> {
    // Kept with the job for as long as it is retained; a copy, as every read hands out.
    return structuredClone(this.store.lookup(ref, read).input);
  }

  async readResult(ref: JobRef, read: ReadOptions): Promise<JobResult> {
    const job = this.store.lookup(ref, read);
    if (job.phase !== "done") {
      throw failedPrecondition(
        `job "${job.id}" is ${job.state}; its result exists once it finishes (watch it with StreamStatus)`,
      );
    }
    const out: JobResult = { id: job.id, state: job.state };
    if (job.state === "COMPLETED") out.output = structuredClone(job.output ?? null);
    if (job.error) out.error = { ...job.error };
    return out;
  }

  async cancel(ref: JobRef, read: ReadOptions): Promise<DriverCancelOutcome> {
    const job = this.store.lookup(ref, read);
    const id = job.id;
    if (job.phase === "done") {
      const message = `job "${id}" already finished in state ${job.state}; nothing to cancel`;
      return { removed: false, message, job: snapshot(job) };
    }
    const wasRunning = job.state === "RUNNING";
    const delivery = job.delivery;
    this.store.finish(job, "CANCELLED", { error: cancelledError() });
    // After the job is final, so a handler reacting to the signal finds its lease stale.
    delivery?.cancel.abort(new Error("job cancelled by a client"));
    const message = wasRunning
      ? `job "${id}" was cancelled; its worker was signalled to stop`
      : `job "${id}" was removed from the queue`;
    return { removed: true, message, job: snapshot(job), options: job.options };
  }

  async queueConfig(queue: string): Promise<QueueConfig | undefined> {
    return this.store.queues.get(queue)?.config;
  }

  async appendLog(ref: JobRef, entry: LogEntry): Promise<void> {
    const job = this.store.lookup(ref);
    appendLogs(job, [entry], this.logBounds);
    notifyWatchers(job, "log");
  }

  async count(queue: string): Promise<QueueCounts> {
    const q = this.store.getQueue(queue);
    return { queue: q.name, inQueue: q.live.size - q.leased, running: q.leased };
  }

  async listQueues(): Promise<string[]> {
    return [...this.store.queues.keys()];
  }

  watch(ref: JobRef, options: WatchOptions): AsyncIterable<JobStatus> {
    const { store } = this;
    const host = { lookup: () => store.lookup(ref, options), open: store.watchers, pacer: store.pacer };
    return watchJob({ ...host, isClosed: () => store.closed }, options);
  }

  async fetch(queue: string, max: number, expiresMs: number, signal?: AbortSignal): Promise<DriverDelivery[]> {
    if (this.store.closed) return [];
    const q = this.store.getQueue(queue);
    // Waiters exist only while nothing is ready, so this never jumps the line.
    const now = this.deliveries.take(q, max);
    if (now.length > 0 || !(expiresMs > 0)) return now;
    return new Promise<DriverDelivery[]>((resolve) => {
      let settled = false;
      const done = (taken: DriverDelivery[]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = q.waiters.indexOf(waiter);
        if (i >= 0) q.waiters.splice(i, 1);
        resolve(taken);
      };
      const onAbort = () => done([]);
      const waiter: FetchWaiter = { max, serve: done };
      // Not unref'd: a caller awaiting a fetch is real pending work, like a
      // request on a socket. close() clears it.
      const timer = setTimeout(() => done([]), expiresMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      q.waiters.push(waiter);
    });
  }

  // -- job control: lists (ListQueues, ListJobs) --
  async listJobs(query: ListQuery): Promise<ListPage> {
    const { store } = this;
    const q = store.getQueue(query.queue);
    if (query.state === "QUEUED" || query.state === "RUNNING") return liveJobsPage(q, query);
    const retentionMs = this.retentionMs;
    const now = Date.now();
    return store.index.page(query, (job) => q.jobs.get(job.seq) === job && (job.finishedAt ?? now) + retentionMs > now);
  }

  async finishedCounts(queue: string, since: readonly number[]): Promise<FinishedCounts[]> {
    this.store.getQueue(queue);
    return this.store.index.counts(queue, since);
  }
  // -- end lists --

  // -- job control: retry and delayed jobs --
  async delayedCount(queue: string): Promise<number> {
    return this.store.getQueue(queue).scheduled.size;
  }

  async retry(ref: JobRef, read: ReadOptions): Promise<JobStatus> {
    const status = retryJob(this.store, this.deliveries, ref, read);
    if (read.includeAttempts) status.attempts = attemptsOf(this.store.lookup(ref, read).history, status);
    return status;
  }
  // -- end retry and delayed jobs --

  // -- job control: priority --
  // -- end priority --

  // -- job control: batches, WatchJobs, pause --
  private readonly pausedQueues = new Set<string>();

  async insertBatch(jobs: NewJob[]): Promise<Array<Inserted | { error: unknown }>> {
    // One step each, in order: nothing to gain from overlapping them in one process.
    const out: Array<Inserted | { error: unknown }> = [];
    for (const job of jobs) out.push(await this.insert(job).catch((error: unknown) => ({ error })));
    return out;
  }

  watchQueue(queue: string, onJob: (id: string) => void): () => void {
    const q = this.store.queues.get(queue);
    return q ? listenToQueue(q, onJob) : () => {};
  }

  async setPaused(queue: string, paused: boolean): Promise<void> {
    this.store.getQueue(queue);
    if (paused) this.pausedQueues.add(queue);
    else this.pausedQueues.delete(queue);
  }

  async paused(queue: string): Promise<boolean> {
    this.store.getQueue(queue);
    return this.pausedQueues.has(queue);
  }
  // -- end batches, WatchJobs, pause --

  stats(): EngineStats {
    return { eventSubscriptions: 0, openWatches: this.store.watchers.size };
  }

  async close(): Promise<void> {
    const { store } = this;
    if (store.closed) return;
    store.closed = true;
    let unfinished = 0;
    for (const q of store.queues.values()) {
      unfinished += q.live.size + q.scheduled.size;
      for (const waiter of q.waiters.splice(0)) waiter.serve([]);
      for (const job of q.live.values()) {
        if (job.delivery) clearTimeout(job.delivery.timer);
        if (job.backoffTimer) clearTimeout(job.backoffTimer);
      }
    }
    store.deadlines.clear();
    this.schedule.clear();
    store.retention.clear();
    store.pacer.close();
    this.webhooks.close();
    for (const watcher of [...store.watchers]) watcher.closed();
    this.readinessState.set({ ready: false, reason: "engine closed" });
    // Nobody else will ever run them: say so, rather than lose them quietly.
    if (unfinished > 0) {
      this.logger?.warn(
        { unfinished },
        `memory engine closed with ${unfinished} unfinished job(s): they are lost (the embedded engine keeps jobs in this process only)`,
      );
    } else this.logger?.debug("memory engine closed");
  }
}
