/**
 * Deliveries of the embedded driver: handing waiting jobs to fetches (oldest
 * fetch first), the lease timer that redelivers a job whose worker went
 * quiet, and the DriverDelivery each fetch gets. A delivery is current while
 * its job points at it; every call of a stale one changes nothing.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { LogBounds } from "../log-bounds.js";
import { tooManyLostLeases, workerLostError } from "../lost-leases.js";
import type { DriverDelivery, RunAccount } from "../driver/types.js";
import { appendLogs, type Delivery, type JobRecord, type QueueState } from "./job-record.js";
import type { MemoryStore } from "./store.js";
import { notifyWatchers } from "./watch.js";

export interface Deliveries {
  /** Up to max deliveries from the head of the queue; expired jobs are dropped on the way. */
  take(q: QueueState, max: number): DriverDelivery[];
  /** Hands ready jobs to pending fetches, oldest fetch first. */
  serveWaiters(q: QueueState): void;
}

export function createDeliveries(store: MemoryStore, logBounds: LogBounds, logger?: Logger): Deliveries {
  const { state } = store;
  const current = (d: Delivery) => !state.closed && d.job.delivery === d;
  const runOf = (d: Delivery): RunAccount => ({
    attempt: d.attempt,
    interrupted: d.job.interrupted ?? 0,
    lost: d.job.lost ?? 0,
  });

  /** Back in line: the next fetch takes it (before newer jobs). */
  const requeue = (job: JobRecord) => {
    store.leavePhase(job);
    const wasRunning = job.state === "RUNNING";
    job.state = "QUEUED";
    store.makeReady(job);
    if (wasRunning) notifyWatchers(job, "status");
    serveWaiters(job.queue);
  };

  const onLeaseExpired = (d: Delivery) => {
    const job = d.job;
    if (!current(d)) return;
    // A lost lease is not the job's failure (see lost-leases.ts); one that
    // never began is no run at all, as a release before begin.
    if (d.begun) job.lost = (job.lost ?? 0) + 1;
    else job.deliveries--;
    if (d.begun && tooManyLostLeases(job.lost ?? 0, job.options, job.queue.config)) {
      store.finish(job, "FAILED", { error: workerLostError(job.lost ?? 0, job.options, job.queue.config) });
      return;
    }
    logger?.debug({ id: job.id, attempt: d.attempt, lost: job.lost }, "lease expired; redelivering");
    requeue(job);
  };

  const retry = (d: Delivery, error: { code: string; message: string }, delayMs: number) => {
    const job = d.job;
    store.leavePhase(job);
    job.state = "QUEUED";
    job.error = error;
    job.progress = 0;
    job.phase = "backoff";
    job.backoffTimer = setTimeout(() => {
      job.backoffTimer = undefined;
      if (job.phase !== "backoff") return;
      store.makeReady(job);
      serveWaiters(job.queue);
    }, delayMs);
    job.backoffTimer.unref();
    logger?.debug({ id: job.id, attempt: d.attempt, backoffMs: delayMs }, "job will be retried");
    notifyWatchers(job, "status");
  };

  const release = (d: Delivery) => {
    const job = d.job;
    // Handing a job back (shutdown) does not use up an attempt. One that
    // began keeps its number, so the rerun is attempt n+1 (as on JetStream).
    if (d.begun) job.interrupted = (job.interrupted ?? 0) + 1;
    else job.deliveries--;
    requeue(job);
  };

  const driverDelivery = (d: Delivery): DriverDelivery => {
    const job = d.job;
    return {
      ref: { id: job.id, queue: job.queue.name, seq: job.seq, token: job.id.slice(job.id.lastIndexOf("-") + 1) },
      // Each delivery gets its own copy: a handler mutating its input cannot
      // change what a retry sees.
      input: structuredClone(job.input),
      createdAt: job.createdAt,
      options: { ...job.options },
      config: job.queue.config,
      cancelled: d.cancel.signal,
      attempt: d.attempt,
      async inspect() {
        if (!current(d) || store.expireIfDue(job, Date.now())) return { over: true };
        return { over: false, run: runOf(d) };
      },
      async markRunning(run, startedAt) {
        if (!current(d)) return undefined;
        if (d.begun) return run;
        d.begun = true;
        d.timer.refresh();
        job.state = "RUNNING";
        job.attempt = d.attempt;
        job.startedAt = startedAt;
        job.progress = 0;
        notifyWatchers(job, "status");
        return run;
      },
      heartbeat() {
        if (current(d)) d.timer.refresh();
      },
      appendLog(entry) {
        if (!current(d)) return;
        appendLogs(job, [entry], logBounds);
        notifyWatchers(job, "log");
      },
      setProgress(progress) {
        if (current(d)) job.progress = progress;
      },
      announceProgress() {
        if (current(d)) notifyWatchers(job, "status");
      },
      async finish(to, fields) {
        if (!current(d)) return false;
        const output = fields.outputJson !== undefined ? (JSON.parse(fields.outputJson) as JsonValue) : undefined;
        store.finish(job, to, { ...fields, ...(output !== undefined ? { output } : {}) });
        return true;
      },
      async retry(error, delayMs) {
        if (!current(d)) return false;
        retry(d, error, delayMs);
        return true;
      },
      async release() {
        if (current(d)) release(d);
      },
    };
  };

  const deliver = (job: JobRecord): DriverDelivery => {
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
    };
    d.timer.unref();
    job.delivery = d;
    return driverDelivery(d);
  };

  const take = (q: QueueState, max: number): DriverDelivery[] => {
    const out: DriverDelivery[] = [];
    const now = Date.now();
    while (out.length < max) {
      const seq = q.ready.first();
      if (seq === undefined) break;
      const job = q.jobs.get(seq)!;
      if (store.expireIfDue(job, now)) continue;
      q.ready.delete(seq);
      store.linesMoved(q);
      out.push(deliver(job));
    }
    return out;
  };

  const serveWaiters = (q: QueueState) => {
    while (q.waiters.length > 0 && q.ready.size > 0) {
      const waiter = q.waiters[0]!;
      const taken = take(q, waiter.max);
      if (taken.length === 0) break;
      q.waiters.shift();
      waiter.serve(taken);
    }
  };

  return { take, serveWaiters };
}
