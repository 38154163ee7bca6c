/**
 * StreamStatus watches: each registers with the event hub before deriving
 * the first status (so nothing published meanwhile is missed), yields the
 * current status, then each change once and in order, and ends after a
 * terminal one.
 *
 * QUEUED positions move without any event: they are computed for all watches
 * of a queue at once from the shared per-queue snapshot (one refresh per queue
 * per tick, one pass over the watches sorted by seq) and sent through the
 * position pacer (../position-pacer.ts has the rule: state changes at once,
 * positions coalesced under a per-watch interval and a process-wide budget).
 *
 * Core events can be lost, so open watches are re-derived after a reconnect
 * and periodically ("all"), paced over SPREAD_MS with a bound on requests in
 * flight. A watch is skipped when something else already proves it current:
 * - a live event reached it recently (and since the link was last down), or
 * - it is QUEUED and a snapshot taken since the link was last down shows its
 *   message still in the stream and not delivered: nothing can have happened
 *   to it (a cancel deletes the message, a delivery moves delivered past it),
 *   so there is no event it could have missed. Such a watch is still
 *   re-derived in full every FULL_REDERIVE_MS to twice that (spread), in
 *   case a cancel wrote its record but failed to delete the message.
 * Watches of the same job share one derivation.
 */
import { isEngineError } from "../errors.js";
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import { sameStatus } from "../core/status-change.js";
import { createQueuedIterator } from "../core/queued-iterator.js";
import { tailWithin, type LogBounds } from "../log-bounds.js";
import {
  createPositionPacer,
  type PacedWatch,
  type PositionPacer,
  type PositionPacerOptions,
} from "../position-pacer.js";
import type { EventHub, JobEvent } from "./events.js";
import type { QueueInfoCache, QueueSnapshot } from "./queue-info.js";
import type { JobRef, StateDeriver } from "./state.js";

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

interface OpenWatch extends PacedWatch {
  ref: JobRef;
  queued: boolean;
  /** queuePosition last yielded (undefined when not QUEUED). */
  position: number | undefined;
  /** Position computed from the last snapshot (what flushPosition sends). */
  latest: number | undefined;
  /** When a snapshot last showed it QUEUED and untouched (0: none since it was last in doubt). */
  provenAt: number;
  /** When its status was last derived in full. */
  derivedAt: number;
  /** When a QUEUED watch proven by snapshots is derived in full anyway. */
  fullAt: number;
  /** A snapshot says its QUEUED status may be over (delivered, or gone from the stream). */
  inDoubt: boolean;
  /** When a live event for this job last arrived. */
  lastEventAt: number;
  /** A safety-net derivation is waiting in the inbox or running. */
  deriving: boolean;
  /** The tenant the watch reads as (undefined: any). */
  readonly tenant: string | undefined;
  /** Job and tenant: watches with the same key can share a derivation. */
  readonly shareKey: string;
  /** Queues the result of a derivation started now (possibly shared with other watches of the job). */
  derive(result: Promise<JobStatus | undefined>): void;
  position_(position: number): void;
  fail(err: Error): void;
}

/** A derivation started when the item was queued: later items are newer than it. */
type Item =
  JobEvent | { type: "derived"; result: Promise<JobStatus | undefined> } | { type: "position"; position: number };

/** Safety-net derivations of all watches are spread over this long... */
const SPREAD_MS = 8_000;
const SLOT_MS = 100;
/** ...with at most this many in flight (2 NATS requests each)... */
const MAX_IN_FLIGHT = 32;
/** ...and at least this many started per slot, so a few watches are done at once. */
const MIN_PER_SLOT = 16;
/** A watch that got a live event this recently (and since the link was last down) is fresh enough. */
const RECENT_MS = 5_000;
/** A QUEUED watch proven by a snapshot that recent is fresh enough, unless its last full derivation is older than this. */
const FULL_REDERIVE_MS = 5 * 60_000;
/** A cached queue snapshot can be this old when get() answers (queue-info.ts maxAgeMs). */
const SNAPSHOT_MAX_AGE_MS = 300;

