/**
 * StreamStatus watches: each registers with the event hub before deriving
 * the first status (so nothing published meanwhile is missed), yields the
 * current status, then each change once and in order, and ends after a
 * terminal one. The parts:
 * - open-watch.ts: one watch (its inbox of events, derivations and
 *   positions; what it sends next); apply-event.ts: what an event does to it.
 * - watch-positions.ts: QUEUED positions from the shared per-queue snapshot,
 *   sent through the position pacer (../position-pacer.ts).
 * - watch-safety-net.ts: core events can be lost, so open watches are
 *   re-derived after a reconnect and periodically, paced, skipping those
 *   something else proves current.
 */
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import type { LogBounds } from "../log-bounds.js";
import { createPositionPacer, type PositionPacer, type PositionPacerOptions } from "../position-pacer.js";
import type { EventHub } from "./events.js";
import { OpenWatch } from "./open-watch.js";
import type { QueueInfoCache } from "./queue-info.js";
import type { JobRef, StateDeriver } from "./state.js";
import { SnapshotPositions } from "./watch-positions.js";
import { SafetyNet } from "./watch-safety-net.js";

export interface Watches {
  /**
   * With `seed`, the first status is what seed() answers once the watch
   * listens for events (undefined: derive it as usual).
   */
  watch(ref: JobRef, options: WatchOptions, seed?: () => JobStatus | undefined): AsyncIterable<JobStatus>;
  /**
   * "all": re-derive every open watch (lost events), paced and bounded;
   * "positions": refresh the position of QUEUED watches from the shared
   * queue snapshot.
   */
  rederive(which: "all" | "positions"): void;
  /** Ends every open watch with err. */
  closeAll(err: Error): void;
  readonly open: number;
  /** Safety-net derivations started so far (tests, diagnostics). */
  readonly derivations: number;
  /** Position messages the pacer let out so far. */
  readonly positionsSent: number;
}

export interface WatchesOptions {
  /** Position pacing (defaults: ../position-pacer.ts). */
  positions?: PositionPacerOptions;
  /** Log lines a watch with includeLogs keeps (defaults: ../log-bounds.ts). */
  logBounds?: LogBounds;
  /** Jobs waiting in higher priority levels (level-figures.ts), added to positions. */
  waitingAbove?(queue: string, priority: number): Promise<number>;
}

export function createWatches(
  events: EventHub,
  deriver: StateDeriver,
  queueInfo: QueueInfoCache,
  options: WatchesOptions = {},
): Watches {
  return new NatsWatches(events, deriver, queueInfo, options);
}

class NatsWatches implements Watches {
  private readonly events: EventHub;
  private readonly deriver: StateDeriver;
  private readonly logBounds: LogBounds | undefined;
  private readonly opened = new Set<OpenWatch>();
  private readonly pacer: PositionPacer;
  private readonly net: SafetyNet;
  private readonly positions: SnapshotPositions;

  constructor(events: EventHub, deriver: StateDeriver, queueInfo: QueueInfoCache, options: WatchesOptions) {
    this.events = events;
    this.deriver = deriver;
    this.logBounds = options.logBounds;
    this.pacer = createPositionPacer(options.positions);
    this.net = new SafetyNet(this.opened, events, deriver);
    this.positions = new SnapshotPositions(this.opened, events, queueInfo, this.net, this.pacer, options.waitingAbove);
  }

  get open(): number {
    return this.opened.size;
  }

  get derivations(): number {
    return this.net.derivations;
  }

  get positionsSent(): number {
    return this.pacer.sent;
  }

  async *watch(ref: JobRef, options: WatchOptions, seed?: () => JobStatus | undefined): AsyncGenerator<JobStatus> {
    // Most streams open on a job that is already over (a local worker was
    // faster than the client): a final status has no events left to miss,
    // so it needs no registration, inbox or derivation.
    const finished = options.signal?.aborted ? undefined : this.deriver.finishedStatus(ref, options);
    if (finished) {
      yield finished;
      return;
    }
    const entry = new OpenWatch(ref, options, this.logBounds);
    // Listen first: an event published while we derive is queued, not lost.
    const off = this.events.listen(ref.id, (ev) => entry.event(ev));
    this.opened.add(entry);
    try {
      if (options.signal?.aborted) return;
      let current = entry.begin(seed?.() ?? (await this.deriver.status(ref, options)));
      yield { ...current };
      while (!isTerminal(current.state)) {
        const next = await entry.next(current);
        if (next === undefined) return;
        current = next;
        yield { ...current };
      }
    } finally {
      off();
      this.opened.delete(entry);
      this.pacer.remove(entry);
      entry.close();
    }
  }

  rederive(which: "all" | "positions"): void {
    if (which === "all") {
      // Positions first: a fresh snapshot proves the QUEUED watches, which
      // then need no request (after a reconnect too: 10,000 QUEUED watches
      // cost one snapshot, not 20,000 requests).
      const markAll = () => this.net.markAll();
      this.positions.refresh().then(markAll, markAll);
    } else this.positions.refresh().catch(() => undefined);
  }

  closeAll(err: Error): void {
    this.pacer.close();
    for (const w of this.opened) w.fail(err);
  }
}
