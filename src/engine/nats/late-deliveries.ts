/**
 * Deliveries that reached this process after the fetch that asked for them
 * had returned (aborted, or the server's end-of-request got lost). Handing
 * them to the next fetch of the queue keeps their attempt count right; one
 * that waits too long is handed back to the consumer before its lease lapses.
 */
import type { Delivery } from "./delivery.js";

export interface LateDeliveries {
  put(queue: string, d: Delivery, ackWaitMs: number): void;
  take(queue: string, max: number): Delivery[];
  /** Forgets them all (engine closing: they are redelivered after ack_wait). */
  clear(): void;
}

interface Held {
  d: Delivery;
  timer: ReturnType<typeof setTimeout>;
}

export function createLateDeliveries(): LateDeliveries {
  const byQueue = new Map<string, Held[]>();
  return {
    put(queue, d, ackWaitMs) {
      const list = byQueue.get(queue) ?? [];
      byQueue.set(queue, list);
      const held: Held = {
        d,
        timer: setTimeout(() => {
          const i = list.indexOf(held);
          if (i >= 0) list.splice(i, 1);
          void d.nak(0);
        }, ackWaitMs / 2),
      };
      held.timer.unref?.();
      list.push(held);
    },
    take(queue, max) {
      const list = byQueue.get(queue);
      if (!list || list.length === 0) return [];
      const taken = list.splice(0, max);
      for (const h of taken) clearTimeout(h.timer);
      return taken.map((h) => h.d);
    },
    clear() {
      for (const list of byQueue.values()) for (const h of list) clearTimeout(h.timer);
      byQueue.clear();
    },
  };
}