export function applyEvent(current: JobStatus, ev: JobEvent, includeLogs: boolean, bounds?: LogBounds): JobStatus {
  switch (ev.type) {
    case "progress":
      return { ...current, progress: ev.progress };
    case "log": {
      if (!includeLogs) return current;
      if (current.logs?.some((l) => l.timestamp === ev.entry.timestamp && l.message === ev.entry.message)) {
        return current;
      }
      const logs = [...(current.logs ?? []), ev.entry];
      // What the job keeps, a watch keeps: retries must not grow it without end.
      return { ...current, logs: bounds ? tailWithin(logs, bounds) : logs };
    }
    case "status": {
      const next: JobStatus = {
        id: current.id,
        queue: current.queue,
        state: ev.state,
        attempt: ev.attempt,
        progress: ev.progress,
        createdAt: current.createdAt,
      };
      if (ev.startedAt !== undefined) next.startedAt = ev.startedAt;
      if (ev.finishedAt !== undefined) next.finishedAt = ev.finishedAt;
      if (ev.error) next.error = ev.error;
      if (current.logs) next.logs = current.logs;
      return next;
    }
  }
}

export interface WatchesOptions {
  /** Position pacing (defaults: ../position-pacer.ts). */
  positions?: PositionPacerOptions;
  /** Log lines a watch with includeLogs keeps (defaults: ../log-bounds.ts). */
  logBounds?: LogBounds;
}

