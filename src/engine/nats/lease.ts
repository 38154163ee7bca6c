/**
 * JobLease over one JetStream delivery. Durable cost on the happy path: the
 * RUNNING record at begin (conditional: it numbers the attempt, counts lost
 * leases and finds a finished job's copy, docs/ARCHITECTURE.md §6), the
 * terminal record (conditional, so a cancel or another delivery that settled
 * first wins) and the ack. Progress is a core event only.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  isTerminal,
  type FailOptions,
  type JobError,
  type JobLease,
  type JobState,
  type LogEntry,
  type LogLevel,
  type QueueConfig,
} from "../types.js";
import { outputTooLarge } from "../errors.js";
import { createLogMeter, DEFAULT_LOG_BOUNDS, type LogBounds } from "../log-bounds.js";
import { settingNamer, type SettingNamer } from "../settings.js";
import { DEFAULT_PROGRESS_INTERVAL_MS, pacedProgress } from "../progress-pacing.js";
import { refusalOf } from "../lost-leases.js";
import { afterFailure } from "../core/retry-policy.js";
import { deadlinePassed, expiredError } from "../core/outcomes.js";
import { MAX_BLOB_BYTES, type BlobStore } from "./blobs.js";
import type { Link } from "./connection.js";
import type { Delivery } from "./delivery.js";
import { guard } from "./errors.js";
import { statusEventOf, type EventHub } from "./events.js";
import type { IdempotencyStore } from "./idempotency.js";
import type { JobMeta } from "./job-message.js";
import type { LiveJobs } from "./live.js";
import type { LogStore } from "./logs.js";
import { runAccount, type JobRecord, type RecordStore, type RunAccount, type StoredRecord } from "./records.js";

export interface LeaseContext {
  records: RecordStore;
  events: EventHub;
  live: LiveJobs;
  logs: LogStore;
  /** Largest record that fits in a KV value on this server. */
  maxRecordBytes: number;
  /** Where outputs too big for a record go. */
  blobs: BlobStore;
  /** Keys of idempotent submits, refreshed when their job finishes. */
  idempotency?: IdempotencyStore;
  /** Largest output accepted at all (the engine's maxPayloadBytes); default MAX_BLOB_BYTES. */
  maxOutputBytes?: number;
  /** Called when this process changed what a queue snapshot would show. */
  touched(queue: string): void;
  /** Registers a live lease for cancel signals; returns the unregister. */
  onCancel(id: string, fn: () => void): () => void;
  /**
   * Whether this process learnt that the job is finished (a cancel signal
   * received or sent, a terminal event): see begin().
   */
  knownFinished(id: string): boolean;
  /**
   * Whether nobody outside this process can know the job's id yet (its
   * Submit, here, has not returned): then nobody can have cancelled it.
   */
  undisclosed?(id: string): boolean;
  /** A first delivery's begin() has asked undisclosed(): its Submit may answer now. */
  disclosureChecked?(id: string): void;
  /** Fails calls at once while the connection is down (see connection.ts). */
  link?: Link;
  logger?: Logger;
  /** What a handler may log per attempt; default DEFAULT_LOG_BOUNDS. */
  logBounds?: LogBounds;
  /** How messages name the engine's settings; default the options' own names. */
  settingName?: SettingNamer;
  /** Least time between two progress events of one attempt; default 100. */
  progressIntervalMs?: number;
}

export interface LeaseSpec {
  id: string;
  queue: string;
  input: JsonValue;
  meta: JobMeta;
  attempt: number;
  /** Releases before begin so far (they do not count as attempts). */
  released: number;
  /** Attempts handed back after they began: numbered, not counted against maxAttempts. */
  interrupted?: number;
  /** Leases lost before this delivery: numbered, not counted against maxAttempts. */
  lost?: number;
  config: QueueConfig;
  delivery: Delivery;
}

