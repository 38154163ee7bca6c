/**
 * Delayed jobs on JetStream, durable on nats-server 2.9 (docs/ARCHITECTURE.md
 * §5-6). Submit publishes the job's message to JETQ_DELAYED
 * (`jetq.delayed.<queue>`, headers Jetq-Id and Jetq-Due) and writes its
 * record (QUEUED, scheduledAt, delayedSeq): the extra write only delayed
 * jobs pay. Every engine process learns of every delayed job from an
 * ordered consumer on that stream (headers only) and keeps a timer for it;
 * when it fires, the job moves: its message is published to the queue's
 * stream (Nats-Msg-Id `jetq-due-<token>`, so processes racing publish it
 * once), the record is written conditionally with where it now is
 * (relocation.ts), and the delayed message is deleted. A move that fails
 * (NATS away) is tried again shortly, so a job due during a nats-server
 * restart moves as soon as the server is back.
 */
import type { ConsumerMessages, JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { queueNotFound } from "../errors.js";
import { formatJobId, parseJobId } from "../job-id.js";
import type { Inserted, NewJob } from "../driver/types.js";
import { isTerminal, type JobStatus } from "../types.js";
import { isMessageNotFound } from "./errors.js";
import { statusEventOf, type EventHub } from "./events.js";
import type { IdempotencyKeys, IdempotencyStore } from "./idempotency.js";
import { readMeta, type JobMeta } from "./job-message.js";
import { DELAYED_STREAM, H_DUE, H_IDEM, H_JOB_ID, delayedSubject, streamName } from "./layout.js";
import { publishToLevel } from "./level-publish.js";
import type { PriorityLevels } from "./priority-levels.js";
import { priorityOf } from "../core/priority.js";
import { levelKey, type QueueInfoCache } from "./queue-info.js";
import type { JobRecord, RecordStore } from "./records.js";
import { relocatedHeaders } from "./relocation.js";

export interface DelayedDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  records: RecordStore;
  events: EventHub;
  queueInfo: QueueInfoCache;
  idempotency: IdempotencyStore;
  queueDeclared(queue: string): Promise<boolean>;
  /** The jobs bucket's TTL: a delayed job's record is written again before it runs out. */
  retentionMs: number;
  /** The job's status, for an idempotent repeat. */
  status(id: string): Promise<JobStatus>;
  requestTimeoutMs: number;
  /** Makes the job's level stream when it has none (level-publish.ts). */
  levels?: Pick<PriorityLevels, "ensure">;
  logger?: Logger;
}

/** A job's message as Submit made it (submit.ts). */
export interface DelayedMessage {
  data: Uint8Array;
  meta: JobMeta;
  headers: ReturnType<typeof relocatedHeaders>;
}

/**
 * A job moves this long before its time, so that the publish, the record
 * and the pull are done when it comes; the lease waits for the time itself
 * (../core/lease.ts), so it never starts early.
 */
const MOVE_LEAD_MS = 300;
/** Processes other than the submitter's move a job this much later, so they rarely race it. */
const OTHERS_LAG_MS = 150;
/** A failed move is tried again after this (doubling up to MAX_RETRY_MS). */
const RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;
/** setTimeout's longest wait; a later time is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long an idempotent repeat waits for the original job's key. */
const REPEAT_POLL_MS = 50;

interface Pending {
  seq: number;
  due: number;
  timer?: ReturnType<typeof setTimeout>;
  failures: number;
}

export class DelayedJobs {
  private readonly pending = new Map<string, Pending>();
  private messages: ConsumerMessages | undefined;
  private closed = false;
  private readonly keepAlive: ReturnType<typeof setInterval>;

  constructor(private readonly deps: DelayedDeps) {
    this.keepAlive = setInterval(() => void this.refreshRecords(), Math.max(250, deps.retentionMs / 4));
    this.keepAlive.unref();
  }

  /** Follows JETQ_DELAYED from its first message, in the background. */
  start(): void {
    void this.follow();
  }

