/**
 * When a webhook is tried again and when jetq gives up, once for both
 * engines (their outboxes only keep tasks: ../engine/webhook-outbox.ts).
 * Retry n waits min(10 min, base·2^(n−1)) ±20%, the same backoff as a
 * job's retries; deliveries stop once a retry would fall more than 24 h
 * after the job ended, which is over 150 attempts with the default base.
 */
import { backoffMs } from "../engine/core/retry-policy.js";
import { DEFAULT_QUEUE_CONFIG } from "../engine/types.js";

export interface WebhookPolicy {
  /** Delay before the first retry (JETQ_WEBHOOK_RETRY_BASE_MS). */
  retryBaseMs: number;
  /** Longest delay between two attempts. */
  retryMaxMs: number;
  /** No attempt later than this after the job ended. */
  giveUpAfterMs: number;
  /** One attempt's limit: connect, send, answer. */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = {
  retryBaseMs: 5_000,
  retryMaxMs: 10 * 60 * 1000,
  giveUpAfterMs: 24 * 60 * 60 * 1000,
  timeoutMs: 10_000,
};

export type AfterWebhookFailure = { retry: true; delayMs: number } | { retry: false };

/** After failed attempt `attempt` (from 1) of a job that ended at endedAt. */
export function afterWebhookFailure(
  attempt: number,
  endedAt: number,
  policy: WebhookPolicy,
  now = Date.now(),
  random = Math.random,
): AfterWebhookFailure {
  const config = { ...DEFAULT_QUEUE_CONFIG, backoffBaseMs: policy.retryBaseMs, backoffMaxMs: policy.retryMaxMs };
  const delayMs = backoffMs(config, attempt, {}, random);
  if (now + delayMs > endedAt + policy.giveUpAfterMs) return { retry: false };
  return { retry: true, delayMs };
}
