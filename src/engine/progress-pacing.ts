/**
 * Progress a handler reports becomes paced events per attempt: a burst of
 * PROGRESS_BURST at once, then at most one per interval
 * (JETQ_PROGRESS_INTERVAL_MS), the rest coalesced into a trailing event with
 * the newest value, so a handler reporting in a tight loop cannot flood
 * watchers or NATS, and the last value is never lost. Reads see the newest
 * value at once; only the events are paced.
 */
import { invalidArgument } from "./errors.js";

export const DEFAULT_PROGRESS_INTERVAL_MS = 100;
/** Events an attempt may send back to back before the interval applies. */
export const PROGRESS_BURST = 10;

export interface PacedProgress {
  set(value: number): void;
  /** Drops a pending trailing event (the attempt ended: its final status carries the progress). */
  cancel(): void;
}

export function pacedProgress(intervalMs: number, publish: (value: number) => void): PacedProgress {
  let tokens = PROGRESS_BURST;
  let filledAt = Date.now();
  let latest = 0;
  let timer: NodeJS.Timeout | undefined;
  const refill = () => {
    const now = Date.now();
    tokens = Math.min(PROGRESS_BURST, tokens + (now - filledAt) / intervalMs);
    filledAt = now;
  };
  const send = () => {
    timer = undefined;
    refill();
    tokens = Math.max(0, tokens - 1);
    publish(latest);
  };
  return {
    set(value) {
      latest = value;
      if (intervalMs === 0) return publish(value);
      if (timer) return;
      refill();
      if (tokens >= 1) send();
      else timer = setTimeout(send, Math.ceil((1 - tokens) * intervalMs)).unref();
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
