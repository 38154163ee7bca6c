/**
 * Delayed jobs of the embedded driver: a job with options.runAt waits in
 * phase "scheduled" (not in line, not counted as waiting) until its time,
 * then joins the end of its queue's line as a job submitted at that moment
 * would. One timer for all of them (timer-heap.ts).
 */
import { parseJobId } from "../job-id.js";
import type { MemoryDeliveries } from "./deliveries.js";
import type { JobRecord } from "./job-record.js";
import type { MemoryStore } from "./store.js";
import { createTimerHeap, type TimerHeap } from "./timer-heap.js";
import { notifyWatchers } from "./watch.js";

export class MemorySchedule {
  private readonly due: TimerHeap<string>;

  constructor(
    private readonly store: MemoryStore,
    private readonly deliveries: MemoryDeliveries,
  ) {
    // By id, as the start deadlines: a job cancelled long before its time is not kept by the heap.
    this.due = createTimerHeap<string>((id) => {
      const parts = parseJobId(id);
      const job = this.store.queues.get(parts.queue)?.jobs.get(parts.seq);
      if (job?.id === id && job.phase === "scheduled") this.makeDue(job);
    });
  }

  /** Holds a new job until its runAt; false when it has none (it joins the line now). */
  hold(job: JobRecord): boolean {
    const at = job.options.runAt;
    if (at === undefined) return false;
    job.phase = "scheduled";
    job.scheduledAt = at;
    job.queue.scheduled.add(job);
    this.due.add(at, job.id);
    return true;
  }

  /** The job's time came: to the end of the line, as a job submitted now. */
  private makeDue(job: JobRecord): void {
    const q = job.queue;
    this.store.leavePhase(job);
    job.line = q.nextSeq++;
    q.live.set(job.line, job);
    this.store.makeReady(job);
    notifyWatchers(job, "status");
    this.deliveries.serveWaiters(q);
  }

  clear(): void {
    this.due.clear();
  }
}
