/**
 * The embedded engine: every queue and job in this process's memory, with the
 * same contract and semantics as the JetStream engine (test/conformance/).
 * Everything is synchronous inside, so each call is atomic: no locks, and
 * idempotent submits cannot race.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  failedPrecondition,
  inputTooLarge,
  invalidArgument,
  jobExpiredNotFound,
  outputTooLarge,
  payloadBytes,
  jobNotFound,
  queueNotFound,
  unavailable,
} from "../errors.js";
import { formatJobId, newToken, parseJobId } from "../job-id.js";
import { assertQueueName } from "../queue-name.js";
import { tooManyLostLeases, workerLostError } from "../lost-leases.js";
import { afterFailure } from "../core/retry-policy.js";
import { cancelledError, deadlinePassed, expiredError } from "../core/outcomes.js";
import { jobOptionsOf, queueConfigOf } from "../core/validate.js";
import { submitThenWatch } from "../submit-and-watch.js";
import {
  type CancelOutcome,
  type Engine,
  type FetchOptions,
  type JobError,
  type JobLease,
  type JobResult,
  type JobState,
  type JobStatus,
  type QueueCounts,
  type ReadOptions,
  type SubmitInput,
  type SubmitWatchOptions,
  type WatchOptions,
} from "../types.js";
import {
  appendLogs,
  createQueueState,
  snapshot,
  type Delivery,
  type FetchWaiter,
  type JobRecord,
  type JobWatcher,
  type QueueState,
} from "./job-record.js";
import { createLease, type LeaseHost } from "./lease.js";
import type { SeqSet } from "./order-stats.js";
import { createTimerHeap } from "./timer-heap.js";
import { createPositionPacer, type PositionPacerOptions } from "../position-pacer.js";
import { notifyWatchers, watchJob } from "./watch.js";
import { createLogMeter, logBoundsOf, type LogBounds } from "../log-bounds.js";
import { settingNamer, type SettingNames } from "../settings.js";
import { assertProgressInterval, DEFAULT_PROGRESS_INTERVAL_MS, pacedProgress } from "../progress-pacing.js";
import { createReadinessState } from "../readiness.js";

export interface MemoryEngineOptions {
  /** How long terminal jobs (and their logs) stay readable. Default 24h. */
  retentionMs?: number;
  /** Largest input and output (JSON bytes); default 16 MiB. */
  maxPayloadBytes?: number;
  logger?: Logger;
  /** How position-only updates of watches are paced (defaults: ../position-pacer.ts). */
  positionUpdates?: PositionPacerOptions;
  /** What a job's handler may log (defaults: ../log-bounds.ts). */
  logBounds?: Partial<LogBounds>;
  /** Least time between two progress events of one attempt; default 100. */
  progressIntervalMs?: number;
  /** How messages name the engine's settings (../settings.ts); default the options' own names. */
  settingNames?: SettingNames;
}

const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Least time between two passes telling a queue's watchers that their line moved. */
const POSITION_SCAN_MS = 100;
/** Largest input (JSON bytes): the server's 16 MiB request limit, so memory use stays bounded per job. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Ids of jobs removed by retention, remembered to say why they are gone. */
const MAX_TOMBSTONES = 100_000;

/** Internals exposed to this engine's own tests (complexity is asserted by counting). */
export interface MemoryEngineInternals {
  readySet(queue: string): SeqSet | undefined;
  timers(): { deadlines: number; retention: number };
}
const internals = new WeakMap<Engine, MemoryEngineInternals>();
export function memoryEngineInternals(engine: Engine): MemoryEngineInternals {
  const found = internals.get(engine);
  if (!found) throw new Error("not an embedded (memory) engine");
  return found;
}

