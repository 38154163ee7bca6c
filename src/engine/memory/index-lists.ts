/**
 * The embedded driver's job index (docs/ARCHITECTURE.md §7): per queue,
 * finished state and tenant (and for all tenants) the jobs in the order they
 * finished, so ListJobs reads a page from the end in O(page); and per queue
 * the finish times of COMPLETED and FAILED jobs of the last hour, for
 * ListQueues. An entry is checked against its job when read (a job run
 * again by Retry leaves its old entry behind), and entries past the
 * retention are dropped as new ones come.
 */
import { invalidArgument } from "../errors.js";
import type { ListPage, ListQuery } from "../driver/types.js";
import type { FinishedCounts, JobState } from "../types.js";
import { snapshot, type JobRecord } from "./job-record.js";

const HOUR_MS = 3_600_000;
/** Entries a page may look at beyond its size (stale ones are skipped). */
const SCAN_FACTOR = 4;

interface Entry {
  readonly job: JobRecord;
  readonly finishedAt: number;
}

/** Entries by ordinal: `base` is the ordinal of entries[head]. */
class FinishedList {
  base = 0;
  head = 0;
  readonly entries: Entry[] = [];

  get end(): number {
    return this.base + this.entries.length - this.head;
  }

  at(ordinal: number): Entry | undefined {
    return this.entries[this.head + ordinal - this.base];
  }

  push(entry: Entry, keepFrom: number): void {
    this.entries.push(entry);
    while (this.head < this.entries.length && this.entries[this.head]!.finishedAt < keepFrom) {
      this.head++;
      this.base++;
    }
    // Compact now and then: the array holds at most twice what is kept.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** Finish times (ascending) of one queue's COMPLETED or FAILED jobs of the last hour. */
class FinishTimes {
  private readonly times: number[] = [];
  private head = 0;

  add(at: number): void {
    this.times.push(at);
    const from = at - HOUR_MS;
    while (this.head < this.times.length && this.times[this.head]! < from) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
  }

  countSince(since: number): number {
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! < since) lo = mid + 1;
      else hi = mid;
    }
    return this.times.length - lo;
  }
}

/** Entries looked at by the pages of every embedded index in this process (a test shows a page's cost). */
export const memoryIndexReads = { entries: 0 };

const ALL = "\u0000*";
const listKey = (queue: string, state: JobState, tenant: string | undefined) =>
  `${queue}\u0000${state}\u0000${tenant === undefined ? ALL : tenant}`;

export class MemoryJobIndex {
  private readonly lists = new Map<string, FinishedList>();
  private readonly finishes = new Map<string, { completed: FinishTimes; failed: FinishTimes }>();

  constructor(private readonly retentionMs: number) {}

  /** The job has just reached a terminal state. */
  finished(job: JobRecord): void {
    const at = job.finishedAt ?? Date.now();
    const entry: Entry = { job, finishedAt: at };
    const keepFrom = at - this.retentionMs;
    for (const tenant of [job.tenant, undefined]) {
      const key = listKey(job.queue.name, job.state, tenant);
      let list = this.lists.get(key);
      if (!list) this.lists.set(key, (list = new FinishedList()));
      list.push(entry, keepFrom);
    }
    if (job.state !== "COMPLETED" && job.state !== "FAILED") return;
    let times = this.finishes.get(job.queue.name);
    if (!times)
      this.finishes.set(job.queue.name, (times = { completed: new FinishTimes(), failed: new FinishTimes() }));
    (job.state === "COMPLETED" ? times.completed : times.failed).add(at);
  }

  counts(queue: string, since: readonly number[]): FinishedCounts[] {
    const times = this.finishes.get(queue);
    return since.map((t) => ({
      completed: times?.completed.countSince(t) ?? 0,
      failed: times?.failed.countSince(t) ?? 0,
    }));
  }

  /** A page of a finished state's list, newest first. */
  page(query: ListQuery, retained: (job: JobRecord) => boolean): ListPage {
    const list = this.lists.get(listKey(query.queue, query.state, query.tenant));
    const end = list?.end ?? 0;
    let from = end;
    if (query.after) {
      const [o, ...rest] = query.after;
      if (rest.length > 0 || o! > end) throw invalidArgument("cursor: not a next_cursor of this list");
      from = o!;
    }
    const jobs = [];
    const floor = list?.base ?? 0;
    let budget = query.limit * SCAN_FACTOR;
    let o = from;
    while (o > floor && jobs.length < query.limit && budget-- > 0) {
      o--;
      memoryIndexReads.entries++;
      const e = list!.at(o)!;
      // A job run again (Retry) or gone past its retention left this entry behind.
      if (e.job.state === query.state && e.job.finishedAt === e.finishedAt && retained(e.job)) {
        jobs.push(snapshot(e.job));
      }
    }
    return o > floor ? { jobs, next: [o] } : { jobs };
  }
}
