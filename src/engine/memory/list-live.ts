/**
 * ListJobs of the embedded driver for jobs not finished, highest priority
 * first (../core/priority.ts): QUEUED in the order they run (then submit
 * order), RUNNING newest first. Both walk the queue's live jobs only, so
 * finished jobs cost nothing here. The position is [priority, line] for
 * QUEUED (its place in line, ./retry.ts), [priority, seq] for RUNNING.
 */
import { invalidArgument } from "../errors.js";
import { DEFAULT_PRIORITY } from "../job-id.js";
import type { ListPage, ListQuery } from "../driver/types.js";
import { snapshot, type JobRecord, type QueueState } from "./job-record.js";

function positionOf(query: ListQuery): [number, number] | undefined {
  if (!query.after) return undefined;
  // One number: a position made before levels were listed, the default level's.
  if (query.after.length === 1) return [DEFAULT_PRIORITY, query.after[0]!];
  if (query.after.length !== 2) throw invalidArgument("cursor: not a next_cursor of this list");
  return [query.after[0]!, query.after[1]!];
}

export function liveJobsPage(q: QueueState, query: ListQuery): ListPage {
  const after = positionOf(query);
  const up = query.state === "QUEUED";
  // QUEUED by place in line (a retried or due delayed job joins its level's end), RUNNING by seq.
  const key = (job: JobRecord) => (up ? job.line : job.seq);
  // Higher priority first; in a level, QUEUED in the order they run, RUNNING newest first.
  const order = (a: JobRecord, b: JobRecord) => b.priority - a.priority || (up ? key(a) - key(b) : key(b) - key(a));
  const past = (job: JobRecord) =>
    after === undefined ||
    job.priority < after[0] ||
    (job.priority === after[0] && (up ? key(job) > after[1] : key(job) < after[1]));
  const picked: JobRecord[] = [];
  for (const job of q.live.values()) {
    if (job.state === query.state && (query.tenant === undefined || job.tenant === query.tenant) && past(job)) {
      picked.push(job);
    }
  }
  picked.sort(order);
  const more = picked.length > query.limit;
  const page = picked.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    jobs: page.map((job) => snapshot(job)),
    ...(more && last ? { next: [last.priority, key(last)] } : {}),
  };
}
