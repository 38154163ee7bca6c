/**
 * DriverDelivery over one JetStream delivery: the durable steps of an
 * attempt the engine core decided on. Durable cost on the happy path: the
 * RUNNING record (conditional: it numbers the attempt, counts lost leases
 * and finds a finished job's copy, docs/ARCHITECTURE.md §6), the terminal
 * record (conditional, so a cancel or another delivery that settled first
 * wins) and the ack. Progress is a core event only.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import {
  isTerminal,
  type JobError,
  type JobOptions,
  type LogEntry,
  type QueueConfig,
  type TraceContext,
} from "../types.js";
import type {
  DriverDelivery,
  Inspection,
  JobRef,
  RunAccount as CoreRun,
  TerminalFields,
  TerminalState,
} from "../driver/types.js";
import { handedBack, terminalRecord, type KeptInput } from "./attempt-records.js";
import type { DeliveryContext, DeliverySpec } from "./delivery-context.js";
import type { Delivery } from "./delivery.js";
import { guard } from "./errors.js";
import { statusEventOf } from "./events.js";
import type { JobMeta } from "./job-message.js";
import { runAccount, type JobRecord, type RunAccount, type StoredRecord } from "./records.js";
import { appendAttempt, lostAttempt, retriedAttempt } from "../core/retry-job.js";
import { carried, fittingRerun, rerunOf } from "./relocation.js";

export type { DeliveryContext };

export class NatsJobDelivery implements DriverDelivery {
  readonly ref: JobRef;
  readonly tenant: string;
  readonly input: JsonValue;
  readonly createdAt: number;
  readonly options: JobOptions;
  readonly trace?: TraceContext;
  readonly config: QueueConfig;
  readonly cancelled: AbortSignal;
  private readonly ctx: DeliveryContext;
  private readonly meta: JobMeta;
  private readonly delivery: Delivery;
  private readonly relocated: boolean;
  private readonly controller = new AbortController();
  /** Adjusted by inspect() to what the job's record says (see runAccount). */
  private readonly run: RunAccount;
  private revision = 0;
  /** inspect() read the record: `revision` is what this delivery saw. */
  private revisionKnown = false;
  /** What inspect() read, for markRunning(). */
  private inspected: StoredRecord | undefined;
  /** Nobody outside this process knows the job yet: RUNNING is written beside the handler. */
  private alone = false;
  private settled = false;
  private startedAt: number | undefined;
  private progress = 0;
  private unregister: (() => void) | undefined;
  /** The RUNNING record's write, while it runs beside the handler (see markRunning). */
  private marking: Promise<unknown> | undefined;
  /** markRunning is settling the delivery itself: it must not wait for itself. */
  private markSettling = false;

  constructor(ctx: DeliveryContext, spec: DeliverySpec) {
    this.ctx = ctx;
    this.ref = spec.ref;
    this.input = spec.input;
    this.meta = spec.meta;
    this.tenant = spec.meta.tenant;
    this.createdAt = spec.meta.createdAt;
    this.options = spec.meta.options;
    this.trace = spec.meta.trace;
    this.config = spec.config;
    this.delivery = spec.delivery;
    this.relocated = spec.relocated === true;
    this.run = { ...spec.run };
    this.cancelled = this.controller.signal;
  }

  get attempt(): number {
    return this.run.attempt;
  }

  // ------------------------------------------------------------ begin

  inspect(): Promise<Inspection> {
    return this.guarded("begin", async () => {
      if (this.settled) return { over: true };
      const first = this.delivery.deliveryCount === 1 && !this.relocated;
      // A first delivery has no record unless a cancel wrote one, or the
      // server miscounted a redelivery, or this is a copy of the message
      // under another sequence: the conditional write of RUNNING finds
      // those, so the record is read first only where one is expected.
      // None of them can exist for a job whose id has not left this process
      // yet: its RUNNING record is written beside the handler.
      this.alone = first && this.ctx.undisclosed?.(this.ref.id) === true;
      if (first) this.ctx.disclosureChecked?.(this.ref.id);
      const stored = first ? undefined : await this.ctx.records.get(this.ref.id);
      if (stored && isTerminal(stored.record.state)) return { over: !(await this.yieldTo()) };
      // Read after any cancel of its earlier run (a cancel writes, then signals): that one is over.
      if (this.relocated) this.ctx.reopened?.(this.ref.id);
      this.revision = stored?.revision ?? 0;
      this.revisionKnown = true;
      this.inspected = stored;
      if (stored && !this.ours(stored.record)) Object.assign(this.run, runAccount(stored.record));
      return { over: false, run: this.coreRun() };
    });
  }

  markRunning(
    _run: CoreRun,
    startedAt: number,
    refuse: (run: CoreRun) => JobError | undefined,
  ): Promise<CoreRun | undefined> {
    return this.guarded("begin", async () => {
      if (this.settled) return undefined;
      this.startedAt ??= startedAt;
      if (this.alone) {
        // Settling waits for it; a failed write leaves the settle to find the record.
        this.marking = this.writeRunning(undefined, refuse).catch(() => undefined);
      } else if (!(await this.writeRunning(this.inspected, refuse))) {
        return undefined;
      }
      const id = this.ref.id;
      this.unregister = this.ctx.onCancel(id, () => {
        // The CANCELLED record is written before the signal is sent.
        this.controller.abort(new Error("job cancelled"));
        if (!this.settled) void this.yieldTo();
      });
      // A signal that came while we wrote: the cancel won, do not run.
      if (this.ctx.knownFinished(id)) {
        await this.yieldTo();
        return undefined;
      }
      const { attempt } = this.run;
      this.ctx.live.update(id, { attempt, startedAt: this.startedAt, progress: 0, running: true });
      this.ctx.touched(this.ref.queue);
      this.ctx.events.publish(id, {
        type: "status",
        state: "RUNNING",
        attempt,
        progress: 0,
        startedAt: this.startedAt,
      });
      return this.coreRun();
    });
  }

  /**
   * Writes the RUNNING record that says durably that this attempt began, so
   * the delivery after a crash counts a lost lease even when the server's
   * delivery count does not show it. A record already there (a first
   * delivery the server miscounted, or a copy of the message under another
   * sequence) is adopted, or ends this delivery when it is terminal.
   * Resolves whether the handler may run.
   */
  private async writeRunning(
    stored: StoredRecord | undefined,
    refuse: (run: CoreRun) => JobError | undefined,
  ): Promise<boolean> {
    for (let round = 0; round < 3; round++) {
      if (stored && this.ours(stored.record)) {
        this.revision = stored.revision;
        return true;
      }
      const running: JobRecord = { ...(stored?.record ?? {}), ...this.base(), state: "RUNNING", progress: 0 };
      delete running.finishedAt;
      delete running.undelivered;
      const left = stored?.record;
      // A RUNNING record of another delivery left behind: that attempt's lease was lost.
      if (left?.state === "RUNNING") {
        running.attempts = appendAttempt(
          left.attempts,
          lostAttempt(left.attempt, left.startedAt, this.config.ackWaitMs),
        );
      }
      const rev = await this.ctx.records.write(this.ref.id, running, stored?.revision ?? 0);
      if (rev !== undefined) {
        this.revision = rev;
        return true;
      }
      stored = await this.ctx.records.get(this.ref.id);
      if (stored && isTerminal(stored.record.state)) return this.yieldTo();
      if (stored && !this.ours(stored.record)) {
        Object.assign(this.run, runAccount(stored.record));
        this.revision = stored.revision;
        const refusal = refuse(this.coreRun());
        if (refusal) {
          this.markSettling = true;
          await this.settleTerminal("FAILED", { error: refusal, attempt: this.run.attempt - 1 });
          return false;
        }
      }
    }
    // The record kept changing: leave the message to its redelivery.
    this.end();
    return false;
  }

  // ------------------------------------------------------------ while it runs

  heartbeat(): void {
    if (!this.settled) this.delivery.working();
  }

  appendLog(entry: LogEntry): void {
    void this.ctx.logs.append(this.ref.id, entry);
    this.ctx.events.publish(this.ref.id, { type: "log", entry });
  }

  setProgress(progress: number): void {
    this.progress = progress;
    this.ctx.live.update(this.ref.id, { progress });
  }

  announceProgress(progress: number): void {
    if (!this.settled) this.ctx.events.publish(this.ref.id, { type: "progress", progress });
  }

  // ------------------------------------------------------------ outcomes

  finish(state: TerminalState, fields: TerminalFields): Promise<boolean> {
    return this.guarded(state === "COMPLETED" ? "complete" : "fail", () => this.settleTerminal(state, fields));
  }

  retry(error: JobError, delayMs: number): Promise<boolean> {
    return this.guarded("fail", async () => {
      await this.marking;
      if (this.settled) return false;
      await this.ctx.logs.flushed(this.ref.id);
      const base = this.base();
      const ended = retriedAttempt(this.run.attempt, this.startedAt, error);
      const record: JobRecord = {
        ...base,
        state: "QUEUED",
        progress: 0,
        error,
        attempts: appendAttempt(base.attempts, ended),
      };
      const rev = await this.ctx.records.write(this.ref.id, record, this.revision);
      if (rev === undefined) return this.lost();
      this.revision = rev;
      await this.delivery.nak(delayMs);
      this.ctx.live.update(this.ref.id, { running: false, attempt: this.run.attempt });
      this.end();
      this.publishStatus(record);
      return true;
    });
  }

  release(): Promise<void> {
    return this.guarded("release", async () => {
      await this.marking;
      if (this.settled) return;
      // Hand-backs are not attempts: count them durably so the next
      // delivery's attempt number stays right in any process.
      const stored = await this.ctx.records.get(this.ref.id);
      if (stored && isTerminal(stored.record.state)) {
        await this.yieldTo();
        return;
      }
      // Begun, we know the revision we last saw: any other means a newer
      // delivery wrote (a retry, its RUNNING), and this one is stale.
      if (this.revisionKnown && (stored?.revision ?? 0) !== this.revision) {
        await this.lost();
        return;
      }
      const record = handedBack(stored?.record ?? { ...this.base(), state: "QUEUED" }, this.run, this.revisionKnown);
      const rev = await this.ctx.records.write(this.ref.id, record, stored?.revision ?? 0);
      if (rev === undefined) {
        await this.lost();
        return;
      }
      await this.delivery.nak(0);
      this.ctx.live.update(this.ref.id, { running: false });
      this.end();
      this.publishStatus(record);
    });
  }

  /** Writes a terminal record conditionally, then acks and announces it. */
  private async settleTerminal(state: TerminalState, fields: TerminalFields): Promise<boolean> {
    if (!this.markSettling) await this.marking;
    if (this.settled) return false;
    const id = this.ref.id;
    await this.ctx.logs.flushed(id);
    const finishedAt = Date.now();
    const base: Omit<JobRecord, "state"> = { ...this.base(), finishedAt };
    // A job that may be retried keeps what its Retry publishes (relocation.ts); a COMPLETED
    // one its input alone: a big one's object store name, else the message's bytes in hand.
    if (state !== "COMPLETED") base.rerun = await this.rerun();
    const { meta, delivery } = this;
    const input: KeptInput | undefined =
      state !== "COMPLETED" ? undefined : meta.inputRef ? { ref: meta.inputRef } : { json: delivery.data };
    const { record, encoded } = await terminalRecord(this.ctx, id, { ...base, state }, fields, input);
    // Indexed first: an entry whose record lost (or never came) is skipped when read, none is missing.
    await this.ctx.index?.add({ id, queue: this.ref.queue, state, tenant: this.tenant, finishedAt });
    let rev = await this.ctx.records.write(id, record, this.revision, encoded);
    if (rev === undefined) {
      // Our own RUNNING record under a revision whose answer was lost, or a
      // record gone past the retention under a long run: write over it.
      const now = await this.ctx.records.get(id);
      if (!now || this.ours(now.record)) rev = await this.ctx.records.write(id, record, now?.revision ?? 0, encoded);
      if (rev === undefined) return this.lost();
    }
    this.revision = rev;
    if (this.meta.msgId && this.ctx.idempotency) {
      // The key must outlive the job's run: keep it as long as this record.
      await this.ctx.idempotency.refresh(this.meta.tenant, this.meta.msgId, id).catch((err: unknown) => {
        this.ctx.logger?.warn({ err, id }, "jetq nats engine: could not refresh the job's idempotency key");
      });
    }
    await this.delivery.ack();
    this.ctx.live.forget(id);
    this.end();
    this.publishStatus(record, fields.outputJson);
    return true;
  }

  // ------------------------------------------------------------ helpers

  private rerun() {
    const { ctx, ref, meta } = this;
    const room = Math.max(1024, ctx.maxRecordBytes - 64 * 1024);
    return fittingRerun(ctx.blobs, ref.queue, ref.token, rerunOf(meta, this.delivery.data), room);
  }

  private coreRun(): CoreRun {
    return { attempt: this.run.attempt, interrupted: this.run.interrupted, lost: this.run.lost };
  }

  private base(): Omit<JobRecord, "state"> {
    const { run, meta } = this;
    return {
      queue: this.ref.queue,
      tenant: meta.tenant,
      createdAt: meta.createdAt,
      attempt: run.attempt,
      progress: this.progress,
      ...(this.startedAt !== undefined ? { startedAt: this.startedAt } : {}),
      ...(run.released ? { released: run.released } : {}),
      ...(run.interrupted ? { interrupted: run.interrupted } : {}),
      ...(run.lost ? { lost: run.lost } : {}),
      ...carried(this.inspected?.record),
    };
  }

  /** A record this delivery wrote (a write whose answer was lost looks like someone else's). */
  private ours(r: JobRecord): boolean {
    return r.state === "RUNNING" && r.attempt === this.run.attempt && r.startedAt === this.startedAt;
  }

  private end(): void {
    this.settled = true;
    this.unregister?.();
    this.unregister = undefined;
    this.ctx.touched(this.ref.queue);
  }

  /** Settles the delivery without an outcome of ours: someone else's won. */
  private async yieldTo(): Promise<false> {
    await this.delivery.ack();
    this.ctx.live.forget(this.ref.id);
    this.end();
    return false;
  }

  /**
   * A conditional write of ours lost. If the winner ended the job, ack our
   * delivery (the message must leave the queue). If not, a newer delivery
   * owns the job (a retry is pending or it runs): leave the message alone,
   * since JetStream acks and naks by stream sequence and ours would settle
   * the newer delivery's message.
   */
  private async lost(): Promise<false> {
    const now = await this.ctx.records.get(this.ref.id);
    if (!now || isTerminal(now.record.state)) return this.yieldTo();
    this.end();
    return false;
  }

  private publishStatus(r: JobRecord, outputJson?: string): void {
    this.ctx.events.publish(this.ref.id, statusEventOf(r, outputJson), outputJson);
  }

  /** Whatever the backend says, the core sees EngineErrors (UNAVAILABLE while NATS is away). */
  private guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const label = `${what} of job "${this.ref.id}"`;
    return guard(label, () => {
      this.ctx.link?.assertConnected(label);
      return fn();
    });
  }
}
