/**
 * How watches (StreamStatus) of QUEUED jobs hear that their queue position
 * moved. Both engines follow the same rule.
 *
 * A queue position is advisory; a state is not.
 *
 * - A state change (RUNNING, CANCELLED, COMPLETED, a retry back to QUEUED,
 *   progress, logs) is sent at once, carrying the position as of then. It never
 *   goes through this pacer and never waits behind position updates.
 * - A position that moved while the state did not makes the watch *due*. A due
 *   watch is sent its position as it is at send time (never a stale
 *   intermediate value, and nothing at all if it moved back) once both hold:
 *   - per watch: at least `minIntervalMs` since its last position message, and
 *   - per process: the budget allows, at most `perSecond` position messages a
 *     second across all watches (refilled every `tickMs`, no saving up).
 *   Due watches are served in the order they became due, so none starves.
 *
 * So while a queue moves, each stream gets at most one position a second,
 * all streams together at most `perSecond` a second plus one tick's worth
 * (10,000 open streams cost the same per second as 1,000), and any stream's
 * position is at most `minIntervalMs + tickMs + (due watches) / perSecond`
 * old: about 11 s with 10,000 streams all moving at the defaults, 1.2 s with
 * 100 (the NATS engine computes positions once a second from its queue
 * snapshot: add that second). A position that stops moving is exact again
 * within that bound.
 */

export interface PacedWatch {
  /**
   * Sends the watch's current position if it differs from the last one the
   * client got; true when a message went out (and spent the budget).
   */
  flushPosition(): boolean;
}

export interface PositionPacerOptions {
  /** Position messages per second, all watches together. */
  perSecond?: number;
  /** Least time between two position messages of one watch. */
  minIntervalMs?: number;
  /** Budget refill period. */
  tickMs?: number;
  now?: () => number;
}

export interface PositionPacer {
  /** w's position may have moved. O(1); a watch already due keeps its place. */
  due(w: PacedWatch): void;
  /** w is closed: forget it. */
  remove(w: PacedWatch): void;
  /** Watches waiting for their turn. */
  readonly pending: number;
  /** Position messages sent so far. */
  readonly sent: number;
  close(): void;
}

export const POSITION_UPDATES_PER_SECOND = 1_000;
export const POSITION_MIN_INTERVAL_MS = 1_000;
const TICK_MS = 100;

export function createPositionPacer(options: PositionPacerOptions = {}): PositionPacer {
  const perSecond = options.perSecond ?? POSITION_UPDATES_PER_SECOND;
  const minIntervalMs = options.minIntervalMs ?? POSITION_MIN_INTERVAL_MS;
  const tickMs = options.tickMs ?? TICK_MS;
  const now = options.now ?? Date.now;
  const perTick = Math.max(1, Math.floor((perSecond * tickMs) / 1000));

  /** Due watches in the order they became due. */
  const queue = new Set<PacedWatch>();
  /** When each watch last got a position message. */
  const lastSent = new WeakMap<PacedWatch, number>();
  let tokens = perTick;
  let sent = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const eligible = (w: PacedWatch, t: number) => t - (lastSent.get(w) ?? -Infinity) >= minIntervalMs;

  const send = (w: PacedWatch, t: number) => {
    if (!w.flushPosition()) return;
    tokens--;
    sent++;
    lastSent.set(w, t);
  };

  const tick = () => {
    tokens = perTick;
    const t = now();
    // Oldest due first. A watch not yet eligible (it got a position less than
    // minIntervalMs ago) keeps its place; scanning past it stays bounded
    // because such a watch became eligible at most minIntervalMs later.
    let scanned = 0;
    for (const w of queue) {
      if (tokens <= 0 || scanned >= perTick * 8) break;
      scanned++;
      if (!eligible(w, t)) continue;
      queue.delete(w);
      send(w, t);
    }
    if (queue.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    due(w) {
      if (closed || queue.has(w)) return;
      const t = now();
      // Nothing waiting, the budget allows and the watch is eligible: at once.
      if (queue.size === 0 && tokens > 0 && eligible(w, t)) {
        send(w, t);
        if (!timer) {
          // Refills the budget; stops itself once nothing is due.
          timer = setInterval(tick, tickMs);
          timer.unref();
        }
        return;
      }
      queue.add(w);
      if (!timer) {
        timer = setInterval(tick, tickMs);
        timer.unref();
      }
    },
    remove(w) {
      queue.delete(w);
    },
    get pending() {
      return queue.size;
    },
    get sent() {
      return sent;
    },
    close() {
      closed = true;
      queue.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
