/**
 * The retry policy, once for every driver (BullMQ's backoffs.ts is the
 * model): after a failed attempt, either a retry after a jittered
 * exponential backoff or the end of the job.
 */
import { attemptsUsed } from "../lost-leases.js";
import type { JobOptions, QueueConfig } from "../types.js";

/** What the attempts so far are, as the lease knows them (see lost-leases.ts). */
export interface RunCount {
  attempt: number;
  interrupted: number;
  lost: number;
}

export type AfterFailure = { retry: true; delayMs: number } | { retry: false };

/** ±20% around the nominal delay, so jobs failed together do not retry together. */
const JITTER = 0.2;

/**
 * Backoff before retry n (1-based): min(max, base·2^(n−1)), jittered; the
 * job's own options override the queue's base and max.
 */
export function backoffMs(config: QueueConfig, n: number, options: JobOptions = {}, random = Math.random): number {
  const baseMs = options.backoffBaseMs ?? config.backoffBaseMs;
  const maxMs = options.backoffMaxMs ?? config.backoffMaxMs;
  const nominal = Math.min(maxMs, baseMs * 2 ** Math.max(0, n - 1));
  return Math.max(0, Math.round(nominal * (1 - JITTER + random() * 2 * JITTER)));
}

/** Whether a failed attempt is retried, and after how long. */
export function afterFailure(
  run: RunCount,
  retryable: boolean,
  options: JobOptions,
  config: QueueConfig,
  random = Math.random,
): AfterFailure {
  const used = attemptsUsed(run.attempt, run.interrupted, run.lost);
  const maxAttempts = options.maxAttempts ?? config.maxAttempts;
  if (!retryable || used >= maxAttempts) return { retry: false };
  return { retry: true, delayMs: backoffMs(config, used, options, random) };
}
