/**
 * The worker's stop: drain (no new pulls; the one in flight may end on its
 * own, as an abandoned JetStream pull can still be handed a job nobody
 * takes), let running jobs finish within the grace, then abort their signals
 * and hand them back to their queues with release().
 */
import type { Logger } from "pino";
import { abortJob } from "./active-job.js";
import { activeJobs, type QueueRuntime } from "./queue-runtime.js";

export const DEFAULT_GRACE_MS = 10_000;
/** How long handlers whose signal aborted get to return before stop() gives up on them. */
const ABORTED_HANDLER_WAIT_MS = 1_000;

export interface WorkerStopState {
  queues: QueueRuntime[];
  logger: Logger;
  draining: AbortController;
  cutPulls: AbortController;
  graceOver: AbortController;
  /** The pull loops, ended by draining. */
  loops: Promise<void>[];
  handingBack: Set<Promise<void>>;
}

export async function stopWorker(s: WorkerStopState, graceMs = DEFAULT_GRACE_MS): Promise<void> {
  const t0 = performance.now();
  s.draining.abort();
  // Pulls are cut only when the grace runs out.
  if (graceMs <= 0) s.cutPulls.abort();
  const cut = setTimeout(() => s.cutPulls.abort(), graceMs);
  await Promise.all(s.loops);
  clearTimeout(cut);
  s.cutPulls.abort();
  await Promise.all(s.handingBack);
  const left = Math.max(0, graceMs - (performance.now() - t0));
  if (!(await allDone(s.queues, left))) {
    s.graceOver.abort();
    await releaseAll(s.queues, s.logger);
    // Handlers that honour their signal return within moments; give them
    // those, so a stopped worker holds nothing, but never hang on one that
    // does not.
    if (!(await allDone(s.queues, ABORTED_HANDLER_WAIT_MS))) {
      s.logger.warn({ running: activeJobs(s.queues).length }, "handlers still running after their signal aborted");
    }
  }
  s.logger.info("worker stopped");
}

/** True when every held job is done within ms. */
async function allDone(queues: QueueRuntime[], ms: number): Promise<boolean> {
  const all = Promise.all(activeJobs(queues).map((j) => j.done));
  let timer: NodeJS.Timeout | undefined;
  const over = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = await Promise.race([all.then(() => true as const), over]);
  clearTimeout(timer);
  return done;
}

/** Aborts every job still held and hands back those not settled yet. */
async function releaseAll(queues: QueueRuntime[], logger: Logger): Promise<void> {
  await Promise.all(
    activeJobs(queues).map(async (job) => {
      abortJob(job, "shutdown");
      if (job.settled) return;
      job.released = true;
      try {
        await job.lease.release();
        logger.info({ job: job.lease.id }, "job handed back to its queue at shutdown");
      } catch (err) {
        logger.warn(
          { err, job: job.lease.id },
          "release at shutdown failed; the job is redelivered after its ack wait",
        );
      }
    }),
  );
}
