/**
 * StreamStatus watches: each registers with the event hub before deriving
 * the first status (so nothing published meanwhile is missed), yields the
 * current status, then each change once and in order, and ends after a
 * terminal one. Core events can be lost, so open watches are re-derived
 * after a reconnect and periodically (QUEUED ones more often: their position
 * moves without any event).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import type { EventHub, JobEvent } from "./events.js";
import type { JobRef, StateDeriver } from "./state.js";

export interface Watches {
  watch(ref: JobRef, options: WatchOptions): AsyncIterable<JobStatus>;
  /**
   * "all": re-derive every open watch (lost events); "positions": refresh
   * the position of QUEUED watches from the shared queue snapshot.
   */
  rederive(which: "all" | "positions"): void;
  /** Ends every open watch with err. */
  closeAll(err: Error): void;
  readonly open: number;
}

interface OpenWatch {
  queued: boolean;
  rederive(kind: "rederive" | "position"): void;
  fail(err: Error): void;
}

type Item = JobEvent | { type: "rederive" } | { type: "position" };

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

const same = (a: JobStatus, b: JobStatus) => JSON.stringify(a) === JSON.stringify(b);

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
      queued: true,
      rederive: (kind) => {
        if (inbox.some((i) => i.type === kind)) return;
        inbox.push({ type: kind });
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
      inbox.push(ev);
      poke();
    });
    open.add(entry);
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const derive = async (current: JobStatus): Promise<JobStatus | undefined> => {
      let next: JobStatus;
      try {
        next = await deriver.status(ref, { ...options, includeLogs: false });
      } catch (err) {
        // A transient failure of the safety net is not the watch's end.
        if (err instanceof ConnectError && err.code === Code.Unavailable) return undefined;
        throw err;
      }
      if (includeLogs) next.logs = current.logs ?? [];
      // A snapshot older than the events we already applied must not move us back.
      if (next.state === "QUEUED" && current.state === "RUNNING" && next.attempt < current.attempt) return undefined;
      // Events know more about a running job than a derivation can.
      if (next.state === "RUNNING" && current.state === "RUNNING") return undefined;
      return next;
    };

    /** The status after item, or undefined when item changes nothing. */
    const step = async (current: JobStatus, item: Item): Promise<JobStatus | undefined> => {
      if (item.type === "rederive") return derive(current);
      if (item.type === "position") {
        if (current.state !== "QUEUED" || current.queuePosition === undefined) return undefined;
        let position: number | undefined;
        try {
          position = await deriver.position(ref);
        } catch {
          return undefined; // the next tick tries again
        }
        // Delivered meanwhile: let the derivation say what it is now.
        if (position === undefined) return derive(current);
        return { ...current, queuePosition: position };
      }
      return applyEvent(current, item, includeLogs);
    };

    try {
      if (aborted) return;
      let current = await deriver.status(ref, options);
      entry.queued = current.state === "QUEUED";
      yield structuredClone(current);
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
        if (!same(current, next)) {
          current = next;
          yield structuredClone(current);
        }
      }
    } finally {
      off();
      open.delete(entry);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  return {
    watch: (ref, options) => watch(ref, options),
    rederive(which) {
      for (const w of open) {
        if (which === "all") w.rederive("rederive");
        else if (w.queued) w.rederive("position");
      }
    },
    closeAll(err) {
      for (const w of open) w.fail(err);
    },
    get open() {
      return open.size;
    },
  };
}