export function createWatches(
  events: EventHub,
  deriver: StateDeriver,
  queueInfo: QueueInfoCache,
  options: WatchesOptions = {},
): Watches {
  const open = new Set<OpenWatch>();
  const positions: PositionPacer = createPositionPacer(options.positions);
  const logBounds = options.logBounds;
  let derivations = 0;

  async function* watch(
    ref: JobRef,
    options: WatchOptions,
    seed?: () => JobStatus | undefined,
  ): AsyncGenerator<JobStatus> {
    // Most streams open on a job that is already over (a local worker was
    // faster than the client): a final status has no events left to miss,
    // so it needs no registration, inbox or derivation.
    const finished = options.signal?.aborted ? undefined : deriver.finishedStatus(ref, options);
    if (finished) {
      yield finished;
      return;
    }
    const includeLogs = options.includeLogs === true;
    const inbox = createQueuedIterator<Item>(options.signal);
    const entry: OpenWatch = {
      ref,
      queued: false,
      position: undefined,
      latest: undefined,
      provenAt: 0,
      derivedAt: 0,
      fullAt: 0,
      inDoubt: false,
      lastEventAt: 0,
      deriving: false,
      flushPosition: () => {
        if (!entry.queued || entry.deriving || entry.latest === undefined || entry.latest === entry.position)
          return false;
        entry.position_(entry.latest);
        return true;
      },
      tenant: options.tenant,
      shareKey: `${ref.id}\u0000${options.tenant ?? "\u0000"}`,
      derive: (result) => {
        entry.deriving = true;
        entry.provenAt = 0;
        entry.inDoubt = false;
        inbox.push({ type: "derived", result });
      },
      position_: (position) => {
        // At most one pending position update: a newer tick replaces it.
        const pending = inbox.find((i): i is Extract<Item, { type: "position" }> => i.type === "position");
        if (pending) pending.position = position;
        else inbox.push({ type: "position", position });
      },
      fail: (err) => inbox.fail(err),
    };
    // Listen first: an event published while we derive is queued, not lost.
    const off = events.listen(ref.id, (ev) => {
      entry.lastEventAt = Date.now();
      inbox.push(ev);
    });
    open.add(entry);

    const derivedNow = () => {
      entry.derivedAt = Date.now();
      // Spread: 10,000 watches opened together are not all due in the same round.
      entry.fullAt = entry.derivedAt + FULL_REDERIVE_MS * (1 + Math.random());
    };
    const settle = (current: JobStatus, derived: JobStatus | undefined): JobStatus | undefined => {
      if (derived === undefined) return undefined;
      // A copy: the derivation may be shared with other watches of the job.
      const next = { ...derived };
      if (includeLogs) next.logs = current.logs ?? [];
      // A snapshot older than the events we already applied must not move us back.
      if (next.state === "QUEUED" && current.state === "RUNNING" && next.attempt < current.attempt) return undefined;
      // Events know more about a running job than a derivation can.
      if (next.state === "RUNNING" && current.state === "RUNNING") return undefined;
      return next;
    };

    /** The status after item, or undefined when item changes nothing. */
    const step = async (current: JobStatus, item: Item): Promise<JobStatus | undefined> => {
      if (item.type === "derived") {
        try {
          const derived = await item.result;
          if (derived !== undefined) derivedNow();
          return settle(current, derived);
        } finally {
          if (!inbox.some((i) => i.type === "derived")) entry.deriving = false;
        }
      }
      if (item.type === "position") {
        if (current.state !== "QUEUED" || current.queuePosition === undefined) return undefined;
        return { ...current, queuePosition: item.position };
      }
      return applyEvent(current, item, includeLogs, logBounds);
    };

    try {
      if (options.signal?.aborted) return;
      let current = seed?.() ?? (await deriver.status(ref, options));
      derivedNow();
      entry.queued = current.state === "QUEUED";
      entry.position = current.queuePosition;
      yield { ...current };
      while (!isTerminal(current.state)) {
        const item = await inbox.next();
        if (item === undefined) return;
        const next = await step(current, item);
        if (next === undefined) continue;
        inbox.assertOpen();
        if (options.signal?.aborted) return;
        entry.queued = next.state === "QUEUED";
        entry.position = next.queuePosition;
        // What the client has now; only a newer snapshot moves it again.
        entry.latest = entry.position;
        if (!sameStatus(current, next)) {
          current = next;
          yield { ...current };
        }
      }
    } finally {
      off();
      open.delete(entry);
      positions.remove(entry);
      inbox.close();
    }
  }

  // The safety net: "all" marks every open watch due; a slot timer starts their
  // derivations a slice per slot (spread over SPREAD_MS, never more than
  // MAX_IN_FLIGHT at once), so 10,000 watches do not fire 20,000 requests
  // in one tick and starve everything else of the connection.
  const due = new Set<OpenWatch>();
  let perSlot = MIN_PER_SLOT;
  let inFlight = 0;
  let slots: ReturnType<typeof setInterval> | undefined;
  /** Derivations in flight by shareKey: many watches of one job (10,000 viewers) cost one. */
  const sharing = new Map<string, Promise<JobStatus | undefined>>();

  const fetchStatus = async (ref: JobRef, tenant: string | undefined): Promise<JobStatus | undefined> => {
    try {
      return await deriver.status(ref, { ...(tenant !== undefined ? { tenant } : {}), includeLogs: false });
    } catch (err) {
      // A transient failure of the safety net is not the watch's end.
      if (isEngineError(err, "unavailable")) return undefined;
      throw err;
    }
  };

  const pump = () => {
    let started = 0;
    const now = Date.now();
    const freshSince = Math.max(now - RECENT_MS, events.lastDisconnectAt + 1);
    for (const w of due) {
      if (started >= perSlot || inFlight >= MAX_IN_FLIGHT) break;
      due.delete(w);
      if (!open.has(w) || w.deriving) continue;
      // Derived or reached by live events recently, and since the link was
      // last down: it is current enough (unless a snapshot put it in doubt).
      if (!w.inDoubt && (w.lastEventAt >= freshSince || w.derivedAt >= freshSince)) continue;
      // A snapshot since the link was last down shows it waiting, untouched.
      if (w.queued && w.provenAt >= freshSince && now < w.fullAt) continue;
      let result = sharing.get(w.shareKey);
      if (!result) {
        started++;
        inFlight++;
        derivations++;
        const key = w.shareKey;
        const fresh = fetchStatus(w.ref, w.tenant);
        sharing.set(key, fresh);
        result = fresh;
        const done = () => {
          inFlight--;
          if (sharing.get(key) === fresh) sharing.delete(key);
        };
        fresh.then(done, done);
      }
      w.derive(result);
    }
    if (due.size > 0 && !slots) {
      slots = setInterval(pump, SLOT_MS);
      slots.unref();
    } else if (due.size === 0 && slots) {
      clearInterval(slots);
      slots = undefined;
    }
  };

  // Positions come from the shared per-queue snapshot: one refresh per queue
  // per tick whatever the number of watches, one pass over the queue's
  // watches sorted by seq; a watch whose position moved is handed to the
  // pacer, which decides when it hears of it.
  let refreshing: Promise<void> | undefined;
  const refreshPositions = (): Promise<void> => {
    // The last refresh is still running: this tick shares it.
    refreshing ??= refresh().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };
  const refresh = async () => {
    const byQueue = new Map<string, OpenWatch[]>();
    for (const w of open) {
      if (!w.queued || w.position === undefined || w.deriving) continue;
      const list = byQueue.get(w.ref.queue);
      if (list) list.push(w);
      else byQueue.set(w.ref.queue, [w]);
    }
    await Promise.all(
      [...byQueue].map(async ([queue, list]) => {
        const now = Date.now();
        // What get() answers may have been cached this long before now...
        let takenAfter = now - SNAPSHOT_MAX_AGE_MS;
        if (takenAfter <= events.lastDisconnectAt) {
          // ...which could be before the link went down: it would prove nothing.
          queueInfo.invalidate(queue);
          takenAfter = now;
        }
        let snap: QueueSnapshot;
        try {
          snap = await queueInfo.get(queue);
        } catch {
          return; // the next tick tries again
        }
        applySnapshot(snap, list, takenAfter);
      }),
    );
    if (due.size > 0) pump();
  };

  /** Positions of list (QUEUED watches of one queue) from snap, in one pass. */
  const applySnapshot = (snap: QueueSnapshot, list: OpenWatch[], takenAfter: number) => {
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
      if (!open.has(w) || !w.queued || w.deriving) continue;
      // A snapshot older than the job says nothing about it: the next one will.
      if (seq > snap.lastSeq) continue;
      if (seq <= D || deleted[d] === seq) {
        // Delivered, or gone from the stream (cancelled, settled): let a
        // derivation say what it is now.
        w.provenAt = 0;
        w.inDoubt = true;
        w.latest = w.position;
        due.add(w);
        continue;
      }
      w.provenAt = takenAfter;
      w.latest = seq - D - 1 - deletedAhead;
      if (w.latest !== w.position) positions.due(w);
    }
  };

  return {
    watch: (ref, options, seed) => watch(ref, options, seed),
    rederive(which) {
      if (which === "all") {
        // Positions first: a fresh snapshot proves the QUEUED watches, which
        // then need no request (after a reconnect too: 10,000 QUEUED watches
        // cost one snapshot, not 20,000 requests).
        const markAll = () => {
          for (const w of open) due.add(w);
          perSlot = Math.max(MIN_PER_SLOT, Math.ceil(due.size / (SPREAD_MS / SLOT_MS)));
          pump();
        };
        refreshPositions().then(markAll, markAll);
      } else refreshPositions().catch(() => undefined);
    },
    closeAll(err) {
      positions.close();
      for (const w of open) w.fail(err);
    },
    get open() {
      return open.size;
    },
    get derivations() {
      return derivations;
    },
    get positionsSent() {
      return positions.sent;
    },
  };
}
