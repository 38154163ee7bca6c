/**
 * watch(): the current status at once, then one status per change, pushed by
 * the engine as it happens (no polling), ending after a terminal status.
 */
import { isTerminal, type JobStatus, type WatchOptions } from "../types.js";
import { unavailable } from "../errors.js";
import { snapshot, type JobRecord, type JobWatcher } from "./job-record.js";

export interface WatchHost {
  /** Resolves the id (throws NOT_FOUND & co.), checked when iteration starts. */
  lookup(): JobRecord;
  /** Engine-wide registry, so close() can end every watch. */
  readonly open: Set<JobWatcher>;
  isClosed(): boolean;
}

export async function* watchJob(
  host: WatchHost,
  options: WatchOptions,
): AsyncGenerator<JobStatus, void, undefined> {
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
  const watcher: JobWatcher = {
    includeLogs,
    changed(kind) {
      if (kind === "log" && !includeLogs) return;
      pending.push(snapshot(job, includeLogs));
      poke();
    },
    closed() {
      closed = true;
      poke();
    },
  };

  (job.watchers ??= new Set()).add(watcher);
  host.open.add(watcher);
  signal?.addEventListener("abort", poke);
  try {
    const first = snapshot(job, includeLogs);
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
    job.watchers?.delete(watcher);
    host.open.delete(watcher);
  }
}

export function notifyWatchers(job: JobRecord, kind: "status" | "log"): void {
  if (!job.watchers) return;
  for (const watcher of job.watchers) watcher.changed(kind);
}
