/**
 * The embedded driver's state: every queue and job of this process, and the
 * moves of a job between its phases (waiting, backing off, leased, done).
 * Everything is synchronous, so each driver call is atomic: no locks, and
 * idempotent inserts cannot race.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { jobExpiredNotFound, jobNotFound, queueNotFound } from "../errors.js";
import { parseJobId } from "../job-id.js";
import { createPositionPacer, type PositionPacer, type PositionPacerOptions } from "../position-pacer.js";
import type { SettingNamer } from "../settings.js";
import { deadlinePassed, expiredError } from "../core/outcomes.js";
import type { JobEventListener } from "../job-events.js";
import { isTerminal, type JobError, type JobState, type ReadOptions } from "../types.js";
import type { JobRecord, JobWatcher, QueueState } from "./job-record.js";
import { MemoryJobIndex } from "./index-lists.js";
import { createTimerHeap, type TimerHeap } from "./timer-heap.js";
import { notifyWatchers } from "./watch.js";

/** Least time between two passes telling a queue's watchers that their line moved. */
const POSITION_SCAN_MS = 100;
/** Ids of jobs removed by retention, remembered to say why they are gone. */
const MAX_TOMBSTONES = 100_000;

export interface StoreOptions {
  retentionMs: number;
  settingName: SettingNamer;
  logger?: Logger;
  positionUpdates?: PositionPacerOptions;
}

export interface Finish {
  error?: JobError;
  output?: JsonValue;
  progress?: number;
  attempt?: number;
}

/** Every queue and job of the embedded driver; each method is one atomic step. */
export class MemoryStore {
  readonly queues = new Map<string, QueueState>();
  /** tenant NUL queue NUL key → job: a key names a job of one tenant in one queue. */
  readonly idempotency = new Map<string, JobRecord>();
  readonly watchers = new Set<JobWatcher>();
  readonly pacer: PositionPacer;
  closed = false;
  /** Set by the core through MemoryDriver.setEventSink. */
  eventSink: JobEventListener = () => {};
  /** Start deadlines by job id: a job finished long before its deadline must not be kept by the heap. */
  readonly deadlines: TimerHeap<string>;
  readonly retention: TimerHeap<JobRecord>;
  /** Finished jobs by queue, state and tenant, for ListJobs and ListQueues. */
  readonly index: MemoryJobIndex;
  /** id → tenant of jobs removed by retention */
  private readonly tombstones = new Map<string, string>();
  private readonly options: StoreOptions;

  constructor(options: StoreOptions) {
    this.options = options;
    this.index = new MemoryJobIndex(options.retentionMs);
    this.pacer = createPositionPacer(options.positionUpdates);
    this.deadlines = createTimerHeap<string>((id) => {
      const parts = parseJobId(id);
      const job = this.queues.get(parts.queue)?.jobs.get(parts.seq);
      if (job?.id === id) this.expireIfDue(job, Date.now());
    });
    this.retention = createTimerHeap<JobRecord>((job) => this.forget(job));
  }

  getQueue(queue: string): QueueState {
    const q = this.queues.get(queue);
    if (!q) throw queueNotFound(queue);
    return q;
  }

  idempotencySlot(tenant: string, queue: string, key: string): string {
    return `${tenant}\u0000${queue}\u0000${key}`;
  }

  /** The job behind the id, as the reader may see it; NOT_FOUND otherwise. */
  lookup(ref: { id: string; queue: string; seq: number }, read: ReadOptions = {}): JobRecord {
    const job = this.queues.get(ref.queue)?.jobs.get(ref.seq);
    // The id carries the token: another token means another (unknown) job.
    if (!job || job.id !== ref.id) {
      const tenant = this.tombstones.get(ref.id);
      if (tenant !== undefined && (read.tenant === undefined || read.tenant === tenant)) {
        throw this.retentionNotFound(ref.id);
      }
      throw jobNotFound(ref.id);
    }
    // Another tenant's job is indistinguishable from no job.
    if (read.tenant !== undefined && read.tenant !== job.tenant) throw jobNotFound(ref.id);
    const now = Date.now();
    if (job.finishedAt !== undefined && job.finishedAt + this.options.retentionMs <= now) {
      this.forget(job);
      throw this.retentionNotFound(ref.id);
    }
    this.expireIfDue(job, now);
    return job;
  }

