/**
 * client.watchJobs(): many jobs over one WatchJobs stream, resumed across
 * broken streams as follow.ts resumes one job's. For ids, a new stream
 * names only the jobs not yet seen terminal and starts with their current
 * status, so no job's end is missed; a status already given is not given
 * again. For a queue the server sends changes from the moment the stream
 * opens: the changes of a gap between two streams are not sent (list the
 * queue with listJobs to catch up).
 */
import { jobFromProto } from "./convert.js";
import { toJetqError } from "./errors.js";
import { isTerminalProto, statusKey } from "./follow.js";
import type { Job as ProtoJob } from "./gen/jetq/v1/queue_pb.js";
import { callOptions, retryDelayMs, type Rpc } from "./rpc.js";
import { backoffMs, openScope, sleep, type ScopeOptions } from "./scope.js";
import type { Job } from "./types.js";

export type WatchJobsOptions = ScopeOptions & {
  /** Include each job's log lines (all of them so far, in every status). */
  logs?: boolean;
} & ({ ids: string[]; queue?: undefined } | { queue: string; ids?: undefined });

/** Per job: what was last given, and the lines so far (the server sends new lines only). */
interface Seen {
  key: string;
  lines: ProtoJob["logs"];
}

export async function* watchJobs(rpc: Rpc, opts: WatchJobsOptions): AsyncGenerator<Job, void> {
  const byId = opts.ids !== undefined;
  if (byId === (opts.queue !== undefined)) throw new TypeError("watchJobs: name exactly one of ids and queue");
  // Ids still to follow: the terminal ones leave it; empty means done.
  const open = new Set(opts.ids ?? []);
  const seen = new Map<string, Seen>();
  const scope = openScope("watchJobs", opts);
  try {
    let failures = 0;
    for (;;) {
      const request = byId
        ? { ids: [...open], includeLogs: opts.logs ?? false }
        : { queue: opts.queue!, includeLogs: opts.logs ?? false };
      let delay: number;
      try {
        // A job's first message on a stream carries all its lines so far, later ones only new lines.
        const onStream = new Set<string>();
        for await (const status of rpc.client.watchJobs(request, callOptions(rpc, scope))) {
          failures = 0;
          const job = given(seen, status, !onStream.has(status.id));
          onStream.add(status.id);
          if (isTerminalProto(status)) {
            open.delete(status.id);
            seen.delete(status.id);
            onStream.delete(status.id);
          }
          if (job) yield job;
        }
        // Ids: the server ends the stream once all are terminal. Else it was cut.
        if (byId && open.size === 0) return;
        delay = backoffMs(++failures);
      } catch (err) {
        if (scope.signal.aborted) throw scope.error(undefined);
        const cause = toJetqError(err);
        const wait = retryDelayMs(cause, ++failures);
        if (wait === undefined) throw cause;
        delay = wait;
      }
      await sleep(delay, scope.signal).catch(() => {
        throw scope.error(undefined);
      });
    }
  } finally {
    scope.dispose();
  }
}

/**
 * The status as the caller gets it (all lines so far), or undefined when
 * it repeats the last one given. `first`: the first message of this job on
 * this stream, whose lines are all its lines.
 */
function given(seen: Map<string, Seen>, status: ProtoJob, first: boolean): Job | undefined {
  const before = seen.get(status.id);
  const lines = first || !before ? status.logs : [...before.lines, ...status.logs];
  status.logs = lines;
  const key = statusKey(status);
  if (before?.key === key) return undefined;
  seen.set(status.id, { key, lines });
  return jobFromProto(status);
}
