/**
 * Cancel signals to the leases of this process: ONE subscription on
 * `jetq.cancel.>` (opened with the first fetch), dispatched in memory to the
 * live leases of each job. Signals are also remembered a while (bounded), so
 * a delivery whose job was cancelled before its lease began is not run: a
 * lease's begin() on a first delivery consults this instead of reading the
 * job's record (see job-delivery.ts).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { CANCEL_PREFIX, CANCEL_WILDCARD, cancelSubject } from "./layout.js";
import { RecentMap } from "./live.js";

export interface CancelSignals {
  /** Opens the subscription (idempotent). */
  start(): void;
  /** Registers a live lease's handler; returns the unregister. */
  on(id: string, fn: () => void): () => void;
  /** Tells whoever holds the job to stop (sent after the CANCELLED record is written). */
  send(id: string): void;
  /**
   * Notes a job this process knows to be finished (its CANCELLED record or
   * another terminal one is written): a signal received, one sent, a
   * terminal event.
   */
  noteFinished(id: string): void;
  /** Whether this process learnt (recently) that the job is finished. */
  finished(id: string): boolean;
  /** The job runs again (a Retry): what was noted of its end is over. */
  reopened(id: string): void;
}

/** Finished jobs remembered: the most recent ones, each for at most REMEMBER_MS. */
const MAX_REMEMBERED = 20_000;
const REMEMBER_MS = 10 * 60_000;

export function createCancelSignals(nc: NatsConnection): CancelSignals {
  const handlers = new Map<string, Set<() => void>>();
  const known = new RecentMap<true>(MAX_REMEMBERED, REMEMBER_MS);
  let subscribed = false;

  const noteFinished = (id: string) => {
    if (!known.has(id)) known.set(id, true);
  };
  /** Each registered handler hears a job's signal once, whichever copy comes first. */
  const signal = (id: string) => {
    noteFinished(id);
    const set = handlers.get(id);
    if (!set) return;
    handlers.delete(id);
    for (const h of set) h();
  };

  return {
    start() {
      if (subscribed || nc.isClosed()) return;
      subscribed = true;
      nc.subscribe(CANCEL_WILDCARD, {
        callback: (err, msg) => {
          if (err) return;
          signal(msg.subject.slice(CANCEL_PREFIX.length));
        },
      });
    },
    on(id, fn) {
      let set = handlers.get(id);
      if (!set) {
        set = new Set();
        handlers.set(id, set);
      }
      set.add(fn);
      return () => {
        const s = handlers.get(id);
        s?.delete(fn);
        if (s?.size === 0) handlers.delete(id);
      };
    },
    send(id) {
      if (!nc.isClosed()) nc.publish(cancelSubject(id));
      // The engine's connection does not echo (connection.ts): this
      // process's own leases hear the signal here, as they would a remote
      // one, in a later microtask, never inside the caller's write.
      noteFinished(id);
      queueMicrotask(() => signal(id));
    },
    noteFinished,
    finished: (id) => known.has(id),
    reopened: (id) => known.delete(id),
  };
}