  /** A QUEUED job whose start deadline passed ends EXPIRED (timer, read, fetch, begin). */
  expireIfDue(job: JobRecord, now: number): boolean {
    const deadline = job.options.startDeadline;
    if (job.state !== "QUEUED" || deadline === undefined || !deadlinePassed(deadline, now)) return false;
    this.finish(job, "EXPIRED", { error: expiredError(deadline) });
    this.told(job);
    return true;
  }

  /** Tells the core's observers a terminal transition no lease or cancel made. */
  told(job: JobRecord): void {
    const { id, tenant, createdAt, startedAt, finishedAt, error, attempt, options } = job;
    if (finishedAt === undefined || !isTerminal(job.state) || job.state === "COMPLETED") return;
    this.eventSink({
      kind: "finished",
      state: job.state as "FAILED" | "CANCELLED" | "EXPIRED",
      queue: job.queue.name,
      id,
      tenant,
      attempt,
      createdAt,
      ...(startedAt !== undefined ? { startedAt } : {}),
      finishedAt,
      ...(error ? { error } : {}),
      options,
    });
  }

  /** Takes the job out of its current phase (queue slot, backoff timer or lease). */
  leavePhase(job: JobRecord): void {
    const q = job.queue;
    switch (job.phase) {
      case "ready":
        q.ready.delete(job.line, job.priority);
        this.linesMoved(q);
        break;
      case "backoff":
        if (job.backoffTimer) clearTimeout(job.backoffTimer);
        job.backoffTimer = undefined;
        break;
      case "leased":
        if (job.delivery) clearTimeout(job.delivery.timer);
        job.delivery = undefined; // from now on that lease is stale
        q.leased--;
        break;
      case "scheduled":
        // Its due timer finds it in another phase and does nothing.
        q.scheduled.delete(job);
        break;
      case "done":
        break;
    }
  }

  makeReady(job: JobRecord): void {
    job.phase = "ready";
    job.queue.ready.add(job.line, job.priority);
    this.linesMoved(job.queue);
  }

  /**
   * The waiting line of q changed: watchers of its QUEUED jobs are told once
   * per burst of changes (a microtask later), and at most every
   * POSITION_SCAN_MS, so a storm of cancels costs O(watched) a few times a
   * second, not per cancel; the position pacer then sends each its position,
   * paced, and only if it actually moved.
   */
  linesMoved(q: QueueState): void {
    if (q.watched.size === 0 || q.positionsMoving) return;
    q.positionsMoving = true;
    const tell = () => {
      q.positionsMoving = false;
      q.positionsAt = Date.now();
      if (this.closed) return;
      for (const job of q.watched) if (job.state === "QUEUED") notifyWatchers(job, "position");
    };
    const wait = q.positionsAt + POSITION_SCAN_MS - Date.now();
    if (wait <= 0) queueMicrotask(tell);
    else setTimeout(tell, wait).unref();
  }

  finish(job: JobRecord, to: JobState, fields: Finish): void {
    this.leavePhase(job);
    job.phase = "done";
    job.queue.live.delete(job.line);
    job.state = to;
    job.finishedAt = Date.now();
    job.error = fields.error;
    if (fields.output !== undefined) job.output = fields.output;
    if (fields.progress !== undefined) job.progress = fields.progress;
    if (fields.attempt !== undefined) job.attempt = fields.attempt;
    this.retention.add(job.finishedAt + this.options.retentionMs, job);
    this.index.finished(job);
    this.options.logger?.debug({ id: job.id, state: to }, "job record terminal");
    notifyWatchers(job, "status");
  }

  private retentionNotFound(id: string) {
    return jobExpiredNotFound(id, this.options.retentionMs, this.options.settingName("retentionMs"));
  }

  /** Drops a terminal job after its retention (its logs go with it). */
  private forget(job: JobRecord): void {
    const q = job.queue;
    if (q.jobs.get(job.seq) !== job) return;
    // Retried since (live again), or finished again later (a newer entry drops it).
    if (job.phase !== "done" || job.finishedAt! + this.options.retentionMs > Date.now()) return;
    q.jobs.delete(job.seq);
    if (job.idempotencyKey !== undefined) {
      const slot = this.idempotencySlot(job.tenant, job.queue.name, job.idempotencyKey);
      if (this.idempotency.get(slot) === job) this.idempotency.delete(slot);
    }
    this.tombstones.set(job.id, job.tenant);
    if (this.tombstones.size > MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
  }
}
