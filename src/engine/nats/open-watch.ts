/**
 * One open StreamStatus watch: its inbox (live events, safety-net
 * derivations and position updates, in the order they happened) and the
 * status it last sent. The safety net (watch-safety-net.ts) and the
 * snapshot positions (watch-positions.ts) read and set its bookkeeping
 * fields; watch.ts registers it and yields what next() answers.
 */
import type { LogBounds } from "../log-bounds.js";
import type { PacedWatch } from "../position-pacer.js";
import { createQueuedIterator, type QueuedIterator } from "../core/queued-iterator.js";
import { sameStatus } from "../core/status-change.js";
import type { JobStatus, WatchOptions } from "../types.js";
import { applyEvent } from "./apply-event.js";
import type { JobEvent } from "./events.js";
import type { JobRef } from "./state.js";

/** A derivation started when the item was queued: later items are newer than it. */
type Item =
  JobEvent | { type: "derived"; result: Promise<JobStatus | undefined> } | { type: "position"; position: number };

/** A QUEUED watch proven by a snapshot is derived in full anyway once its last full derivation is this old. */
export const FULL_REDERIVE_MS = 5 * 60_000;

export class OpenWatch implements PacedWatch {
  readonly ref: JobRef;
  /** The tenant the watch reads as (undefined: any). */
  readonly tenant: string | undefined;
  /** Job and tenant: watches with the same key can share a derivation. */
  readonly shareKey: string;
  queued = false;
  /** queuePosition last yielded (undefined when not QUEUED). */
  position: number | undefined;
  /** Position computed from the last snapshot (what flushPosition sends). */
  latest: number | undefined;
  /** When a snapshot last showed it QUEUED and untouched (0: none since it was last in doubt). */
  provenAt = 0;
  /** When its status was last derived in full. */
  derivedAt = 0;
  /** When a QUEUED watch proven by snapshots is derived in full anyway. */
  fullAt = 0;
  /** A snapshot says its QUEUED status may be over (delivered, or gone from the stream). */
  inDoubt = false;
  /** When a live event for this job last arrived. */
  lastEventAt = 0;
  /** A safety-net derivation is waiting in the inbox or running. */
  deriving = false;
  private readonly inbox: QueuedIterator<Item>;
  private readonly includeLogs: boolean;
  private readonly logBounds: LogBounds | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(ref: JobRef, options: WatchOptions, logBounds: LogBounds | undefined) {
    this.ref = ref;
    this.tenant = options.tenant;
    this.shareKey = `${ref.id}\u0000${options.tenant ?? "\u0000"}`;
    this.includeLogs = options.includeLogs === true;
    this.logBounds = logBounds;
    this.signal = options.signal;
    this.inbox = createQueuedIterator<Item>(options.signal);
  }

  /** A live event about the job. */
  event(ev: JobEvent): void {
    this.lastEventAt = Date.now();
    this.inbox.push(ev);
  }

  /** Queues the result of a derivation started now (possibly shared with other watches of the job). */
  derive(result: Promise<JobStatus | undefined>): void {
    this.deriving = true;
    this.provenAt = 0;
    this.inDoubt = false;
    this.inbox.push({ type: "derived", result });
  }

  flushPosition(): boolean {
    if (!this.queued || this.deriving || this.latest === undefined || this.latest === this.position) return false;
    // At most one pending position update: a newer tick replaces it.
    const pending = this.inbox.find((i): i is Extract<Item, { type: "position" }> => i.type === "position");
    if (pending) pending.position = this.latest;
    else this.inbox.push({ type: "position", position: this.latest });
    return true;
  }

  fail(err: Error): void {
    this.inbox.fail(err);
  }

  close(): void {
    this.inbox.close();
  }

  /** The first status, derived now: what the watch sends first. */
  begin(first: JobStatus): JobStatus {
    this.derivedNow();
    this.queued = first.state === "QUEUED";
    this.position = first.queuePosition;
    return first;
  }

  /** The next status to send after current; undefined when the watch ends (aborted). */
  async next(current: JobStatus): Promise<JobStatus | undefined> {
    for (;;) {
      const item = await this.inbox.next();
      if (item === undefined) return undefined;
      const next = await this.step(current, item);
      if (next === undefined) continue;
      this.inbox.assertOpen();
      if (this.signal?.aborted) return undefined;
      this.queued = next.state === "QUEUED";
      this.position = next.queuePosition;
      // What the client has now; only a newer snapshot moves it again.
      this.latest = this.position;
      if (!sameStatus(current, next)) return next;
    }
  }

  /** The status after item, or undefined when item changes nothing. */
  private async step(current: JobStatus, item: Item): Promise<JobStatus | undefined> {
    if (item.type === "derived") {
      try {
        const derived = await item.result;
        if (derived !== undefined) this.derivedNow();
        return this.settle(current, derived);
      } finally {
        if (!this.inbox.some((i) => i.type === "derived")) this.deriving = false;
      }
    }
    if (item.type === "position") {
      if (current.state !== "QUEUED" || current.queuePosition === undefined) return undefined;
      return { ...current, queuePosition: item.position };
    }
    return applyEvent(current, item, this.includeLogs, this.logBounds);
  }

  private settle(current: JobStatus, derived: JobStatus | undefined): JobStatus | undefined {
    if (derived === undefined) return undefined;
    // A copy: the derivation may be shared with other watches of the job.
    const next = { ...derived };
    if (this.includeLogs) next.logs = current.logs ?? [];
    // A snapshot older than the events we already applied must not move us back.
    if (next.state === "QUEUED" && current.state === "RUNNING" && next.attempt < current.attempt) return undefined;
    // Events know more about a running job than a derivation can.
    if (next.state === "RUNNING" && current.state === "RUNNING") return undefined;
    return next;
  }

  private derivedNow(): void {
    this.derivedAt = Date.now();
    // Spread: 10,000 watches opened together are not all due in the same round.
    this.fullAt = this.derivedAt + FULL_REDERIVE_MS * (1 + Math.random());
  }
}
