/**
 * A job's state, derived as docs/ARCHITECTURE.md §5 says: a terminal record → that;
 * a retry or RUNNING record → what it says; else the message is still in the stream:
 * seq > consumer delivered.stream_seq → QUEUED (with its position), else
 * RUNNING; else NOT_FOUND. The message's token must match the id's, so a
 * guessed or stale id finds nothing.
 */
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { jobExpiredNotFound, jobNotFound, type EngineError } from "../errors.js";
import { settingNamer, type SettingNamer } from "../settings.js";
import type { JobIdParts } from "../job-id.js";
import { isTerminal, type JobState, type JobStatus, type ReadOptions } from "../types.js";
import { isMessageNotFound, isNoResponders, isStreamNotFound } from "./errors.js";
import { readMeta, type JobMeta } from "./job-message.js";
import { queueSubject, streamName } from "./layout.js";
import type { LiveInfo, LiveJobs, RecentJobs, TerminalInfo } from "./live.js";
import type { LogStore } from "./logs.js";
import { levelKey, lowerBound, positionOf, type QueueInfoCache, type QueueSnapshot } from "./queue-info.js";
import type { JobRecord, RecordStore, StoredRecord } from "./records.js";
import { attemptsOf } from "../core/retry-job.js";

export interface JobRef extends JobIdParts {
  id: string;
}

export type Inspection =
  { kind: "record"; stored: StoredRecord } | { kind: "message"; meta: JobMeta; status: JobStatus } | { kind: "none" };

export interface StateDeriver {
  inspect(ref: JobRef): Promise<Inspection>;
  /** The message of a job if it is still in its stream and its token matches. */
  message(ref: JobRef): Promise<JobMeta | undefined>;
  /** Status as a client sees it; NOT_FOUND for unknown ids and other tenants' jobs. */
  status(ref: JobRef, options?: ReadOptions): Promise<JobStatus>;
  /**
   * The status of a job this process knows to be finished, from memory and
   * at once; undefined when a read is needed (not known here, logs wanted,
   * or read as another tenant, which status() answers NOT_FOUND).
   */
  finishedStatus(ref: JobRef, options?: ReadOptions): JobStatus | undefined;
  /**
   * The status of a job this process has just submitted, from what it knows
   * without a read: final when a terminal event said so, RUNNING when a
   * live event or a lease of this process did, else `queued` (what submit
   * answered). Only sound when no event about the job can have been missed
   * since it was stored (see watch() in driver.ts): a watch seeded
   * with it that is wrong in a rare race (a remote worker's terminal event
   * overtaking the publish ack) is set right by the QUEUED watches' snapshot
   * check. Undefined when the job is not one this process submitted.
   */
  knownStatus(ref: JobRef, queued: JobStatus): JobStatus | undefined;
  /**
   * Position of a job known to be QUEUED in its stream, from the cached queue
   * snapshot alone (no per-job call); undefined once it has been delivered.
   */
  position(ref: JobRef): Promise<number | undefined>;
  /**
   * The NOT_FOUND for a job that has neither record nor message, or that
   * another tenant reads: "it may have expired" when its queue's stream once
   * held its sequence (the record's TTL removed it), plain "not found"
   * otherwise. A read naming a tenant always gets plain "not found": whose
   * an expired job was is gone with its record, and a hint that depends on
   * the sequence alone would set another tenant's real ids apart from
   * made-up ones.
   */
  notFound(ref: JobRef, options?: ReadOptions): Promise<EngineError>;
}

/** The status of a job known here to be finished, from what this process kept of it. */
function finalStatus(ref: JobRef, meta: JobMeta, terminal: TerminalInfo): JobStatus {
  return { id: ref.id, queue: ref.queue, createdAt: meta.createdAt, ...terminal };
}

