/**
 * Per-queue snapshot of the stream and its consumer, from which QUEUED,
 * RUNNING and queue positions are derived without a scan. Cached a few hundred
 * ms so many status reads cost one pair of API calls per queue; concurrent
 * refreshes are coalesced; this process's own submits, cancels and fetches
 * invalidate it so what a client sees right after its own call is exact.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { CONSUMER, streamName } from "./layout.js";

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
}

interface Entry {
  /** Bumped by every invalidation. */
  gen: number;
  at: number;
  snapshot?: QueueSnapshot;
  /** gen when the cached snapshot's load started. */
  snapshotGen: number;
  inflight?: { gen: number; promise: Promise<QueueSnapshot> };
  /** A refresh deferred to the next turn of the event loop. */
  scheduled?: Promise<QueueSnapshot>;
}

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
  const entries = new Map<string, Entry>();

  const load = async (queue: string): Promise<QueueSnapshot> => {
    const stream = streamName(queue);
    const [ci, si] = await Promise.all([
      jsm.consumers.info(stream, CONSUMER),
      jsm.streams.info(stream, { deleted_details: true }),
    ]);
    const deleted = [...(si.state.deleted ?? [])].sort((a, b) => a - b);
    return {
      delivered: ci.delivered.stream_seq,
      deleted,
      numPending: ci.num_pending,
      numAckPending: ci.num_ack_pending,
      lastSeq: si.state.last_seq,
      firstSeq: si.state.first_seq,
    };
  };

  const entry = (queue: string): Entry => {
    let e = entries.get(queue);
    if (!e) {
      e = { gen: 0, at: 0, snapshotGen: -1 };
      entries.set(queue, e);
    }
    return e;
  };

  return {
    get(queue, after) {
      const e = entry(queue);
      const need = after ?? e.gen;
      if (e.snapshot && e.snapshotGen >= need && Date.now() - e.at < maxAgeMs) return Promise.resolve(e.snapshot);
      // Share a refresh that started after the invalidation we must see...
      if (e.inflight && e.inflight.gen >= need) return e.inflight.promise;
      // ...or one about to start: it is deferred a turn of the event loop, so
      // the pub acks of a burst of submits all land before it and share it.
      if (e.scheduled) return e.scheduled;
      const scheduled = new Promise<QueueSnapshot>((resolve, reject) => {
        setImmediate(() => {
          if (e.scheduled === scheduled) e.scheduled = undefined;
          const gen = e.gen;
          const promise = load(queue).then(
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
          promise.then(resolve, reject);
        });
      });
      e.scheduled = scheduled;
      return scheduled;
    },
    invalidate(queue) {
      const e = entry(queue);
      e.gen++;
      return e.gen;
    },
  };
}
