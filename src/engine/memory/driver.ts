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
import { createReadinessState } from "../readiness.js";
import type { SettingNamer } from "../settings.js";
import { cancelledError } from "../core/outcomes.js";
import type { CancelOutcome, JobResult, JobStatus, QueueCounts } from "../types.js";
import type { Driver, DriverDelivery, Inserted, NewJob } from "../driver/types.js";
import { createDeliveries } from "./deliveries.js";
import { createQueueState, snapshot, type FetchWaiter, type JobRecord } from "./job-record.js";
import { createMemoryStore, type MemoryStore } from "./store.js";
import { watchJob } from "./watch.js";

export interface MemoryDriverOptions {
  retentionMs: number;
  logBounds: LogBounds;
  settingName: SettingNamer;
  logger?: Logger;
  positionUpdates?: PositionPacerOptions;
}

export function createMemoryDriver(options: MemoryDriverOptions): { driver: Driver; store: MemoryStore } {
  const { logger } = options;
  const store = createMemoryStore(options);
  const { state, queues, idempotency } = store;
  const deliveries = createDeliveries(store, options.logBounds, logger);
  // Nothing to lose touch with: ready while open.
  const readiness = createReadinessState();

  const insert = (job: NewJob): Inserted => {
    const q = store.getQueue(job.queue);
    const key = job.idempotencyKey;
    if (key !== undefined) {
      const existing = idempotency.get(store.idempotencySlot(job.tenant, q.name, key));
      if (existing && existing.queue.jobs.get(existing.seq) === existing) {
        store.expireIfDue(existing, Date.now());
        return { status: snapshot(existing), fresh: false };
      }
    }
    const seq = q.nextSeq++;
    const record: JobRecord = {
      id: formatJobId({ queue: q.name, seq, token: newToken() }),
      seq,
      queue: q,
      tenant: job.tenant,
      idempotencyKey: key,
      // Parsed from the JSON text, as the JetStream driver's workers read
      // it: both drivers hand out exactly the same value.
      input: JSON.parse(job.inputJson) as JsonValue,
      options: job.options,
      createdAt: Date.now(),
      state: "QUEUED",
      phase: "ready",
      attempt: 0,
      deliveries: 0,
      progress: 0,
    };
    q.jobs.set(seq, record);
    q.live.set(seq, record);
    q.ready.add(seq);
    store.linesMoved(q);
    if (key !== undefined) idempotency.set(store.idempotencySlot(job.tenant, q.name, key), record);
    if (job.options.startDeadline !== undefined) store.deadlines.add(job.options.startDeadline, record.id);
    const status = snapshot(record);
    deliveries.serveWaiters(q);
    return { status, fresh: true };
  };

  const cancel = (job: JobRecord): CancelOutcome => {
    const id = job.id;
    if (job.phase === "done") {
      return {
        removed: false,
        message: `job "${id}" already finished in state ${job.state}; nothing to cancel`,
        job: snapshot(job),
      };
    }
    const wasRunning = job.state === "RUNNING";
    const delivery = job.delivery;
    store.finish(job, "CANCELLED", { error: cancelledError() });
    // After the job is final, so a handler reacting to the signal finds its lease stale.
    delivery?.cancel.abort(new Error("job cancelled by a client"));
    return {
      removed: true,
      message: wasRunning
        ? `job "${id}" was cancelled; its worker was signalled to stop`
        : `job "${id}" was removed from the queue`,
      job: snapshot(job),
    };
  };

  const result = (job: JobRecord): JobResult => {
    if (job.phase !== "done") {
      throw failedPrecondition(
        `job "${job.id}" is ${job.state}; its result exists once it finishes (watch it with StreamStatus)`,
      );
    }
    const out: JobResult = { id: job.id, state: job.state };
    if (job.state === "COMPLETED") out.output = structuredClone(job.output ?? null);
    if (job.error) out.error = { ...job.error };
    return out;
  };

  const waitForJobs = (queue: string, max: number, expiresMs: number, signal?: AbortSignal) =>
    new Promise<DriverDelivery[]>((resolve) => {
      const q = store.getQueue(queue);
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

  const driver: Driver = {
    kind: "memory",
    readiness: readiness.get,
    onReadinessChange: readiness.subscribe,
    async declareQueue(queue, config) {
      // As the JetStream driver: the declared config replaces the queue's; jobs already waiting stay.
      const existing = queues.get(queue);
      if (existing) existing.config = config;
      else queues.set(queue, createQueueState(queue, config));
    },
    insert: async (job) => insert(job),
    read: async (ref, read) => snapshot(store.lookup(ref, read), read.includeLogs ?? false),
    readResult: async (ref, read) => result(store.lookup(ref, read)),
    cancel: async (ref, read) => cancel(store.lookup(ref, read)),
    async count(queue): Promise<QueueCounts> {
      const q = store.getQueue(queue);
      return { queue: q.name, inQueue: q.live.size - q.leased, running: q.leased };
    },
    watch(ref, watchOptions): AsyncIterable<JobStatus> {
      return watchJob(
        {
          lookup: () => store.lookup(ref, watchOptions),
          open: store.watchers,
          pacer: store.pacer,
          isClosed: () => state.closed,
        },
        watchOptions,
      );
    },
    async fetch(queue, max, expiresMs, signal) {
      if (state.closed) return [];
      // Waiters exist only while nothing is ready, so this never jumps the line.
      const now = deliveries.take(store.getQueue(queue), max);
      if (now.length > 0 || !(expiresMs > 0)) return now;
      return waitForJobs(queue, max, expiresMs, signal);
    },
    stats: () => ({ eventSubscriptions: 0, openWatches: store.watchers.size }),
    async close() {
      if (state.closed) return;
      state.closed = true;
      closeAll(store);
      readiness.set({ ready: false, reason: "engine closed" });
    },
  };

  /** Stops every timer and wakes every waiter; reports the jobs lost with the process. */
  const closeAll = (s: MemoryStore) => {
    let unfinished = 0;
    for (const q of s.queues.values()) {
      unfinished += q.live.size;
      for (const waiter of q.waiters.splice(0)) waiter.serve([]);
      for (const job of q.live.values()) {
        if (job.delivery) clearTimeout(job.delivery.timer);
        if (job.backoffTimer) clearTimeout(job.backoffTimer);
      }
    }
    s.deadlines.clear();
    s.retention.clear();
    s.pacer.close();
    for (const watcher of [...s.watchers]) watcher.closed();
    // Nobody else will ever run them: say so, rather than lose them quietly.
    if (unfinished > 0) {
      logger?.warn(
        { unfinished },
        `memory engine closed with ${unfinished} unfinished job(s): they are lost (the embedded engine keeps jobs in this process only)`,
      );
    } else logger?.debug("memory engine closed");
  };

  return { driver, store };
}