/** Whether the stream held seq when the snapshot was taken. */
function present(snap: QueueSnapshot, seq: number): boolean {
  if (seq < snap.firstSeq || seq > snap.lastSeq) return false;
  return snap.deleted[lowerBound(snap.deleted, seq)] !== seq;
}

/** A job still in its stream, with what live events told this process about it. */
function unsettledStatus(ref: JobRef, meta: JobMeta, state: JobState, info: LiveInfo | undefined): JobStatus {
  return {
    id: ref.id,
    queue: ref.queue,
    state,
    attempt: info?.attempt ?? 0,
    progress: info?.progress ?? 0,
    createdAt: meta.createdAt,
  };
}

export function statusFromRecord(id: string, r: JobRecord): JobStatus {
  const s: JobStatus = {
    id,
    queue: r.queue,
    state: r.state,
    attempt: r.attempt,
    progress: r.progress,
    createdAt: r.createdAt,
  };
  if (r.startedAt !== undefined) s.startedAt = r.startedAt;
  if (r.finishedAt !== undefined) s.finishedAt = r.finishedAt;
  if (r.error) s.error = r.error;
  if (r.scheduledAt !== undefined) s.scheduledAt = r.scheduledAt;
  return s;
}

export interface StateDeriverDeps {
  jsm: JetStreamManager;
  records: RecordStore;
  queueInfo: QueueInfoCache;
  live: LiveJobs;
  logs: LogStore;
  queueDeclared(queue: string): Promise<boolean>;
  /** Terminal records' TTL, for the NOT_FOUND message of expired jobs. */
  retentionMs?: number;
  /** How messages name the engine's settings; default the options' own names. */
  settingName?: SettingNamer;
  /** Jobs this process just submitted: their meta and, once known, final status. */
  recent?: RecentJobs;
  /** Jobs waiting in the queue's priority levels above this one (level-figures.ts); none when unset. */
  waitingAbove?(queue: string, priority: number): Promise<number>;
}

export function createStateDeriver(deps: StateDeriverDeps): StateDeriver {
  return new NatsStateDeriver(deps);
}

class NatsStateDeriver implements StateDeriver {
  private readonly deps: StateDeriverDeps;

  constructor(deps: StateDeriverDeps) {
    this.deps = deps;
  }

  async notFound(ref: JobRef, options?: ReadOptions): Promise<EngineError> {
    const { retentionMs, queueInfo } = this.deps;
    if (retentionMs === undefined || options?.tenant !== undefined || ref.seq < 1) return jobNotFound(ref.id);
    try {
      if (!(await this.deps.queueDeclared(ref.queue))) return jobNotFound(ref.id);
      const snap = await queueInfo.get(levelKey(ref.queue, ref.priority));
      if (ref.seq > snap.lastSeq) return jobNotFound(ref.id);
      // A message at that seq with another token: the id was never a job.
      if (ref.seq >= snap.firstSeq) {
        const stream = streamName(ref.queue, ref.priority);
        const m = await this.deps.jsm.direct.getMessage(stream, { seq: ref.seq }).catch(() => null);
        if (m) return jobNotFound(ref.id);
      }
      return jobExpiredNotFound(ref.id, retentionMs, (this.deps.settingName ?? settingNamer())("retentionMs"));
    } catch {
      return jobNotFound(ref.id);
    }
  }

  async message(ref: JobRef): Promise<JobMeta | undefined> {
    // Stream sequences start at 1: a well-formed id of seq 0 names no message (and JetStream refuses the request).
    if (ref.seq < 1) return undefined;
    let m: StoredMsg | null;
    try {
      m = await this.deps.jsm.direct.getMessage(streamName(ref.queue, ref.priority), { seq: ref.seq });
    } catch (err) {
      // No stream answers: the queue does not exist (any more).
      if (isNoResponders(err) || isStreamNotFound(err) || isMessageNotFound(err)) return undefined;
      throw err;
    }
    if (!m || m.subject !== queueSubject(ref.queue, ref.priority)) return undefined;
    const meta = readMeta(m.header);
    return meta && meta.token === ref.token ? meta : undefined;
  }

