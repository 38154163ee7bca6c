/**
 * Progress a handler reports becomes at most one event per interval per
 * attempt (JETQ_PROGRESS_INTERVAL_MS): the first at once, the rest coalesced,
 * and the last value always sent (a trailing event), so a handler reporting
 * in a tight loop cannot flood watchers or NATS. Reads see the newest value
 * at once; only the events are paced.
 */
import { invalidArgument } from "./errors.js";

export const DEFAULT_PROGRESS_INTERVAL_MS = 100;

export interface PacedProgress {
  set(value: number): void;
  /** Drops a pending trailing event (the attempt ended: its final status carries the progress). */
  cancel(): void;
}

export function pacedProgress(intervalMs: number, publish: (value: number) => void): PacedProgress {
  let lastAt = -Infinity;
  let latest = 0;
  let timer: NodeJS.Timeout | undefined;
  const send = () => {
    timer = undefined;
    lastAt = Date.now();
    publish(latest);
  };
  return {
    set(value) {
      latest = value;
      if (timer) return;
      const wait = lastAt + intervalMs - Date.now();
      if (wait <= 0) send();
      else timer = setTimeout(send, wait).unref();
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

export function assertProgressInterval(ms: number): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw invalidArgument(`progressIntervalMs: ${ms} must be zero or more`);
  return ms;
}
