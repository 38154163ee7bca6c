/**
 * Per-queue snapshot of the stream and its consumer (one per priority level
 * in use: see levelKey), from which QUEUED,
 * RUNNING and queue positions are derived without a scan. Cached a few hundred
 * ms so many status reads cost one pair of API calls per queue; concurrent
 * refreshes are coalesced; this process's own submits, cancels and fetches
 * invalidate it so what a client sees right after its own call is exact.
 *
 * A job known to be delivered needs no snapshot for its position (it was
 * next: 0). Deliveries are learned from this process's pulls and from the
 * RUNNING events of every process, so a Submit whose job a worker takes at
 * once answers without the two JetStream API calls of a snapshot.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { DEFAULT_PRIORITY } from "../job-id.js";
import { CONSUMER, streamName } from "./layout.js";

/**
 * What the cache is keyed by: one stream of a queue. The default level's key
 * is the queue's name (so callers that know no priorities mean that stream),
 * another level's `<queue>:<priority>` (priority-levels.ts).
 */
export function levelKey(queue: string, priority = DEFAULT_PRIORITY): string {
  return priority === DEFAULT_PRIORITY ? queue : `${queue}:${priority}`;
}

function streamOfKey(key: string): string {
  const colon = key.indexOf(":");
  return colon < 0 ? streamName(key) : streamName(key.slice(0, colon), Number(key.slice(colon + 1)));
}

export interface QueueSnapshot {
  /** Consumer delivered.stream_seq: every message at or below it was delivered. */
  delivered: number;
  /** Stream interior deletes (cancelled or settled messages), ascending. */
  deleted: number[];
  /** Messages not delivered yet. */
  numPending: number;
  /** Delivered, not acked yet. */
  numAckPending: number;
  lastSeq: number;
  /** Stream first_seq: everything below it is gone. */
  firstSeq: number;
  /**
   * When the stream was made (epoch ms, the server's clock): a job created
   * before it was in an earlier stream of that name (deleted, made again),
   * whatever sequence it had. Unknown: 0.
   */
  createdAt: number;
}

export interface QueueInfoCache {
  /**
   * A snapshot taken after the last invalidation, or (with `after`) after
   * the invalidation that returned that mark: concurrent submits then share
   * one refresh instead of paying one each.
   */
  get(queue: string, after?: number): Promise<QueueSnapshot>;
  /** Marks what is cached as stale; returns the mark of this invalidation. */
  invalidate(queue: string): number;
  /** Invalidates every level of the queue (a settle or a hand-back of a job of any level). */
  invalidateQueue(queue: string): void;
  /**
   * Messages of snap not delivered yet, as this process knows now: the
   * snapshot's count, less those it has since learned were delivered
   * (noteDelivered: its own pulls and every process's RUNNING events).
   */
  pending(queue: string, snap: QueueSnapshot): number;
  /**
   * The message at seq was delivered to a worker: so was everything before it.
   * `here`: a first delivery to a worker of this process.
   */
  noteDelivered(queue: string, seq: number, here?: boolean): void;
  /**
   * Position of the message just published at seq, exact as of a moment after
   * the publish: 0 as soon as it is known delivered, else from a snapshot;
   * and whether a worker of this process took it meanwhile.
   */
  positionAfterPublish(queue: string, seq: number): Promise<PositionAfterPublish>;
}

export interface PositionAfterPublish {
  position: number;
  deliveredHere: boolean;
  /** A worker took it already (position 0 then says nothing ran before it). */
  delivered: boolean;
}

/** A refresh deferred to the next turn of the event loop, skipped if nobody needs it by then. */
interface Scheduled {
  promise: Promise<QueueSnapshot>;
  /** Callers still waiting for it. */
  demand: number;
}

interface DeliveryWaiter {
  seq: number;
  delivered(here: boolean): void;
}

/** First deliveries to this process remembered for the Submits that wait on them. */
const MAX_DELIVERED_HERE = 4_096;

