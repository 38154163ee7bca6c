/**
 * The DriverDelivery of the embedded driver: a handle on one delivery of a
 * job. It is current while its job points at it; every call of a stale one
 * changes nothing, so a late worker can never change a job.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { LogBounds } from "../log-bounds.js";
import type { JobError, JobOptions, LogEntry, QueueConfig, TraceContext } from "../types.js";
import type { DriverDelivery, Inspection, JobRef, RunAccount, TerminalFields, TerminalState } from "../driver/types.js";
import { appendLogs, type Delivery, type JobRecord } from "./job-record.js";
import type { MemoryStore } from "./store.js";
import { notifyWatchers } from "./watch.js";

/** What a delivery hands back to the queue that delivered it. */
export interface DeliveryHost {
  retry(d: Delivery, error: JobError, delayMs: number): void;
  release(d: Delivery): void;
}

export class MemoryDelivery implements DriverDelivery {
  readonly ref: JobRef;
  readonly tenant: string;
  readonly input: JsonValue;
  readonly createdAt: number;
  readonly options: JobOptions;
  readonly trace?: TraceContext;
  readonly config: QueueConfig;
  readonly cancelled: AbortSignal;
  readonly attempt: number;
  private readonly d: Delivery;
  private readonly job: JobRecord;

  constructor(
    d: Delivery,
    private readonly store: MemoryStore,
    private readonly host: DeliveryHost,
    private readonly logBounds: LogBounds,
  ) {
    const job = d.job;
    this.d = d;
    this.job = job;
    const token = job.id.slice(job.id.lastIndexOf("-") + 1);
    this.ref = { id: job.id, queue: job.queue.name, priority: job.priority, seq: job.seq, token };
    // Each delivery gets its own copy: a handler mutating its input cannot
    // change what a retry sees.
    this.input = structuredClone(job.input);
    this.tenant = job.tenant;
    this.createdAt = job.createdAt;
    this.options = { ...job.options };
    this.trace = job.trace;
    this.config = job.queue.config;
    this.cancelled = d.cancel.signal;
    this.attempt = d.attempt;
  }

  async inspect(): Promise<Inspection> {
    if (!this.current() || this.store.expireIfDue(this.job, Date.now())) return { over: true };
    const { job } = this;
    return { over: false, run: { attempt: this.d.attempt, interrupted: job.interrupted ?? 0, lost: job.lost ?? 0 } };
  }

  async markRunning(run: RunAccount, startedAt: number): Promise<RunAccount | undefined> {
    if (!this.current()) return undefined;
    if (this.d.begun) return run;
    const { d, job } = this;
    d.begun = true;
    d.timer.refresh();
    job.state = "RUNNING";
    job.attempt = d.attempt;
    job.startedAt = startedAt;
    job.progress = 0;
    notifyWatchers(job, "status");
    return run;
  }

  heartbeat(): void {
    if (this.current()) this.d.timer.refresh();
  }

  appendLog(entry: LogEntry): void {
    if (!this.current()) return;
    appendLogs(this.job, [entry], this.logBounds);
    notifyWatchers(this.job, "log");
  }

  setProgress(progress: number): void {
    if (this.current()) this.job.progress = progress;
  }

  announceProgress(): void {
    if (this.current()) notifyWatchers(this.job, "status");
  }

  async finish(state: TerminalState, fields: TerminalFields): Promise<boolean> {
    if (!this.current()) return false;
    // A copy from the JSON text, as the JetStream driver's readers get it.
    const output = fields.outputJson !== undefined ? (JSON.parse(fields.outputJson) as JsonValue) : undefined;
    this.store.finish(this.job, state, { ...fields, ...(output !== undefined ? { output } : {}) });
    return true;
  }

  async retry(error: JobError, delayMs: number): Promise<boolean> {
    if (!this.current()) return false;
    this.host.retry(this.d, error, delayMs);
    return true;
  }

  async release(): Promise<void> {
    if (this.current()) this.host.release(this.d);
  }

  private current(): boolean {
    return !this.store.closed && this.job.delivery === this.d;
  }
}
