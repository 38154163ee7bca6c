/**
 * StreamStatus watches: each registers with the event hub before deriving
 * the first status (so nothing published meanwhile is missed), yields the
 * current status, then each change once and in order, and ends after a
 * terminal one. Core events can be lost, so open watches are re-derived
 * after a reconnect and periodically: paced over SPREAD_MS with a bound on
 * requests in flight, skipping watches that live events reach anyway. QUEUED
 * positions move without any event: they are read from the shared per-queue
 * snapshot (one refresh per queue per tick) and sent only when they changed.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import type { EventHub, JobEvent } from "./events.js";
import type { JobRef, StateDeriver } from "./state.js";

export interface Watches {
  watch(ref: JobRef, options: WatchOptions): AsyncIterable<JobStatus>;
  /**
   * "all": re-derive every open watch (lost events), paced and bounded;
   * "positions": refresh the position of QUEUED watches from the shared
   * queue snapshot.
   */
  rederive(which: "all" | "positions"): void;
  /** Ends every open watch with err. */
  closeAll(err: Error): void;
  readonly open: number;
}

interface OpenWatch {
  ref: JobRef;
  queued: boolean;
  /** queuePosition last yielded (undefined when not QUEUED). */
  position: number | undefined;
  /** When a live event for this job last arrived. */
  lastEventAt: number;
  /** A safety-net derivation is waiting in the inbox or running. */
  deriving: boolean;
  /** Queues a derivation made now; resolves when it settled (not when the watch applied it). */
  derive(): Promise<void>;
  position_(position: number): void;
  fail(err: Error): void;
}

/** A derivation started when the item was queued: later items are newer than it. */
type Item = JobEvent | { type: "derived"; result: Promise<JobStatus | undefined> } | { type: "position"; position: number };

/** Safety-net derivations of all watches are spread over this long... */
const SPREAD_MS = 8_000;
const SLOT_MS = 100;
/** ...with at most this many in flight (2 NATS requests each)... */
const MAX_IN_FLIGHT = 32;
/** ...and at least this many started per slot, so a few watches are done at once. */
const MIN_PER_SLOT = 16;
/** A watch that got a live event this recently (and since the link was last down) is fresh enough. */
const RECENT_MS = 5_000;

