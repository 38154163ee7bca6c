/**
 * Per queue, a loop that pulls exactly as many jobs as it has free slots and
 * hands each to the executor (run-job.ts). It waits while the slots are full
 * and while a job holds the pulls after an outage (pull-hold.ts).
 */
import type { Logger } from "pino";
import type { Engine, JobLease } from "../engine/types.js";
import { newActiveJob } from "./active-job.js";
import type { JobRuntime } from "./job-scope.js";
import { pause } from "./pause.js";
import type { QueueRuntime } from "./queue-runtime.js";
import { runJob } from "./run-job.js";

/** Pause after a failed pull, so an unreachable engine is not hammered. */
const FETCH_ERROR_PAUSE_MS = 1_000;
/** A pull that comes back empty this fast means the engine is not waiting (closed?): pause. */
const FAST_EMPTY_MS = 20;
const FAST_EMPTY_PAUSE_MS = 200;

export interface PullLoopOptions {
  engine: Engine;
  logger: Logger;
  /** How long one pull waits for jobs. */
  fetchExpiresMs: number;
  /** stop() began: no new pulls; a lease that still arrives goes back. */
  draining: AbortSignal;
  /** Ends a pull in flight (stop()'s grace ran out). */
  cutPulls: AbortSignal;
  /** Leases handed straight back; stop() waits for them before the engine may close. */
  handingBack: Set<Promise<void>>;
  runtime: JobRuntime;
}

export async function pullLoop(q: QueueRuntime, o: PullLoopOptions): Promise<void> {
  while (!o.draining.aborted) {
    const free = q.concurrency - q.active.size;
    if (free <= 0) {
      await freeSlot(q, o.draining);
      continue;
    }
    if (o.runtime.hold.holding) {
      await o.runtime.hold.cleared(o.draining);
      continue;
    }
    let leases: JobLease[];
    const t0 = performance.now();
    try {
      leases = await o.engine.fetch(q.name, { max: free, expiresMs: o.fetchExpiresMs, signal: o.cutPulls });
    } catch (err) {
      if (o.draining.aborted) break;
      o.logger.warn({ err, queue: q.name }, "pulling jobs failed; retrying");
      await pause(FETCH_ERROR_PAUSE_MS, o.draining);
      continue;
    }
    for (const [i, lease] of leases.entries()) {
      // Defensive: a lease beyond our free slots, or one that arrived as we
      // began to stop, goes straight back to the queue.
      if (o.draining.aborted || i >= free) handBack(lease, o);
      else handOut(q, lease, o);
    }
    if (leases.length === 0 && performance.now() - t0 < FAST_EMPTY_MS) {
      await pause(FAST_EMPTY_PAUSE_MS, o.draining);
    }
  }
}

/** Resolves when a job of q leaves its slot, or when draining aborts. */
function freeSlot(q: QueueRuntime, draining: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      draining.removeEventListener("abort", done);
      q.wake = undefined;
      resolve();
    };
    q.wake = done;
    draining.addEventListener("abort", done, { once: true });
  });
}

/** Takes a slot and runs the job; the slot frees when it is settled and its handler returned. */
function handOut(q: QueueRuntime, lease: JobLease, o: PullLoopOptions): void {
  const job = newActiveJob(lease);
  q.active.add(job);
  job.done = runJob(job, q.handler, o.runtime)
    .catch((err: unknown) => o.logger.error({ err, job: lease.id }, "job runtime error"))
    .finally(() => {
      q.active.delete(job);
      q.wake?.();
    });
}

function handBack(lease: JobLease, o: PullLoopOptions): void {
  const back = lease
    .release()
    .catch((err: unknown) => o.logger.warn({ err, job: lease.id }, "release failed"))
    .finally(() => o.handingBack.delete(back));
  o.handingBack.add(back);
}