  /**
   * A delay may be longer than the retention (the jobs bucket's TTL): the
   * record of a job still waiting is written again (unchanged, conditionally)
   * once half the retention has passed since its last write, so reads find it
   * until it moves. Without any process running, a record may lapse: the
   * move writes it again.
   */
  private async refreshRecords(): Promise<void> {
    const { records, retentionMs } = this.deps;
    for (const [id, p] of [...this.pending]) {
      if (this.closed) return;
      if (p.due - Date.now() < retentionMs / 4) continue;
      try {
        const stored = await records.get(id);
        const r = stored?.record;
        if (!stored || r?.state !== "QUEUED" || r.seq !== undefined || r.delayedSeq === undefined) continue;
        if ((stored.writtenAt ?? 0) > Date.now() - retentionMs / 2) continue;
        await records.write(id, r, stored.revision);
      } catch (err) {
        this.deps.logger?.debug({ err, id }, "jetq nats engine: refreshing a delayed job's record failed");
      }
    }
  }

  async submit(job: NewJob, message: DelayedMessage, keys: IdempotencyKeys | undefined): Promise<Inserted> {
    const { deps } = this;
    const { queue } = job;
    if (!(await deps.queueDeclared(queue))) throw queueNotFound(queue);
    const runAt = job.options.runAt!;
    const { meta } = message;
    // Seq 0 (no message in its queue yet); the id names its priority level, where it goes when due.
    const id = formatJobId({ queue, priority: priorityOf(job.options), seq: 0, token: meta.token });
    const headers = message.headers;
    headers.set(H_JOB_ID, id);
    headers.set(H_DUE, String(runAt));
    if (keys) headers.set(H_IDEM, keys.msgId);
    const ack = await deps.js.publish(delayedSubject(queue), message.data, {
      headers,
      timeout: deps.requestTimeoutMs,
      ...(keys ? { msgID: keys.msgId } : {}),
    });
    if (ack.duplicate && keys) return { status: await deps.status(await this.original(keys, ack.seq)), fresh: false };
    const record: JobRecord = { ...queuedRecord(queue, meta), scheduledAt: runAt, delayedSeq: ack.seq };
    // Already there: it was due at once and a mover wrote it first.
    await deps.records.write(id, record, 0);
    if (keys) {
      const winner = await deps.idempotency.claim(keys, id);
      if (winner !== id) {
        await deps.jsm.streams.deleteMessage(DELAYED_STREAM, ack.seq, false).catch(() => undefined);
        return { status: await deps.status(winner), fresh: false };
      }
    }
    this.schedule(id, ack.seq, runAt, true);
    const status: JobStatus = { id, queue, state: "QUEUED", attempt: 0, progress: 0, createdAt: meta.createdAt };
    return { status: { ...status, scheduledAt: runAt }, fresh: true };
  }

  /** Jobs of the queue waiting for their time. */
  async count(queue: string): Promise<number> {
    const subject = delayedSubject(queue);
    const info = await this.deps.jsm.streams.info(DELAYED_STREAM, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.keepAlive);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await this.messages?.close().catch(() => undefined);
  }

  /** The job a duplicate publish (same Nats-Msg-Id) belongs to. */
  private async original(keys: IdempotencyKeys, seq: number): Promise<string> {
    const deadline = Date.now() + this.deps.requestTimeoutMs;
    for (;;) {
      const recorded = await this.deps.idempotency.lookup(keys);
      if (recorded) return recorded;
      const m = await this.deps.jsm.direct.getMessage(DELAYED_STREAM, { seq }).catch(() => null);
      const id = m?.header?.get(H_JOB_ID);
      if (id || Date.now() > deadline) return id ?? this.deps.idempotency.lookup(keys).then((r) => r ?? "");
      await new Promise((r) => setTimeout(r, REPEAT_POLL_MS));
    }
  }

  private async follow(): Promise<void> {
    try {
      const consumer = await this.deps.js.consumers.get(DELAYED_STREAM, { headers_only: true });
      if (this.closed) return;
      this.messages = await consumer.consume();
      for await (const m of this.messages) {
        const id = m.headers?.get(H_JOB_ID);
        const due = Number(m.headers?.get(H_DUE));
        if (id && Number.isFinite(due)) this.schedule(id, m.seq, due, false);
      }
    } catch (err) {
      if (this.closed) return;
      this.deps.logger?.warn({ err }, "jetq nats engine: following the delayed jobs failed; trying again");
      setTimeout(() => void this.follow(), MAX_RETRY_MS).unref();
    }
  }

