/**
 * Deliveries that reached this process after the fetch that asked for them
 * had returned (aborted, or its server-side request outlived the wait). They
 * go to a fetch of the same queue waiting right now, else to the next one, so
 * their attempt count stays right; one that waits too long is handed back to
 * the consumer before its lease lapses.
 */
import type { Delivery } from "./delivery.js";
import { byPriority } from "./priority-pull.js";

export interface LateDeliveries {
  put(queue: string, d: Delivery, ackWaitMs: number): void;
  take(queue: string, max: number): Delivery[];
  /** While a fetch waits: late deliveries of queue are offered to accept first. */
  wait(queue: string, accept: (d: Delivery) => boolean): () => void;
  /** Engine closing: hands them all back, and any that arrive from now on. */
  clear(): Promise<void>;
}

interface Held {
  d: Delivery;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * handBack returns a delivery nobody took to the consumer. The engine passes
 * one that counts it as a release (not an attempt); a bare nak would make the
 * next delivery's attempt number one higher.
 */
export function createLateDeliveries(
  handBack: (queue: string, d: Delivery) => Promise<void> = (_queue, d) => d.nak(0),
): LateDeliveries {
  const back = (queue: string, d: Delivery) => handBack(queue, d).catch(() => d.nak(0).catch(() => undefined));
  const byQueue = new Map<string, Held[]>();
  const waiters = new Map<string, Set<(d: Delivery) => boolean>>();
  let closing = false;
  return {
    put(queue, d, ackWaitMs) {
      if (closing) {
        void back(queue, d);
        return;
      }
      for (const accept of waiters.get(queue) ?? []) if (accept(d)) return;
      const list = byQueue.get(queue) ?? [];
      byQueue.set(queue, list);
      const held: Held = {
        d,
        timer: setTimeout(() => {
          const i = list.indexOf(held);
          if (i >= 0) list.splice(i, 1);
          void back(queue, d);
        }, ackWaitMs / 2),
      };
      held.timer.unref?.();
      list.push(held);
    },
    take(queue, max) {
      const list = byQueue.get(queue);
      if (!list || list.length === 0) return [];
      // A queue with priority levels: the highest held first (priority-pull.ts).
      if (list.length > 1) list.sort((a, b) => byPriority(a.d, b.d));
      const taken = list.splice(0, max);
      for (const h of taken) clearTimeout(h.timer);
      return taken.map((h) => h.d);
    },
    wait(queue, accept) {
      let set = waiters.get(queue);
      if (!set) {
        set = new Set();
        waiters.set(queue, set);
      }
      set.add(accept);
      return () => {
        const s = waiters.get(queue);
        s?.delete(accept);
        if (s?.size === 0) waiters.delete(queue);
      };
    },
    async clear() {
      closing = true;
      const naks: Promise<void>[] = [];
      for (const [queue, list] of byQueue) {
        for (const h of list) {
          clearTimeout(h.timer);
          naks.push(back(queue, h.d));
        }
      }
      byQueue.clear();
      waiters.clear();
      await Promise.all(naks);
    },
  };
}
