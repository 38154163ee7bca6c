/**
 * watch(): the current status at once, then one status per change, pushed by
 * the engine as it happens (no polling), ending after a terminal status.
 * State changes go out at once; a QUEUED job's position that moved goes
 * through the engine's position pacer (../position-pacer.ts has the rule).
 * The queue between the engine and the reader, and what counts as a change,
 * are the core's (../core/).
 */
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import { unavailable } from "../errors.js";
import type { PacedWatch, PositionPacer } from "../position-pacer.js";
import { createQueuedIterator } from "../core/queued-iterator.js";
import { sameStatus } from "../core/status-change.js";
import { tellQueueWatchers } from "./queue-watch.js";
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
  if (options.signal?.aborted) return;

  // Snapshots are taken when the change happens, so each one shows exactly
  // that change even if the consumer reads them later.
  const pending = createQueuedIterator<JobStatus>(options.signal);
  let closed = false;
  // What the consumer was last given: a change it cannot see (a log line
  // without includeLogs, a line move that kept the position) is no change.
  let last: JobStatus | undefined;
  const push = (): boolean => {
    const next = snapshot(job, includeLogs);
    if (last && sameStatus(last, next)) return false;
    last = next;
    pending.push(next);
    return true;
  };
  const watcher: JobWatcher & PacedWatch = {
    includeLogs,
    changed(kind: ChangeKind) {
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
      pending.fail(unavailable("engine closed while watching the job; watch again to resume"));
    },
  };

  (job.watchers ??= new Set()).add(watcher);
  job.queue.watched.add(job);
  host.open.add(watcher);
  try {
    // `last` moves on as changes are queued while the reader holds this one.
    const first = snapshot(job, includeLogs);
    last = first;
    yield first;
    if (isTerminal(first.state)) return;
    for (;;) {
      const next = await pending.next();
      if (next === undefined) return;
      yield next;
      if (isTerminal(next.state)) return;
    }
  } finally {
    pending.close();
    host.pacer.remove(watcher);
    job.watchers?.delete(watcher);
    if (job.watchers?.size === 0) {
      job.watchers = undefined;
      job.queue.watched.delete(job);
    }
    host.open.delete(watcher);
  }
}

export function notifyWatchers(job: JobRecord, kind: ChangeKind): void {
  if (kind !== "position") tellQueueWatchers(job);
  if (!job.watchers) return;
  for (const watcher of job.watchers) watcher.changed(kind);
}