  private schedule(id: string, seq: number, due: number, mine: boolean): void {
    if (this.closed || this.pending.has(id)) return;
    const p: Pending = { seq, due, failures: 0 };
    this.pending.set(id, p);
    this.arm(id, p, due - MOVE_LEAD_MS - Date.now() + (mine ? 0 : OTHERS_LAG_MS + Math.random() * 100));
  }

  private arm(id: string, p: Pending, waitMs: number): void {
    const wait = Math.max(0, waitMs);
    p.timer = setTimeout(
      () => {
        if (wait > MAX_TIMER_MS) return this.arm(id, p, p.due - MOVE_LEAD_MS - Date.now());
        void this.fire(id, p);
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    p.timer.unref();
  }

  private async fire(id: string, p: Pending): Promise<void> {
    let done = false;
    try {
      done = await this.move(id, p.seq, p.due);
    } catch (err) {
      this.deps.logger?.debug({ err, id }, "jetq nats engine: moving a due job failed; trying again");
    }
    if (this.closed || this.pending.get(id) !== p) return;
    if (done) {
      this.pending.delete(id);
      return;
    }
    p.failures++;
    this.arm(id, p, Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** (p.failures - 1)));
  }

  /** Moves the due job to its queue; true when nothing is left to do. */
  private async move(id: string, seq: number, due: number): Promise<boolean> {
    const { deps } = this;
    const [m, stored] = await Promise.all([
      deps.jsm.direct.getMessage(DELAYED_STREAM, { seq }).catch((err: unknown): StoredMsg | null => {
        if (isMessageNotFound(err)) return null;
        throw err;
      }),
      deps.records.get(id),
    ]);
    const meta = m ? readMeta(m.header) : undefined;
    if (!m || !meta || m.header?.get(H_JOB_ID) !== id) return true; // moved or cancelled already
    const { queue, priority } = parseJobId(id);
    // Ended, or moved already (and maybe running): nothing to move.
    if (stored && (stored.record.state !== "QUEUED" || stored.record.seq !== undefined)) return this.dropDelayed(seq);
    // Into the stream of the priority level its id names, at its end.
    const ack = await publishToLevel(deps.js, deps.levels, { queue, priority }, m.data, {
      headers: relocatedHeaders(meta, id, m.header?.get(H_IDEM) || undefined),
      msgID: `jetq-due-${meta.token}`,
      timeout: deps.requestTimeoutMs,
    });
    const base: JobRecord = stored?.record ?? queuedRecord(queue, meta);
    const record: JobRecord = { ...base, state: "QUEUED", seq: ack.seq, undelivered: true, scheduledAt: due };
    delete record.delayedSeq;
    if ((await deps.records.write(id, record, stored?.revision ?? 0)) === undefined) {
      const now = await deps.records.get(id);
      if (now?.record.seq === ack.seq) return this.dropDelayed(seq); // another process moved it
      if (!now || (now.record.state === "QUEUED" && now.record.seq === undefined)) return false; // Submit's record landed: again
      // Cancelled meanwhile: the copy in the queue must not run (a worker that took it already keeps it).
      if (isTerminal(now.record.state)) {
        await deps.jsm.streams.deleteMessage(streamName(queue, priority), ack.seq, false).catch(() => undefined);
      }
      return this.dropDelayed(seq);
    }
    deps.queueInfo.invalidate(levelKey(queue, priority));
    deps.events.publish(id, statusEventOf(record));
    return this.dropDelayed(seq);
  }

  private async dropDelayed(seq: number): Promise<true> {
    await this.deps.jsm.streams.deleteMessage(DELAYED_STREAM, seq, false).catch(() => undefined);
    return true;
  }
}

/** The record of a job no worker has taken yet. */
function queuedRecord(queue: string, meta: JobMeta): JobRecord {
  return { state: "QUEUED", queue, tenant: meta.tenant, createdAt: meta.createdAt, attempt: 0, progress: 0 };
}