export function createMemoryEngine(options: MemoryEngineOptions = {}): Engine {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  if (!(retentionMs >= 0)) throw invalidArgument(`retentionMs: ${retentionMs} must be zero or more`);
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  if (!(maxPayloadBytes > 0)) throw invalidArgument(`maxPayloadBytes: ${maxPayloadBytes} must be greater than zero`);
  const logger = options.logger?.child({ engine: "memory" });
  const logBounds = logBoundsOf(options.logBounds);
  const settingName = settingNamer(options.settingNames);
  const progressIntervalMs = assertProgressInterval(options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);

  const queues = new Map<string, QueueState>();
  /** tenant NUL queue NUL key → job: a key names a job of one tenant in one queue. */
  const idempotency = new Map<string, JobRecord>();
  /** id → tenant of jobs removed by retention */
  const tombstones = new Map<string, string>();
  const watchers = new Set<JobWatcher>();
  const pacer = createPositionPacer(options.positionUpdates);
  let closed = false;

  // Holds ids, not jobs: a job finished long before its start deadline must
  // not be kept in memory by the heap past its retention.
  const deadlines = createTimerHeap<string>((id) => {
    const parts = parseJobId(id);
    const job = queues.get(parts.queue)?.jobs.get(parts.seq);
    if (job?.id === id) expireIfDue(job, Date.now());
  });
  const retention = createTimerHeap<JobRecord>((job) => forget(job));

  // ------------------------------------------------------------ helpers

  const ensureOpen = (what: string) => {
    if (closed) throw unavailable(`engine closed: cannot ${what}`);
  };

  const getQueue = (queue: string): QueueState => {
    assertQueueName(queue);
    const q = queues.get(queue);
    if (!q) throw queueNotFound(queue);
    return q;
  };

  const idempotencySlot = (tenant: string, queue: string, key: string) => `${tenant}\u0000${queue}\u0000${key}`;

  const retentionNotFound = (id: string) => jobExpiredNotFound(id, retentionMs, settingName("retentionMs"));

  /** The job behind id, as the reader may see it; NOT_FOUND otherwise. */
  const lookup = (id: string, read: ReadOptions = {}): JobRecord => {
    const parts = parseJobId(id);
    const job = queues.get(parts.queue)?.jobs.get(parts.seq);
    // The id carries the token: another token means another (unknown) job.
    if (!job || job.id !== id) {
      const tenant = tombstones.get(id);
      if (tenant !== undefined && (read.tenant === undefined || read.tenant === tenant)) {
        throw retentionNotFound(id);
      }
      throw jobNotFound(id);
    }
    // Another tenant's job is indistinguishable from no job.
    if (read.tenant !== undefined && read.tenant !== job.tenant) throw jobNotFound(id);
    const now = Date.now();
    if (job.finishedAt !== undefined && job.finishedAt + retentionMs <= now) {
      forget(job);
      throw retentionNotFound(id);
    }
    expireIfDue(job, now);
    return job;
  };

  /** A QUEUED job whose start deadline passed ends EXPIRED (timer, read, fetch, begin). */
  const expireIfDue = (job: JobRecord, now: number): boolean => {
    const deadline = job.options.startDeadline;
    if (job.state !== "QUEUED" || deadline === undefined || !deadlinePassed(deadline, now)) return false;
    finish(job, "EXPIRED", { error: expiredError(deadline) });
    return true;
  };

  /** Takes the job out of its current phase (queue slot, backoff timer or lease). */
  const leavePhase = (job: JobRecord) => {
    const q = job.queue;
    switch (job.phase) {
      case "ready":
        q.ready.delete(job.seq);
        linesMoved(q);
        break;
      case "backoff":
        if (job.backoffTimer) clearTimeout(job.backoffTimer);
        job.backoffTimer = undefined;
        break;
      case "leased":
        if (job.delivery) endAttempt(job.delivery);
        job.delivery = undefined; // from now on that lease is stale
        q.leased--;
        break;
      case "done":
        break;
    }
  };

  /** The attempt's lease is over: its timer and paced progress stop, its dropped-lines notice is written. */
  const endAttempt = (d: Delivery) => {
    clearTimeout(d.timer);
    d.progressEvents.cancel();
    const notice = d.logMeter.finish(Date.now());
    if (notice) {
      appendLogs(d.job, [notice], logBounds);
      notifyWatchers(d.job, "log");
    }
  };

  const makeReady = (job: JobRecord) => {
    job.phase = "ready";
    job.queue.ready.add(job.seq);
    linesMoved(job.queue);
  };

  /**
   * The waiting line of q changed: watchers of its QUEUED jobs are told once
   * per burst of changes (a microtask later), and at most every
   * POSITION_SCAN_MS, so a storm of cancels costs O(watched) a few times a
   * second, not per cancel; the position pacer then sends each its position,
   * paced, and only if it actually moved.
   */
  const linesMoved = (q: QueueState) => {
    if (q.watched.size === 0 || q.positionsMoving) return;
    q.positionsMoving = true;
    const tell = () => {
      q.positionsMoving = false;
      q.positionsAt = Date.now();
      if (closed) return;
      for (const job of q.watched) if (job.state === "QUEUED") notifyWatchers(job, "position");
    };
    const wait = q.positionsAt + POSITION_SCAN_MS - Date.now();
    if (wait <= 0) queueMicrotask(tell);
    else setTimeout(tell, wait).unref();
  };

  const finish = (
    job: JobRecord,
    state: JobState,
    fields: { error?: JobError; output?: JsonValue; progress?: number },
  ) => {
    leavePhase(job);
    job.phase = "done";
    job.queue.live.delete(job.seq);
    job.state = state;
    job.finishedAt = Date.now();
    job.error = fields.error;
    if (fields.output !== undefined) job.output = fields.output;
    if (fields.progress !== undefined) job.progress = fields.progress;
    retention.add(job.finishedAt + retentionMs, job);
    logger?.debug({ id: job.id, state }, "job finished");
    notifyWatchers(job, "status");
  };

  /** Drops a terminal job after its retention (its logs go with it). */
  const forget = (job: JobRecord) => {
    const q = job.queue;
    if (q.jobs.get(job.seq) !== job) return;
    q.jobs.delete(job.seq);
    if (job.idempotencyKey !== undefined) {
      const slot = idempotencySlot(job.tenant, job.queue.name, job.idempotencyKey);
      if (idempotency.get(slot) === job) idempotency.delete(slot);
    }
    tombstones.set(job.id, job.tenant);
    if (tombstones.size > MAX_TOMBSTONES) {
      tombstones.delete(tombstones.keys().next().value!);
    }
  };

  // ------------------------------------------------------------ delivery

  const leaseHost: LeaseHost = {
    begin(d) {
      const job = d.job;
      if (closed || job.delivery !== d) return false;
      if (expireIfDue(job, Date.now())) return false;
      if (d.begun) return true;
      d.begun = true;
      d.timer.refresh();
      job.state = "RUNNING";
      job.attempt = d.attempt;
      job.startedAt = Date.now();
      job.progress = 0;
      notifyWatchers(job, "status");
      return true;
    },
    heartbeat(d) {
      if (!closed && d.job.delivery === d) d.timer.refresh();
    },
    log(d, level, message) {
      const job = d.job;
      if (closed || job.delivery !== d) return;
      const entries = d.logMeter.admit(level, String(message), Date.now());
      if (entries.length === 0) return;
      appendLogs(job, entries, logBounds);
      notifyWatchers(job, "log");
    },
    progress(d, fraction) {
      const job = d.job;
      if (closed || job.delivery !== d || !Number.isFinite(fraction)) return;
      const value = Math.min(1, Math.max(0, fraction));
      if (value === job.progress) return;
      job.progress = value;
      d.progressEvents.set(value);
    },
    complete(d, output) {
      const job = d.job;
      if (closed || job.delivery !== d) return false;
      const json = JSON.stringify(output ?? null) ?? "null";
      const bytes = payloadBytes(json, maxPayloadBytes);
      if (bytes > maxPayloadBytes) {
        // As the JetStream engine: the attempt ends FAILED, not retried (the same output would come back).
        finish(job, "FAILED", { error: outputTooLarge(bytes, maxPayloadBytes, settingName("maxPayloadBytes")) });
        return true;
      }
      finish(job, "COMPLETED", { output: JSON.parse(json) as JsonValue, progress: 1 });
      return true;
    },
    fail(d, error, failOptions) {
      const job = d.job;
      if (closed || job.delivery !== d) return false;
      const jobError = { code: String(error.code), message: String(error.message) };
      const run = { attempt: d.attempt, interrupted: job.interrupted ?? 0, lost: job.lost ?? 0 };
      const next = afterFailure(run, failOptions.retryable !== false, job.options, job.queue.config);
      if (!next.retry) {
        finish(job, "FAILED", { error: jobError });
        return true;
      }
      leavePhase(job);
      job.state = "QUEUED";
      job.error = jobError;
      job.progress = 0;
      job.phase = "backoff";
      const wait = next.delayMs;
      job.backoffTimer = setTimeout(() => {
        job.backoffTimer = undefined;
        if (job.phase !== "backoff") return;
        makeReady(job);
        serveWaiters(job.queue);
      }, wait);
      job.backoffTimer.unref();
      logger?.debug({ id: job.id, attempt: d.attempt, backoffMs: wait }, "job will be retried");
      notifyWatchers(job, "status");
      return true;
    },
    release(d) {
      const job = d.job;
      if (closed || job.delivery !== d) return;
      leavePhase(job);
      // Handing a job back (shutdown) does not use up an attempt. One that
      // began keeps its number, so the rerun is attempt n+1 (as on JetStream).
      if (d.begun) job.interrupted = (job.interrupted ?? 0) + 1;
      else job.deliveries--;
      const wasRunning = job.state === "RUNNING";
      job.state = "QUEUED";
      makeReady(job);
      if (wasRunning) notifyWatchers(job, "status");
      serveWaiters(job.queue);
    },
  };

  const onLeaseExpired = (d: Delivery) => {
    const job = d.job;
    if (closed || job.delivery !== d) return;
    // A lost lease is not the job's failure (see lost-leases.ts); one that
    // never began is no run at all, as a release before begin.
    if (d.begun) job.lost = (job.lost ?? 0) + 1;
    else job.deliveries--;
    if (d.begun && tooManyLostLeases(job.lost ?? 0, job.options, job.queue.config)) {
      finish(job, "FAILED", { error: workerLostError(job.lost ?? 0, job.options, job.queue.config) });
      return;
    }
    logger?.debug({ id: job.id, attempt: d.attempt, lost: job.lost }, "lease expired; redelivering");
    leavePhase(job);
    const wasRunning = job.state === "RUNNING";
    job.state = "QUEUED";
    makeReady(job);
    if (wasRunning) notifyWatchers(job, "status");
    serveWaiters(job.queue);
  };

  const deliver = (job: JobRecord): JobLease => {
    const q = job.queue;
    job.deliveries++;
    job.phase = "leased";
    q.leased++;
    const ackWaitMs = q.config.ackWaitMs;
    const d: Delivery = {
      job,
      attempt: job.deliveries,
      ackWaitMs,
      cancel: new AbortController(),
      timer: setTimeout(() => onLeaseExpired(d), ackWaitMs),
      begun: false,
      logMeter: createLogMeter(logBounds, settingName),
      // Reads see job.progress at once; watchers hear of it paced.
      progressEvents: pacedProgress(progressIntervalMs, () => {
        if (!closed && job.delivery === d) notifyWatchers(job, "status");
      }),
    };
    d.timer.unref();
    job.delivery = d;
    return createLease(leaseHost, d);
  };

  /** Up to max leases from the head of the queue; expired jobs are dropped on the way. */
  const take = (q: QueueState, max: number): JobLease[] => {
    const leases: JobLease[] = [];
    const now = Date.now();
    while (leases.length < max) {
      const seq = q.ready.first();
      if (seq === undefined) break;
      const job = q.jobs.get(seq)!;
      if (expireIfDue(job, now)) continue;
      q.ready.delete(seq);
      linesMoved(q);
      leases.push(deliver(job));
    }
    return leases;
  };

  /** Hands ready jobs to pending fetches, oldest fetch first. */
  const serveWaiters = (q: QueueState) => {
    while (q.waiters.length > 0 && q.ready.size > 0) {
      const waiter = q.waiters[0]!;
      const leases = take(q, waiter.max);
      if (leases.length === 0) break;
      q.waiters.shift();
      waiter.serve(leases);
    }
  };

  // ------------------------------------------------------------ the Engine

  // Nothing to lose touch with: ready while open.
  const readiness = createReadinessState();

  const engine: Engine = {
    kind: "memory",
    readiness: readiness.get,
    onReadinessChange: readiness.subscribe,

    async declareQueue(queue, config = {}) {
      ensureOpen("declare queues");
      assertQueueName(queue);
      // As the JetStream engine: the declared config replaces the queue's
      // (unset fields take the defaults); jobs already waiting stay.
      const full = queueConfigOf(config);
      const existing = queues.get(queue);
      if (existing) existing.config = full;
      else queues.set(queue, createQueueState(queue, full));
    },

    async submit(input: SubmitInput): Promise<JobStatus> {
      ensureOpen("submit jobs");
      const q = getQueue(input.queue);
      const jobOptions = jobOptionsOf(input.options);
      const tenant = input.tenant ?? "";
      const key = input.idempotencyKey ? input.idempotencyKey : undefined;
      if (key !== undefined) {
        const existing = idempotency.get(idempotencySlot(tenant, q.name, key));
        if (existing && existing.queue.jobs.get(existing.seq) === existing) {
          expireIfDue(existing, Date.now());
          return snapshot(existing);
        }
      }
      // A JSON round trip is both the deep copy and what the JetStream engine
      // does to an input, so both engines store exactly the same value.
      const json = JSON.stringify(input.input ?? null) ?? "null";
      const bytes = payloadBytes(json, maxPayloadBytes);
      if (bytes > maxPayloadBytes) throw inputTooLarge(bytes, maxPayloadBytes, settingName("maxPayloadBytes"));

      const seq = q.nextSeq++;
      const job: JobRecord = {
        id: formatJobId({ queue: q.name, seq, token: newToken() }),
        seq,
        queue: q,
        tenant,
        idempotencyKey: key,
        input: JSON.parse(json) as JsonValue,
        options: jobOptions,
        createdAt: Date.now(),
        state: "QUEUED",
        phase: "ready",
        attempt: 0,
        deliveries: 0,
        progress: 0,
      };
      q.jobs.set(seq, job);
      q.live.set(seq, job);
      q.ready.add(seq);
      linesMoved(q);
      if (key !== undefined) idempotency.set(idempotencySlot(tenant, q.name, key), job);
      if (jobOptions.startDeadline !== undefined) deadlines.add(jobOptions.startDeadline, job.id);
      const status = snapshot(job);
      serveWaiters(q);
      return status;
    },

    async getStatus(id, read = {}) {
      ensureOpen("read jobs");
      return snapshot(lookup(id, read), read.includeLogs ?? false);
    },

    watch(id: string, watchOptions: WatchOptions = {}) {
      return watchJob(
        { lookup: () => lookup(id, watchOptions), open: watchers, pacer, isClosed: () => closed },
        watchOptions,
      );
    },

    submitAndWatch(input: SubmitInput, watchOptions: SubmitWatchOptions = {}) {
      return submitThenWatch(
        () => engine.submit(input),
        (submitted) => engine.watch(submitted.id, { ...watchOptions, tenant: input.tenant ?? "" }),
      );
    },

    async getResult(id, read = {}): Promise<JobResult> {
      ensureOpen("read jobs");
      const job = lookup(id, read);
      if (job.phase !== "done") {
        throw failedPrecondition(
          `job "${id}" is ${job.state}; its result exists once it finishes (watch it with StreamStatus)`,
        );
      }
      const result: JobResult = { id: job.id, state: job.state };
      if (job.state === "COMPLETED") result.output = structuredClone(job.output ?? null);
      if (job.error) result.error = { ...job.error };
      return result;
    },

    async cancel(id, read = {}): Promise<CancelOutcome> {
      ensureOpen("cancel jobs");
      const job = lookup(id, read);
      if (job.phase === "done") {
        return {
          removed: false,
          message: `job "${id}" already finished in state ${job.state}; nothing to cancel`,
          job: snapshot(job),
        };
      }
      const wasRunning = job.state === "RUNNING";
      const delivery = job.delivery;
      finish(job, "CANCELLED", { error: cancelledError() });
      // After the job is final, so a handler reacting to the signal finds its lease stale.
      delivery?.cancel.abort(new Error("job cancelled by a client"));
      return {
        removed: true,
        message: wasRunning
          ? `job "${id}" was cancelled; its worker was signalled to stop`
          : `job "${id}" was removed from the queue`,
        job: snapshot(job),
      };
    },

    async queueCount(queue): Promise<QueueCounts> {
      ensureOpen("count queues");
      const q = getQueue(queue);
      return { queue: q.name, inQueue: q.live.size - q.leased, running: q.leased };
    },

    async fetch(queue: string, fetchOptions: FetchOptions): Promise<JobLease[]> {
      assertQueueName(queue);
      // As a pending fetch when the engine closes: nothing more to hand out.
      if (closed) return [];
      const q = getQueue(queue);
      const { expiresMs, signal } = fetchOptions;
      const max = Math.floor(fetchOptions.max);
      if (!(max >= 1) || signal?.aborted) return [];
      // Waiters exist only while nothing is ready, so this never jumps the line.
      const now = take(q, max);
      if (now.length > 0 || !(expiresMs > 0)) return now;
      return new Promise<JobLease[]>((resolve) => {
        let settled = false;
        const done = (leases: JobLease[]) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          const i = q.waiters.indexOf(waiter);
          if (i >= 0) q.waiters.splice(i, 1);
          resolve(leases);
        };
        const onAbort = () => done([]);
        const waiter: FetchWaiter = { max, serve: done };
        // Not unref'd: a caller awaiting a fetch is real pending work, like a
        // request on a socket. close() clears it.
        const timer = setTimeout(() => done([]), expiresMs);
        signal?.addEventListener("abort", onAbort, { once: true });
        q.waiters.push(waiter);
      });
    },

    stats() {
      return { eventSubscriptions: 0, openWatches: watchers.size };
    },

    async close() {
      if (closed) return;
      closed = true;
      let unfinished = 0;
      for (const q of queues.values()) {
        unfinished += q.live.size;
        for (const waiter of q.waiters.splice(0)) waiter.serve([]);
        for (const job of q.live.values()) {
          if (job.delivery) {
            clearTimeout(job.delivery.timer);
            job.delivery.progressEvents.cancel();
          }
          if (job.backoffTimer) clearTimeout(job.backoffTimer);
        }
      }
      deadlines.clear();
      retention.clear();
      pacer.close();
      for (const watcher of [...watchers]) watcher.closed();
      readiness.set({ ready: false, reason: "engine closed" });
      // Nobody else will ever run them: say so, rather than lose them quietly.
      if (unfinished > 0) {
        logger?.warn(
          { unfinished },
          `memory engine closed with ${unfinished} unfinished job(s): they are lost (the embedded engine keeps jobs in this process only)`,
        );
      } else logger?.debug("memory engine closed");
    },
  };
  internals.set(engine, {
    readySet: (queue) => queues.get(queue)?.ready,
    timers: () => ({ deadlines: deadlines.size, retention: retention.size }),
  });
  return engine;
}
