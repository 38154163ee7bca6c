/**
 * watch(): the current status at once, then one status per change, pushed by
 * the engine as it happens (no polling), ending after a terminal status.
 * State changes go out at once; a QUEUED job's position that moved goes
 * through the engine's position pacer (../position-pacer.ts has the rule).
 */
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import { unavailable } from "../errors.js";
import type { PacedWatch, PositionPacer } from "../position-pacer.js";
import { snapshot, type ChangeKind, type JobRecord, type JobWatcher } from "./job-record.js";

export interface WatchHost {
  /** Resolves the id (throws NOT_FOUND & co.), checked when iteration starts. */
  lookup(): JobRecord;
  /** Engine-wide registry, so close() can end every watch. */
  readonly open: Set<JobWatcher>;
  /** Paces position-only updates across all watches of the engine. */
  readonly pacer: PositionPacer;
  isClosed(): boolean;
}

export async function* watchJob(host: WatchHost, options: WatchOptions): AsyncGenerator<JobStatus, void, undefined> {
  if (host.isClosed()) throw unavailable("engine closed: cannot watch jobs");
  const job = host.lookup();
  const includeLogs = options.includeLogs ?? false;
  const signal = options.signal;
  if (signal?.aborted) return;

  // Snapshots are taken when the change happens, so each one shows exactly
  // that change even if the consumer reads them later.
  const pending: JobStatus[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  // What the consumer was last given: a change that changes nothing it can
  // see (a log line without includeLogs, a line move that kept the position)
  // is not a change.
  let lastKey = "";
  const push = (): boolean => {
    const next = snapshot(job, includeLogs);
    const key = keyOf(next);
    if (key === lastKey) return false;
    lastKey = key;
    pending.push(next);
    poke();
    return true;
  };
  // A job's kept lines stop growing in number at the bound: count lines written instead.
  const keyOf = (s: JobStatus) => (includeLogs ? `${statusKey(s)}|${job.logsWritten ?? 0}` : statusKey(s));
  const watcher: JobWatcher & PacedWatch = {
    includeLogs,
    changed(kind) {
      if (kind === "log" && !includeLogs) return;
      if (kind === "position") {
        // Advisory: paced, never ahead of a state change (which carries it anyway).
        if (job.state === "QUEUED") host.pacer.due(watcher);
        return;
      }
      push();
    },
    flushPosition() {
      if (closed || job.state !== "QUEUED") return false;
      return push();
    },
    closed() {
      closed = true;
      poke();
    },
  };

  (job.watchers ??= new Set()).add(watcher);
  job.queue.watched.add(job);
  host.open.add(watcher);
  signal?.addEventListener("abort", poke);
  try {
    const first = snapshot(job, includeLogs);
    lastKey = keyOf(first);
    yield first;
    if (isTerminal(first.state)) return;
    for (;;) {
      const next = pending.shift();
      if (next) {
        yield next;
        if (isTerminal(next.state)) return;
        continue;
      }
      if (signal?.aborted) return;
      if (closed) throw unavailable("engine closed while watching the job; watch again to resume");
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal?.removeEventListener("abort", poke);
    host.pacer.remove(watcher);
    job.watchers?.delete(watcher);
    if (job.watchers?.size === 0) {
      job.watchers = undefined;
      job.queue.watched.delete(job);
    }
    host.open.delete(watcher);
  }
}

function statusKey(s: JobStatus): string {
  return [
    s.state,
    s.attempt,
    s.progress,
    s.queuePosition ?? "",
    s.startedAt ?? "",
    s.finishedAt ?? "",
    s.error ? `${s.error.code}\u0000${s.error.message}` : "",
    s.logs?.length ?? "",
  ].join("|");
}

export function notifyWatchers(job: JobRecord, kind: ChangeKind): void {
  if (!job.watchers) return;
  for (const watcher of job.watchers) watcher.changed(kind);
}
