/**
 * The pulls' hold after an outage. A job whose begin(), heartbeat or settle
 * met an outage holds the pulls until it is settled: its delivery's ack wait
 * may have run out meanwhile, and the redelivery, fetched here before the
 * job's outcome is written, would count as another attempt and a lost lease
 * (WORKER_LOST at the cap, for a job that completed). Holding only while a
 * call is being retried is not enough: a begin() that goes through after the
 * outage lets the handler run while the redelivery is already due. A long
 * job does not hold them for its whole run: one ack wait after the engine
 * answered it again, the hold ends (its redelivery, if any, is then a lease
 * expiry like any other).
 */
import type { ActiveJob } from "./active-job.js";

export interface PullHold {
  /** True while some job holds the pulls. */
  readonly holding: boolean;
  /** A call of this job met an outage: it holds the pulls until release(). */
  hold(job: ActiveJob): void;
  /** The engine answered this job again: its hold ends one ack wait from now at the latest. */
  reachedAgain(job: ActiveJob): void;
  /** The job is settled (or gone): its hold, if any, ends. */
  release(job: ActiveJob): void;
  /** Resolves once no job holds the pulls, or when `signal` aborts. */
  cleared(signal: AbortSignal): Promise<void>;
}

export function createPullHold(): PullHold {
  /** Holding jobs, with the timer that ends a hold once the engine answered again. */
  const holders = new Map<ActiveJob, ReturnType<typeof setTimeout> | undefined>();
  const waiters: (() => void)[] = [];

  const release = (job: ActiveJob) => {
    if (!holders.has(job)) return;
    clearTimeout(holders.get(job));
    holders.delete(job);
    if (holders.size === 0) for (const wake of waiters.splice(0)) wake();
  };

  return {
    get holding() {
      return holders.size > 0;
    },
    hold(job) {
      if (!holders.has(job)) holders.set(job, undefined);
    },
    reachedAgain(job) {
      if (!holders.has(job) || holders.get(job)) return;
      const timer = setTimeout(() => release(job), job.lease.ackWaitMs);
      timer.unref();
      holders.set(job, timer);
    },
    release,
    cleared(signal) {
      if (holders.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          resolve();
        };
        waiters.push(done);
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };
}