interface Entry {
  /** Bumped by every invalidation. */
  gen: number;
  at: number;
  snapshot?: QueueSnapshot;
  /** gen when the cached snapshot's load started. */
  snapshotGen: number;
  inflight?: { gen: number; promise: Promise<QueueSnapshot> };
  scheduled?: Scheduled;
  /** Highest stream seq known delivered (0: none known). */
  deliveredSeq: number;
  /** Positions waiting for a delivery, ascending by seq. */
  waiters: DeliveryWaiter[];
  /** Seqs a worker of this process took first, not yet asked about by their Submit. */
  deliveredHere: Set<number>;
}

/** The refresh was skipped: every caller learned what it needed otherwise. */
class RefreshNotNeeded extends Error {}

/**
 * Jobs ahead of the one at seq: position = (S − D − 1) − |deleted seqs in (D, S)|,
 * where D is also raised to first_seq − 1 (a removed head is no interior delete).
 */
export function positionOf(snap: QueueSnapshot, seq: number): number {
  const D = Math.max(snap.delivered, snap.firstSeq - 1);
  let deletedBetween = 0;
  // deleted is ascending: count the entries strictly between D and seq.
  for (let i = lowerBound(snap.deleted, D + 1); i < snap.deleted.length; i++) {
    if (snap.deleted[i]! >= seq) break;
    deletedBetween++;
  }
  return Math.max(0, seq - D - 1 - deletedBetween);
}

/** Index of the first entry ≥ v in ascending a (a.length when none). */
export function lowerBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createQueueInfoCache(jsm: JetStreamManager, maxAgeMs = 300): QueueInfoCache {
  return new NatsQueueInfoCache(jsm, maxAgeMs);
}

class NatsQueueInfoCache implements QueueInfoCache {
  private readonly jsm: JetStreamManager;
  private readonly maxAgeMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor(jsm: JetStreamManager, maxAgeMs: number) {
    this.jsm = jsm;
    this.maxAgeMs = maxAgeMs;
  }

  get(queue: string, after?: number): Promise<QueueSnapshot> {
    const e = this.entry(queue);
    const need = after ?? e.gen;
    if (e.snapshot && e.snapshotGen >= need && Date.now() - e.at < this.maxAgeMs) return Promise.resolve(e.snapshot);
    // Share a refresh that started after the invalidation we must see...
    if (e.inflight && e.inflight.gen >= need) return e.inflight.promise;
    // ...or one about to start: it is deferred a turn of the event loop, so
    // the pub acks of a burst of submits all land before it and share it.
    return this.refresh(queue, e).promise;
  }

  invalidate(queue: string): number {
    const e = this.entry(queue);
    e.gen++;
    return e.gen;
  }

  pending(queue: string, snap: QueueSnapshot): number {
    const delivered = this.entry(queue).deliveredSeq;
    if (delivered <= snap.delivered) return snap.numPending;
    return Math.min(snap.numPending, positionOf({ ...snap, delivered }, snap.lastSeq + 1));
  }

  invalidateQueue(queue: string): void {
    this.invalidate(queue);
    const prefix = `${queue}:`;
    for (const [key, e] of this.entries) if (key.startsWith(prefix)) e.gen++;
  }

  noteDelivered(queue: string, seq: number, here = false): void {
    const e = this.entry(queue);
    if (here) {
      e.deliveredHere.add(seq);
      if (e.deliveredHere.size > MAX_DELIVERED_HERE) e.deliveredHere.delete(e.deliveredHere.values().next().value!);
    }
    if (seq <= e.deliveredSeq) return;
    e.deliveredSeq = seq;
    let n = 0;
    while (n < e.waiters.length && e.waiters[n]!.seq <= seq) n++;
    for (const w of e.waiters.splice(0, n)) w.delivered(e.deliveredHere.delete(w.seq));
  }

