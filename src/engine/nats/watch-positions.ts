/**
 * QUEUED positions move without any event: they are computed for all
 * watches of a queue at once from the shared per-queue snapshot (one refresh
 * per queue per tick whatever the number of watches, one pass over the
 * queue's watches sorted by seq). A watch whose position moved is handed to
 * the position pacer (../position-pacer.ts has the rule: state changes at
 * once, positions coalesced under a per-watch interval and a process-wide
 * budget), which decides when it hears of it. A watch the snapshot shows
 * delivered or gone is put in doubt and handed to the safety net.
 */
import type { PositionPacer } from "../position-pacer.js";
import type { EventHub } from "./events.js";
import type { OpenWatch } from "./open-watch.js";
import { levelKey, type QueueInfoCache, type QueueSnapshot } from "./queue-info.js";
import type { SafetyNet } from "./watch-safety-net.js";

/** A cached queue snapshot can be this old when get() answers (queue-info.ts maxAgeMs). */
const SNAPSHOT_MAX_AGE_MS = 300;

export class SnapshotPositions {
  private readonly open: ReadonlySet<OpenWatch>;
  private readonly events: EventHub;
  private readonly queueInfo: QueueInfoCache;
  private readonly net: SafetyNet;
  private readonly pacer: PositionPacer;
  /** Jobs of the queue's higher priority levels: they run before every watched job of a level. */
  private readonly waitingAbove: (queue: string, priority: number) => Promise<number>;
  private refreshing: Promise<void> | undefined;

  constructor(
    open: ReadonlySet<OpenWatch>,
    events: EventHub,
    queueInfo: QueueInfoCache,
    net: SafetyNet,
    pacer: PositionPacer,
    waitingAbove: (queue: string, priority: number) => Promise<number> = async () => 0,
  ) {
    this.open = open;
    this.events = events;
    this.queueInfo = queueInfo;
    this.net = net;
    this.pacer = pacer;
    this.waitingAbove = waitingAbove;
  }

  /** Refreshes the positions of all QUEUED watches; then starts derivations the snapshots made due. */
  refresh(): Promise<void> {
    // The last refresh is still running: this tick shares it.
    this.refreshing ??= this.refreshAll().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refreshAll(): Promise<void> {
    // One group per stream: a queue's priority levels each have their own (levelKey).
    const byLevel = new Map<string, OpenWatch[]>();
    for (const w of this.open) {
      if (!w.queued || w.position === undefined || w.deriving) continue;
      const key = levelKey(w.ref.queue, w.ref.priority);
      const list = byLevel.get(key);
      if (list) list.push(w);
      else byLevel.set(key, [w]);
    }
    await Promise.all([...byLevel].map(([key, list]) => this.refreshQueue(key, list)));
    this.net.pumpIfDue();
  }

  private async refreshQueue(key: string, list: OpenWatch[]): Promise<void> {
    const { queue, priority } = list[0]!.ref;
    const now = Date.now();
    // What get() answers may have been cached this long before now...
    let takenAfter = now - SNAPSHOT_MAX_AGE_MS;
    if (takenAfter <= this.events.lastDisconnectAt) {
      // ...which could be before the link went down: it would prove nothing.
      this.queueInfo.invalidateQueue(queue);
      takenAfter = now;
    }
    let snap: QueueSnapshot;
    let above: number;
    try {
      [snap, above] = await Promise.all([this.queueInfo.get(key), this.waitingAbove(queue, priority)]);
    } catch {
      return; // the next tick tries again
    }
    this.apply(snap, list, takenAfter, above);
  }

  /** Positions of list (QUEUED watches of one level of a queue) from snap, in one pass; `above` runs first. */
  private apply(snap: QueueSnapshot, list: OpenWatch[], takenAfter: number, above: number): void {
    list.sort((a, b) => a.ref.seq - b.ref.seq);
    // As positionOf (queue-info.ts): jobs ahead = seqs in (D, seq) minus the deleted ones.
    const D = Math.max(snap.delivered, snap.firstSeq - 1);
    const deleted = snap.deleted;
    let d = 0;
    while (d < deleted.length && deleted[d]! <= D) d++;
    let deletedAhead = 0;
    for (const w of list) {
      const seq = w.ref.seq;
      while (d < deleted.length && deleted[d]! < seq) {
        d++;
        deletedAhead++;
      }
      if (!this.open.has(w) || !w.queued || w.deriving) continue;
      // A snapshot older than the job says nothing about it: the next one will.
      if (seq > snap.lastSeq) continue;
      if (seq <= D || deleted[d] === seq) {
        // Delivered, or gone from the stream (cancelled, settled): let a
        // derivation say what it is now.
        w.provenAt = 0;
        w.inDoubt = true;
        w.latest = w.position;
        this.net.markDue(w);
        continue;
      }
      w.provenAt = takenAfter;
      w.latest = seq - D - 1 - deletedAhead + above;
      if (w.latest !== w.position) this.pacer.due(w);
    }
  }
}