  async inspect(ref: JobRef): Promise<Inspection> {
    const { records, live, queueInfo } = this.deps;
    const known = this.deps.recent?.get(ref.id);
    if (known) {
      const found = await this.inspectKnown(ref, known.meta);
      if (found) return found;
    }
    const stored = await records.get(ref.id);
    if (stored) return { kind: "record", stored };
    // An undeclared queue has no stream to ask (and a direct get to a missing
    // stream would wait for its timeout rather than fail fast).
    if (!(await this.deps.queueDeclared(ref.queue))) return { kind: "none" };
    const meta = await this.message(ref);
    if (!meta) {
      // Settled between the two reads: the record is written before the ack.
      const again = await records.get(ref.id);
      return again ? { kind: "record", stored: again } : { kind: "none" };
    }
    const info = live.get(ref.id);
    const base = unsettledStatus(ref, meta, "QUEUED", info);
    if (info?.running) {
      base.state = "RUNNING";
    } else {
      const snap = await queueInfo.get(levelKey(ref.queue, ref.priority));
      if (ref.seq > snap.delivered) {
        base.queuePosition = positionOf(snap, ref.seq) + (await this.above(ref));
      } else {
        base.state = "RUNNING";
      }
    }
    if (base.state === "RUNNING" && info?.startedAt !== undefined) base.startedAt = info.startedAt;
    return { kind: "message", meta, status: base };
  }

  async position(ref: JobRef): Promise<number | undefined> {
    const snap = await this.deps.queueInfo.get(levelKey(ref.queue, ref.priority));
    return ref.seq > snap.delivered ? positionOf(snap, ref.seq) + (await this.above(ref)) : undefined;
  }

  /** Jobs of higher priority levels, which run before any of this job's level. */
  private above(ref: JobRef): Promise<number> {
    return this.deps.waitingAbove?.(ref.queue, ref.priority) ?? Promise.resolve(0);
  }

  knownStatus(ref: JobRef, queued: JobStatus): JobStatus | undefined {
    const known = this.deps.recent?.get(ref.id);
    if (!known) return undefined;
    if (known.terminal) return finalStatus(ref, known.meta, known.terminal);
    const info = this.deps.live.get(ref.id);
    if (!info?.running) return { ...queued };
    const status = unsettledStatus(ref, known.meta, "RUNNING", info);
    if (info.startedAt !== undefined) status.startedAt = info.startedAt;
    return status;
  }

  finishedStatus(ref: JobRef, options: ReadOptions = {}): JobStatus | undefined {
    const known = this.deps.recent?.get(ref.id);
    if (!known?.terminal || options.includeLogs) return undefined;
    if (options.tenant !== undefined && options.tenant !== known.meta.tenant) return undefined;
    return finalStatus(ref, known.meta, known.terminal);
  }

  async status(ref: JobRef, options: ReadOptions = {}): Promise<JobStatus> {
    const { status, tenant } = await this.read(ref, options);
    // Answered as a made-up id would be, so a real id of another tenant tells nothing.
    if (options.tenant !== undefined && options.tenant !== tenant) throw await this.notFound(ref, options);
    if (options.includeLogs) {
      await this.deps.logs.flushed(ref.id);
      status.logs = await this.deps.logs.read(ref.id);
    }
    if (options.includeAttempts) {
      // Only when asked: the history is in the record, which a read from memory skips.
      status.attempts = attemptsOf((await this.deps.records.get(ref.id))?.record.attempts, status);
    }
    return status;
  }