  positionAfterPublish(queue: string, seq: number): Promise<PositionAfterPublish> {
    const e = this.entry(queue);
    // The snapshot must be taken after this publish: no cached or running one will do.
    e.gen++;
    if (e.deliveredSeq >= seq) {
      return Promise.resolve({ position: 0, deliveredHere: e.deliveredHere.delete(seq), delivered: true });
    }
    return new Promise<PositionAfterPublish>((resolve, reject) => {
      const snapshot = this.refresh(queue, e);
      // Plain callbacks, no AbortController: this runs once per Submit.
      const waiter: DeliveryWaiter = {
        seq,
        delivered: (here) => {
          snapshot.demand--;
          resolve({ position: 0, deliveredHere: here, delivered: true });
        },
      };
      // Publishes ack in about seq order: inserting from the back is short.
      let i = e.waiters.length;
      while (i > 0 && e.waiters[i - 1]!.seq > seq) i--;
      e.waiters.splice(i, 0, waiter);
      snapshot.promise.then(
        (snap) => {
          removeWaiter(e, waiter);
          // Taken by a worker before the snapshot: then it was next.
          const delivered = seq <= snap.delivered;
          resolve({ position: delivered ? 0 : positionOf(snap, seq), deliveredHere: false, delivered });
        },
        (err: unknown) => {
          removeWaiter(e, waiter);
          if (!(err instanceof RefreshNotNeeded)) reject(err);
        },
      );
    });
  }

  private entry(queue: string): Entry {
    let e = this.entries.get(queue);
    if (!e) {
      e = { gen: 0, at: 0, snapshotGen: -1, deliveredSeq: 0, waiters: [], deliveredHere: new Set() };
      this.entries.set(queue, e);
    }
    return e;
  }

  /** Shares a pending refresh, or schedules one, and counts the caller in its demand. */
  private refresh(queue: string, e: Entry): Scheduled {
    let s = e.scheduled;
    if (!s) {
      const created: Scheduled = { demand: 0, promise: undefined as unknown as Promise<QueueSnapshot> };
      created.promise = new Promise<QueueSnapshot>((resolve, reject) => {
        setImmediate(() => {
          if (e.scheduled === created) e.scheduled = undefined;
          if (created.demand <= 0) return reject(new RefreshNotNeeded());
          this.start(queue, e).then(resolve, reject);
        });
      });
      e.scheduled = s = created;
    }
    s.demand++;
    return s;
  }

  /** Loads a snapshot now; it becomes the cached one unless a newer load's already is. */
  private start(queue: string, e: Entry): Promise<QueueSnapshot> {
    const gen = e.gen;
    const promise = this.load(queue).then(
      (snap) => {
        if (gen >= e.snapshotGen) {
          e.snapshot = snap;
          e.snapshotGen = gen;
          e.at = Date.now();
        }
        if (e.inflight?.gen === gen) e.inflight = undefined;
        return snap;
      },
      (err: unknown) => {
        if (e.inflight?.gen === gen) e.inflight = undefined;
        throw err;
      },
    );
    if (!e.inflight || e.inflight.gen <= gen) e.inflight = { gen, promise };
    return promise;
  }

  private async load(queue: string): Promise<QueueSnapshot> {
    const stream = streamOfKey(queue);
    const [ci, si] = await Promise.all([
      this.jsm.consumers.info(stream, CONSUMER),
      this.jsm.streams.info(stream, { deleted_details: true }),
    ]);
    const deleted = [...(si.state.deleted ?? [])].sort((a, b) => a - b);
    const e = this.entry(queue);
    // A stream deleted and made again numbers from 1: older marks mean nothing.
    if (e.deliveredSeq > si.state.last_seq) e.deliveredSeq = ci.delivered.stream_seq;
    return {
      delivered: ci.delivered.stream_seq,
      deleted,
      numPending: ci.num_pending,
      numAckPending: ci.num_ack_pending,
      lastSeq: si.state.last_seq,
      firstSeq: si.state.first_seq,
      createdAt: Date.parse(si.created) || 0,
    };
  }
}

function removeWaiter(e: Entry, w: DeliveryWaiter): void {
  const i = e.waiters.indexOf(w);
  if (i >= 0) e.waiters.splice(i, 1);
}
