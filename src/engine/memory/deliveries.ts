/**
 * Deliveries of the embedded driver: handing waiting jobs to fetches (oldest
 * fetch first), the lease timer that redelivers a job whose worker went
 * quiet, and what a retry or a hand-back does to the job's place in line.
 */
import type { Logger } from "pino";
import type { LogBounds } from "../log-bounds.js";
import { tooManyLostLeases, workerLostError } from "../lost-leases.js";
import type { JobError } from "../types.js";
import type { DriverDelivery } from "../driver/types.js";
import { MemoryDelivery, type DeliveryHost } from "./delivery.js";
import type { Delivery, JobRecord, QueueState } from "./job-record.js";
import type { MemoryStore } from "./store.js";
import { notifyWatchers } from "./watch.js";
import { appendAttempt, lostAttempt, retriedAttempt } from "../core/retry-job.js";

export class MemoryDeliveries implements DeliveryHost {
  constructor(
    private readonly store: MemoryStore,
    private readonly logBounds: LogBounds,
    private readonly logger?: Logger,
  ) {}

  /** Up to max deliveries from the head of the queue; expired jobs are dropped on the way. */
  take(q: QueueState, max: number): DriverDelivery[] {
    const out: DriverDelivery[] = [];
    const now = Date.now();
    while (out.length < max) {
      const line = q.ready.first();
      if (line === undefined) break;
      const job = q.live.get(line)!;
      if (this.store.expireIfDue(job, now)) continue;
      q.ready.delete(line, job.priority);
      this.store.linesMoved(q);
      out.push(this.deliver(job));
    }
    return out;
  }

  /** Hands ready jobs to pending fetches, oldest fetch first. */
  serveWaiters(q: QueueState): void {
    while (q.waiters.length > 0 && q.ready.size > 0) {
      const waiter = q.waiters[0]!;
      const taken = this.take(q, waiter.max);
      if (taken.length === 0) break;
      q.waiters.shift();
      waiter.serve(taken);
    }
  }

  retry(d: Delivery, error: JobError, delayMs: number): void {
    const job = d.job;
    this.store.leavePhase(job);
    job.history = appendAttempt(job.history, retriedAttempt(d.attempt, job.startedAt, error));
    job.state = "QUEUED";
    job.error = error;
    job.progress = 0;
    job.phase = "backoff";
    job.backoffTimer = setTimeout(() => {
      job.backoffTimer = undefined;
      if (job.phase !== "backoff") return;
      this.store.makeReady(job);
      this.serveWaiters(job.queue);
    }, delayMs);
    job.backoffTimer.unref();
    this.logger?.debug({ id: job.id, attempt: d.attempt, backoffMs: delayMs }, "job will be retried");
    notifyWatchers(job, "status");
  }

  release(d: Delivery): void {
    const job = d.job;
    // Handing a job back (shutdown) does not use up an attempt. One that
    // began keeps its number, so the rerun is attempt n+1 (as on JetStream).
    if (d.begun) job.interrupted = (job.interrupted ?? 0) + 1;
    else job.deliveries--;
    this.requeue(job);
  }

  private deliver(job: JobRecord): DriverDelivery {
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
      timer: setTimeout(() => this.leaseExpired(d), ackWaitMs),
      begun: false,
    };
    d.timer.unref();
    job.delivery = d;
    return new MemoryDelivery(d, this.store, this, this.logBounds);
  }

  private leaseExpired(d: Delivery): void {
    const job = d.job;
    if (this.store.closed || job.delivery !== d) return;
    // A lost lease is not the job's failure (see lost-leases.ts); one that
    // never began is no run at all, as a release before begin.
    if (d.begun) job.lost = (job.lost ?? 0) + 1;
    else job.deliveries--;
    if (d.begun && tooManyLostLeases(job.lost ?? 0, job.options, job.queue.config)) {
      this.store.finish(job, "FAILED", { error: workerLostError(job.lost ?? 0, job.options, job.queue.config) });
      this.store.told(job);
      return;
    }
    if (d.begun) job.history = appendAttempt(job.history, lostAttempt(d.attempt, job.startedAt, d.ackWaitMs));
    this.logger?.debug({ id: job.id, attempt: d.attempt, lost: job.lost }, "lease expired; redelivering");
    this.requeue(job);
  }

  /** Back in line: the next fetch takes it (before newer jobs). */
  private requeue(job: JobRecord): void {
    this.store.leavePhase(job);
    const wasRunning = job.state === "RUNNING";
    job.state = "QUEUED";
    this.store.makeReady(job);
    if (wasRunning) notifyWatchers(job, "status");
    this.serveWaiters(job.queue);
  }
}
