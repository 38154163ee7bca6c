/**
 * Cancel signals to the leases of this process: ONE subscription on
 * `jetq.cancel.>` (opened with the first fetch), dispatched in memory to the
 * live leases of each job.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { CANCEL_PREFIX, CANCEL_WILDCARD, cancelSubject } from "./layout.js";

export interface CancelSignals {
  /** Opens the subscription (idempotent). */
  start(): void;
  /** Registers a live lease's handler; returns the unregister. */
  on(id: string, fn: () => void): () => void;
  /** Tells whoever holds the job to stop (sent after the CANCELLED record is written). */
  send(id: string): void;
}

export function createCancelSignals(nc: NatsConnection): CancelSignals {
  const handlers = new Map<string, Set<() => void>>();
  let subscribed = false;
  return {
    start() {
      if (subscribed || nc.isClosed()) return;
      subscribed = true;
      nc.subscribe(CANCEL_WILDCARD, {
        callback: (err, msg) => {
          if (err) return;
          const set = handlers.get(msg.subject.slice(CANCEL_PREFIX.length));
          if (set) for (const h of [...set]) h();
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
    },
  };
}
