/**
 * A lease call that fails UNAVAILABLE (NATS restarting, a cluster electing a
 * leader) is retried, under heartbeats, from a short pause doubling to a cap,
 * for at most the patience: giving up on complete() would have the job
 * redelivered and run again (or count as a lost lease though it succeeded).
 */
import { isEngineError } from "../engine/errors.js";
import type { JobLog } from "./job-log.js";
import { pause } from "./pause.js";

export interface RetryPolicy {
  /** First pause after an UNAVAILABLE; it doubles up to maxMs. */
  minMs: number;
  maxMs: number;
  /** No retry starts later than this after the first try. */
  patienceMs: number;
}

export const LEASE_RETRY: RetryPolicy = { minMs: 100, maxMs: 1_000, patienceMs: 5 * 60_000 };

export const isUnreachable = (err: unknown) => isEngineError(err, "unavailable");

export interface LeaseRetryOptions {
  log: JobLog;
  policy: RetryPolicy;
  /** Aborted when stop()'s grace ran out: no more retries. */
  giveUp: AbortSignal;
  /** The call failed UNAVAILABLE and will be retried (the job holds the pulls). */
  onOutage(): void;
  /** The call went through. */
  onReached(): void;
}

/**
 * Runs a lease call, retrying it while the engine answers UNAVAILABLE, until
 * the patience runs out or `giveUp` aborts; then the last error is thrown.
 * Any other error is thrown at once.
 */
export async function whileUnreachable<T>(what: string, call: () => Promise<T>, o: LeaseRetryOptions): Promise<T> {
  const giveUpAt = Date.now() + o.policy.patienceMs;
  let pauseMs = o.policy.minMs;
  for (let tries = 1; ; tries++) {
    try {
      const out = await call();
      if (tries > 1) o.log.info({ tries }, `${what} went through once the engine was reachable again`);
      o.onReached();
      return out;
    } catch (err) {
      if (!isUnreachable(err) || o.giveUp.aborted || Date.now() + pauseMs > giveUpAt) throw err;
      if (tries === 1) o.log.warn({ err }, `${what} failed: engine unreachable; retrying until it is back`);
      o.onOutage();
      // Unref'd: a retry never holds a process open on its own.
      await pause(pauseMs, o.giveUp, { unref: true });
      pauseMs = Math.min(o.policy.maxMs, pauseMs * 2);
    }
  }
}