export function applyEvent(current: JobStatus, ev: JobEvent, includeLogs: boolean): JobStatus {
  switch (ev.type) {
    case "progress":
      return { ...current, progress: ev.progress };
    case "log":
      if (!includeLogs) return current;
      if (current.logs?.some((l) => l.timestamp === ev.entry.timestamp && l.message === ev.entry.message)) {
        return current;
      }
      return { ...current, logs: [...(current.logs ?? []), ev.entry] };
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

/** Whether a client would see a difference (logs only grow, by appending). */
const same = (a: JobStatus, b: JobStatus) =>
  a.state === b.state &&
  a.queuePosition === b.queuePosition &&
  a.attempt === b.attempt &&
  a.progress === b.progress &&
  a.startedAt === b.startedAt &&
  a.finishedAt === b.finishedAt &&
  a.error?.code === b.error?.code &&
  a.error?.message === b.error?.message &&
  a.logs?.length === b.logs?.length;

export function createWatches(events: EventHub, deriver: StateDeriver): Watches {
  const open = new Set<OpenWatch>();

  async function* watch(ref: JobRef, options: WatchOptions): AsyncGenerator<JobStatus> {
    const includeLogs = options.includeLogs === true;
    const inbox: Item[] = [];
    let wake: (() => void) | undefined;
    let failure: Error | undefined;
    let aborted = options.signal?.aborted === true;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const entry: OpenWatch = {
      ref,
      queued: false,
      position: undefined,
      lastEventAt: 0,
      deriving: false,
      derive: () => {
        entry.deriving = true;
        const result = fetchStatus();
        inbox.push({ type: "derived", result });
        poke();
        return result.then(
          () => undefined,
          () => undefined,
        );
      },
      position_: (position) => {
        // At most one pending position update: a newer tick replaces it.
        const pending = inbox.find((i): i is Extract<Item, { type: "position" }> => i.type === "position");
        if (pending) pending.position = position;
        else inbox.push({ type: "position", position });
        poke();
      },
      fail: (err) => {
        failure = err;
        poke();
      },
    };
    const onAbort = () => {
      aborted = true;
      poke();
    };
    // Listen first: an event published while we derive is queued, not lost.
    const off = events.listen(ref.id, (ev) => {
      entry.lastEventAt = Date.now();
      inbox.push(ev);
      poke();
    });
    open.add(entry);
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const fetchStatus = async (): Promise<JobStatus | undefined> => {
      try {
        return await deriver.status(ref, { ...options, includeLogs: false });
      } catch (err) {
        // A transient failure of the safety net is not the watch's end.
        if (err instanceof ConnectError && err.code === Code.Unavailable) return undefined;
        throw err;
      }
    };
    const settle = (current: JobStatus, derived: JobStatus | undefined): JobStatus | undefined => {
      if (derived === undefined) return undefined;
      const next = derived;
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
          return settle(current, await item.result);
        } finally {
          if (!inbox.some((i) => i.type === "derived")) entry.deriving = false;
        }
      }
      if (item.type === "position") {
        if (current.state !== "QUEUED" || current.queuePosition === undefined) return undefined;
        return { ...current, queuePosition: item.position };
      }
      return applyEvent(current, item, includeLogs);
    };

    try {
      if (aborted) return;
      let current = await deriver.status(ref, options);
      entry.queued = current.state === "QUEUED";
      entry.position = current.queuePosition;
      yield { ...current };
      while (!isTerminal(current.state)) {
        while (inbox.length === 0 && !failure && !aborted) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
        if (failure) throw failure;
        if (aborted) return;
        const item = inbox.shift()!;
        const next = await step(current, item);
        if (next === undefined) continue;
        if (failure) throw failure;
        if (aborted) return;
        entry.queued = next.state === "QUEUED";
        entry.position = next.queuePosition;
        if (!same(current, next)) {
          current = next;
          yield { ...current };
        }
      }
    } finally {
      off();
      open.delete(entry);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  // The safety net: "all" marks every open watch due; a pacer starts their
  // derivations a slice per slot (spread over SPREAD_MS, never more than
  // MAX_IN_FLIGHT at once), so 10,000 watches do not fire 20,000 requests
  // in one tick and starve everything else of the connection.
  const due = new Set<OpenWatch>();
  let perSlot = MIN_PER_SLOT;
  let inFlight = 0;
  let pacer: ReturnType<typeof setInterval> | undefined;

  const pump = () => {
    let started = 0;
    const now = Date.now();
    const freshSince = Math.max(now - RECENT_MS, events.lastDisconnectAt + 1);
    for (const w of due) {
      if (started >= perSlot || inFlight >= MAX_IN_FLIGHT) break;
      due.delete(w);
      if (!open.has(w) || w.deriving) continue;
      // Live events reach it, and since the link was last down: it is current enough.
      if (w.lastEventAt >= freshSince) continue;
      started++;
      inFlight++;
      void w.derive().finally(() => {
        inFlight--;
      });
    }
    if (due.size > 0 && !pacer) {
      pacer = setInterval(pump, SLOT_MS);
      pacer.unref();
    } else if (due.size === 0 && pacer) {
      clearInterval(pacer);
      pacer = undefined;
    }
  };

  // Positions come from the shared per-queue snapshot: one refresh per queue
  // per tick whatever the number of watches, and a watch hears only of a
  // position that changed.
  let refreshing = false;
  const refreshPositions = async () => {
    if (refreshing) return; // the last tick's refresh is still running: skip this one
    refreshing = true;
    try {
      const byQueue = new Map<string, OpenWatch[]>();
      for (const w of open) {
        if (!w.queued || w.position === undefined || w.deriving) continue;
        const list = byQueue.get(w.ref.queue);
        if (list) list.push(w);
        else byQueue.set(w.ref.queue, [w]);
      }
      await Promise.all(
        [...byQueue.values()].map(async (list) => {
          // The first call refreshes the queue's snapshot; the rest read it from
          // the cache (deriver.position makes no per-job call).
          const positions: (number | undefined)[] = [];
          try {
            positions.push(await deriver.position(list[0]!.ref));
            const rest = await Promise.all(list.slice(1).map((w) => deriver.position(w.ref)));
            positions.push(...rest);
          } catch {
            return; // the next tick tries again
          }
          list.forEach((w, i) => {
            if (!open.has(w) || !w.queued) return;
            const position = positions[i];
            if (position !== undefined) {
              if (position !== w.position) w.position_(position);
            } else if (!w.deriving) {
              // Delivered meanwhile: let a derivation say what it is now.
              due.add(w);
            }
          });
        }),
      );
      if (due.size > 0) pump();
    } finally {
      refreshing = false;
    }
  };

  return {
    watch: (ref, options) => watch(ref, options),
    rederive(which) {
      if (which === "all") {
        for (const w of open) due.add(w);
        perSlot = Math.max(MIN_PER_SLOT, Math.ceil(due.size / (SPREAD_MS / SLOT_MS)));
        pump();
      } else void refreshPositions();
    },
    closeAll(err) {
      for (const w of open) w.fail(err);
    },
    get open() {
      return open.size;
    },
  };
}
