/**
 * ListJobs of the embedded driver for jobs not finished: QUEUED in queue
 * order (submit order), RUNNING newest first. Both walk the queue's live
 * jobs only, so finished jobs cost nothing here.
 */
import { invalidArgument } from "../errors.js";
import type { ListPage, ListQuery } from "../driver/types.js";
import { snapshot, type JobRecord, type QueueState } from "./job-record.js";

function positionOf(query: ListQuery): number | undefined {
  if (!query.after) return undefined;
  if (query.after.length !== 1) throw invalidArgument("cursor: not a next_cursor of this list");
  return query.after[0];
}

export function liveJobsPage(q: QueueState, query: ListQuery): ListPage {
  const after = positionOf(query);
  const wanted = (job: JobRecord) =>
    job.state === query.state && (query.tenant === undefined || job.tenant === query.tenant);
  const picked: JobRecord[] = [];
  if (query.state === "QUEUED") {
    // live is in line order (a retried or due delayed job joins at the end): the order jobs are handed out.
    for (const job of q.live.values()) {
      if ((after === undefined || job.line > after) && wanted(job)) picked.push(job);
      if (picked.length > query.limit) break;
    }
  } else {
    for (const job of q.live.values()) if ((after === undefined || job.seq < after) && wanted(job)) picked.push(job);
    picked.sort((a, b) => b.seq - a.seq);
  }
  const more = picked.length > query.limit;
  const page = picked.slice(0, query.limit);
  return {
    jobs: page.map((job) => snapshot(job)),
    ...(more ? { next: [query.state === "QUEUED" ? page[page.length - 1]!.line : page[page.length - 1]!.seq] } : {}),
  };
}