export function createLease(ctx: LeaseContext, spec: LeaseSpec): JobLease {
  const { id, queue, meta, config, delivery } = spec;
  /** Adjusted by begin() to what the job's record says (see runAccount). */
  const run: RunAccount = {
    attempt: spec.attempt,
    released: spec.released,
    interrupted: spec.interrupted ?? 0,
    lost: spec.lost ?? 0,
  };
  const controller = new AbortController();
  let revision = 0;
  /** begin() read the record: `revision` is what this delivery saw. */
  let revisionKnown = false;
  let settled = false;
  let startedAt: number | undefined;
  let progress = 0;
  let unregister: (() => void) | undefined;
  /** The RUNNING record's write, while it runs beside the handler (see begin). */
  let marking: Promise<unknown> | undefined;
  /** markRunning is settling the lease itself: it must not wait for itself. */
  let markSettling = false;
  const logMeter = createLogMeter(ctx.logBounds ?? DEFAULT_LOG_BOUNDS, ctx.settingName ?? settingNamer());
  const progressEvents = pacedProgress(ctx.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS, (value) => {
    if (!settled) ctx.events.publish(id, { type: "progress", progress: value });
  });
  const appendLog = (entry: LogEntry) => {
    void ctx.logs.append(id, entry);
    ctx.events.publish(id, { type: "log", entry });
  };
  /** The attempt is ending: no more progress events, and the dropped-lines notice goes out before the flush. */
  const closeLog = () => {
    progressEvents.cancel();
    const notice = logMeter.finish(Date.now());
    if (notice) appendLog(notice);
  };

  const base = (): Omit<JobRecord, "state"> => ({
    queue,
    tenant: meta.tenant,
    createdAt: meta.createdAt,
    attempt: run.attempt,
    progress,
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(run.released ? { released: run.released } : {}),
    ...(run.interrupted ? { interrupted: run.interrupted } : {}),
    ...(run.lost ? { lost: run.lost } : {}),
  });

  const finish = () => {
    settled = true;
    progressEvents.cancel();
    unregister?.();
    unregister = undefined;
    ctx.touched(queue);
  };

  /** Settles the delivery without an outcome of ours: someone else's won. */
  const yieldTo = async () => {
    await delivery.ack();
    ctx.live.forget(id);
    finish();
    return false;
  };

  /**
   * A conditional write of ours lost. If the winner ended the job, ack our
   * delivery (the message must leave the queue). If not, a newer delivery
   * owns the job (a retry is pending or it runs): leave the message alone,
   * since JetStream acks and naks by stream sequence and ours would settle
   * the newer delivery's message.
   */
  const lost = async () => {
    const now = await ctx.records.get(id);
    if (!now || isTerminal(now.record.state)) return yieldTo();
    finish();
    return false;
  };

  /** A record this delivery wrote (a write whose answer was lost looks like someone else's). */
  const ours = (r: JobRecord) => r.state === "RUNNING" && r.attempt === run.attempt && r.startedAt === startedAt;

  /** Ends the job FAILED without running this delivery (see refusalOf). */
  const refuse = async (error: JobError) => {
    markSettling = true;
    await settleTerminal(terminal("FAILED", { error, attempt: run.attempt - 1 }));
    return false;
  };

  /**
   * Writes the RUNNING record that says durably that this attempt began, so
   * the delivery after a crash counts a lost lease even when the server's
   * delivery count does not show it. A record already there (a first
   * delivery the server miscounted, or a copy of the message under another
   * sequence) is adopted, or ends this delivery when it is terminal.
   * Resolves whether the handler may run.
   */
  const markRunning = async (stored: StoredRecord | undefined): Promise<boolean> => {
    for (let round = 0; round < 3; round++) {
      if (stored && ours(stored.record)) {
        revision = stored.revision;
        return true;
      }
      const running: JobRecord = { ...(stored?.record ?? {}), ...base(), state: "RUNNING", progress: 0 };
      delete running.finishedAt;
      const rev = await ctx.records.write(id, running, stored?.revision ?? 0);
      if (rev !== undefined) {
        revision = rev;
        return true;
      }
      stored = await ctx.records.get(id);
      if (stored && isTerminal(stored.record.state)) return yieldTo();
      if (stored && !ours(stored.record)) {
        Object.assign(run, runAccount(stored.record));
        revision = stored.revision;
        const refusal = refusalOf(run, meta.options, config);
        if (refusal) return refuse(refusal);
      }
    }
    // The record kept changing: leave the message to its redelivery.
    finish();
    return false;
  };

  const publishStatus = (r: JobRecord) => ctx.events.publish(id, statusEventOf(r));

  /** Writes a terminal record conditionally, then acks and announces it. */
  const settleTerminal = async (record: JobRecord): Promise<boolean> => {
    if (!markSettling) await marking;
    if (settled) return false;
    closeLog();
    await ctx.logs.flushed(id);
    const maxOutput = ctx.maxOutputBytes ?? MAX_BLOB_BYTES;
    let encoded = ctx.records.encode(record);
    // The output is part of the record: a record under both limits has an output under them too.
    if (record.output !== undefined && encoded.length > Math.min(maxOutput, ctx.maxRecordBytes)) {
      const data = new TextEncoder().encode(JSON.stringify(record.output));
      if (data.length > maxOutput) {
        // Not retried: the same handler would return the same output.
        record = {
          ...base(),
          state: "FAILED",
          finishedAt: record.finishedAt ?? Date.now(),
          error: outputTooLarge(data.length, maxOutput, (ctx.settingName ?? settingNamer())("maxPayloadBytes")),
        };
      } else if (encoded.length > ctx.maxRecordBytes) {
        const name = `out-${id}`;
        await ctx.blobs.put(name, data);
        const { output: _big, ...rest } = record;
        record = { ...rest, outputRef: name };
      }
      encoded = ctx.records.encode(record);
    }
    let rev = await ctx.records.write(id, record, revision, encoded);
    if (rev === undefined) {
      // Our own RUNNING record under a revision whose answer was lost, or a
      // record gone past the retention under a long run: write over it.
      const now = await ctx.records.get(id);
      if (!now || ours(now.record)) rev = await ctx.records.write(id, record, now?.revision ?? 0, encoded);
      if (rev === undefined) return lost();
    }
    revision = rev;
    if (meta.msgId && ctx.idempotency) {
      // The key must outlive the job's run: keep it as long as this record.
      await ctx.idempotency.refresh(meta.tenant, meta.msgId, id).catch((err: unknown) => {
        ctx.logger?.warn({ err, id }, "jetq nats engine: could not refresh the job's idempotency key");
      });
    }
    await delivery.ack();
    ctx.live.forget(id);
    finish();
    publishStatus(record);
    return true;
  };

  const terminal = (state: JobState, extra: Partial<JobRecord>): JobRecord => ({
    ...base(),
    state,
    finishedAt: Date.now(),
    ...extra,
  });

  const lease: JobLease = {
    id,
    queue,
    input: spec.input,
    get attempt() {
      return run.attempt;
    },
    createdAt: meta.createdAt,
    options: meta.options,
    ackWaitMs: config.ackWaitMs,
    cancelled: controller.signal,

    async begin() {
      if (settled) return false;
      const first = delivery.deliveryCount === 1;
      // A first delivery has no record unless a cancel wrote one, or the
      // server miscounted a redelivery, or this is a copy of the message
      // under another sequence: the conditional write of RUNNING
      // (markRunning) finds those, so the record is read first only where
      // one is expected. None of them can exist for a job whose id has not
      // left this process yet: its RUNNING record is written beside the
      // handler.
      const alone = first && ctx.undisclosed?.(id) === true;
      if (first) ctx.disclosureChecked?.(id);
      const stored = first ? undefined : await ctx.records.get(id);
      if (stored && isTerminal(stored.record.state)) return yieldTo();
      revision = stored?.revision ?? 0;
      revisionKnown = true;
      if (stored && !ours(stored.record)) {
        Object.assign(run, runAccount(stored.record));
        const refusal = refusalOf(run, meta.options, config);
        if (refusal) return refuse(refusal);
      }
      const deadline = meta.options.startDeadline;
      if (deadline !== undefined && deadlinePassed(deadline, Date.now())) {
        await settleTerminal(terminal("EXPIRED", { error: expiredError(deadline) }));
        return false;
      }
      startedAt ??= Date.now();
      if (alone) {
        // Settling waits for it; a failed write leaves the settle to find the record.
        marking = markRunning(undefined).catch(() => undefined);
      } else if (!(await markRunning(stored))) {
        return false;
      }
      unregister = ctx.onCancel(id, () => {
        // The CANCELLED record is written before the signal is sent.
        controller.abort(new Error("job cancelled"));
        if (!settled) void yieldTo();
      });
      // A signal that came while we wrote: the cancel won, do not run.
      if (ctx.knownFinished(id)) return yieldTo();
      const attempt = run.attempt;
      ctx.live.update(id, { attempt, startedAt, progress: 0, running: true });
      ctx.touched(queue);
      ctx.events.publish(id, { type: "status", state: "RUNNING", attempt, progress: 0, startedAt });
      return true;
    },

    async heartbeat() {
      if (!settled) delivery.working();
    },

    log(level: LogLevel, message: string) {
      for (const entry of logMeter.admit(level, message, Date.now())) appendLog(entry);
    },

    progress(fraction: number) {
      if (settled) return;
      progress = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
      ctx.live.update(id, { progress });
      progressEvents.set(progress);
    },

    complete(output: JsonValue) {
      return settleTerminal(terminal("COMPLETED", { output, progress: 1 }));
    },

    async fail(error: JobError, options: FailOptions = {}) {
      if (settled) return false;
      await marking;
      if (settled) return false;
      const next = afterFailure(run, options.retryable !== false, meta.options, config);
      if (!next.retry) return settleTerminal(terminal("FAILED", { error }));
      closeLog();
      await ctx.logs.flushed(id);
      const retry: JobRecord = { ...base(), state: "QUEUED", progress: 0, error };
      delete retry.startedAt;
      if (startedAt !== undefined) retry.startedAt = startedAt;
      const rev = await ctx.records.write(id, retry, revision);
      if (rev === undefined) return lost();
      revision = rev;
      await delivery.nak(next.delayMs);
      ctx.live.update(id, { running: false, attempt: run.attempt });
      finish();
      publishStatus(retry);
      return true;
    },

    async release() {
      await marking;
      if (settled) return;
      closeLog();
      // Hand-backs are not attempts: count them durably so the next
      // delivery's attempt number stays right in any process.
      const stored = await ctx.records.get(id);
      if (stored && isTerminal(stored.record.state)) {
        await yieldTo();
        return;
      }
      // Begun, we know the revision we last saw: any other means a newer
      // delivery wrote (a retry, its RUNNING), and this lease is stale.
      if (revisionKnown && (stored?.revision ?? 0) !== revision) {
        await lost();
        return;
      }
      // One that began keeps its number, so the rerun is attempt n+1.
      const record: JobRecord = revisionKnown
        ? {
            ...(stored?.record ?? base()),
            state: "QUEUED",
            attempt: run.attempt,
            interrupted: run.interrupted + 1,
            ...(run.lost ? { lost: run.lost } : {}),
          }
        : {
            ...(stored?.record ?? base()),
            state: "QUEUED",
            attempt: run.attempt - 1,
            released: run.released + 1,
            ...(run.lost ? { lost: run.lost } : {}),
          };
      delete record.finishedAt;
      const rev = await ctx.records.write(id, record, stored?.revision ?? 0);
      if (rev === undefined) {
        await lost();
        return;
      }
      await delivery.nak(0);
      ctx.live.update(id, { running: false });
      finish();
      publishStatus(record);
    },
  };
  // Whatever the backend says, callers of a lease see EngineErrors (UNAVAILABLE while NATS is away).
  const wrap =
    <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
    (...args: A) =>
      guard(`${what} of job "${id}"`, () => {
        ctx.link?.assertConnected(`${what} of job "${id}"`);
        return fn(...args);
      });
  lease.begin = wrap("begin", lease.begin);
  lease.complete = wrap("complete", lease.complete);
  lease.fail = wrap("fail", lease.fail);
  lease.release = wrap("release", lease.release);
  return lease;
}