  /** The job's status (without logs) and its tenant; NOT_FOUND when it has neither record nor message. */
  private async read(ref: JobRef, options: ReadOptions): Promise<{ status: JobStatus; tenant: string }> {
    const known = this.deps.recent?.get(ref.id);
    if (known?.terminal) {
      // Final, and announced only after its record was written: no read needed.
      return { status: finalStatus(ref, known.meta, known.terminal), tenant: known.meta.tenant };
    }
    const found = await this.inspect(ref);
    if (found.kind === "none") throw await this.notFound(ref, options);
    if (found.kind === "message") return { status: found.status, tenant: found.meta.tenant };
    const record = found.stored.record;
    const status = this.recordStatus(ref, record, known !== undefined);
    if (status.state === "QUEUED" && record.undelivered && record.seq !== undefined) {
      // A message published again (relocation.ts): placed in line as any waiting message.
      // In its own level's stream (level-publish.ts): behind every waiting job of the levels above.
      const snap = await this.deps.queueInfo.get(levelKey(ref.queue, ref.priority));
      if (record.seq > snap.delivered) status.queuePosition = positionOf(snap, record.seq) + (await this.above(ref));
    }
    return { status, tenant: record.tenant };
  }

  /** Status from the job's record; `recent`: a job this process submitted (remember it if final). */
  private recordStatus(ref: JobRef, record: JobRecord, recent: boolean): JobStatus {
    const status = statusFromRecord(ref.id, record);
    if (recent && isTerminal(status.state)) {
      const { id: _id, queue: _queue, createdAt: _createdAt, logs: _logs, queuePosition: _position, ...final } = status;
      this.deps.recent?.finished(ref.id, final);
    }
    if (!isTerminal(status.state)) {
      // A RUNNING or retry record: the live view of this process may be
      // newer (progress, or the attempt that began since). A QUEUED record
      // of attempt n says attempt n ended: only a later attempt's RUNNING
      // is newer than it (its own RUNNING event may still be all this
      // process has heard).
      const info = this.deps.live.get(ref.id);
      const newer =
        status.state === "QUEUED" ? info && info.attempt > status.attempt : info && info.attempt >= status.attempt;
      if (info?.running && newer) {
        status.state = "RUNNING";
        status.attempt = info.attempt;
        if (info.startedAt !== undefined) status.startedAt = info.startedAt;
        status.progress = info.progress;
      }
    }
    return status;
  }

  /**
   * A job this process submitted: its meta is known, so no direct get of its
   * message. The record is read as always; the message's existence comes
   * from the queue snapshot (which is needed for QUEUED/RUNNING anyway):
   * first_seq ≤ seq ≤ last_seq and not an interior delete. A message leaves
   * its stream only after its record is written (settle, cancel), so "no
   * record" and "present in a snapshot" (before or after that read) mean the
   * job is unsettled. Undefined when the snapshot cannot say: the full
   * derivation decides.
   */
  private async inspectKnown(ref: JobRef, meta: JobMeta): Promise<Inspection | undefined> {
    const { records, live, queueInfo } = this.deps;
    const key = levelKey(ref.queue, ref.priority);
    const snapshot = live.get(ref.id)?.running ? undefined : queueInfo.get(key).catch(() => undefined);
    const stored = await records.get(ref.id);
    if (stored) return { kind: "record", stored };
    const info = live.get(ref.id);
    const status = unsettledStatus(ref, meta, "RUNNING", info);
    if (!info?.running) {
      const snap = await (snapshot ?? queueInfo.get(key).catch(() => undefined));
      // A stream made after the job (deleted and made again, as a priority
      // level's is by its next Submit) reuses its sequences: only the full
      // derivation, which checks the message's token, can tell. So can a
      // level made by this job's own Submit (its time was taken first): one
      // read more for that job.
      if (!snap || !present(snap, ref.seq) || snap.createdAt > meta.createdAt) return undefined;
      if (ref.seq > snap.delivered) {
        status.state = "QUEUED";
        status.queuePosition = positionOf(snap, ref.seq) + (await this.above(ref));
      }
    }
    if (status.state === "RUNNING" && info?.startedAt !== undefined) status.startedAt = info.startedAt;
    return { kind: "message", meta, status };
  }
}
