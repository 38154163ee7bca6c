/**
 * Signed webhooks (README "Webhooks", docs/ARCHITECTURE.md §8): every
 * process with an engine enqueues the webhooks of the jobs it ends and
 * delivers due ones; the Submit check refuses what could never be sent.
 */
import type { Logger } from "pino";
import type { Engine } from "../engine/types.js";
import { allowedHosts } from "./address-policy.js";
import { startDeliverer } from "./deliverer.js";
import { enqueueWebhooks } from "./enqueue.js";
import type { WebhookPolicy } from "./policy.js";

export { DEFAULT_WEBHOOK_POLICY, type WebhookPolicy } from "./policy.js";
export { parseWebhookSecret, signWebhook } from "./signing.js";
export { webhookSubmitCheck, type WebhookSubmitCheck } from "./submit-check.js";

export interface WebhooksOptions {
  engine: Engine;
  /** The key bytes of JETQ_WEBHOOK_SECRET (parseWebhookSecret). */
  key: Buffer;
  /** JETQ_WEBHOOK_ALLOWED_HOSTS. */
  allowedHosts: readonly string[];
  policy: WebhookPolicy;
  logger?: Logger;
}

export interface Webhooks {
  /** Stops enqueueing and delivering; waits for deliveries in flight. */
  stop(): Promise<void>;
}

export function startWebhooks(o: WebhooksOptions): Webhooks {
  const unobserve = enqueueWebhooks(o.engine, o.logger);
  const deliverer = startDeliverer({
    engine: o.engine,
    key: o.key,
    allowed: allowedHosts(o.allowedHosts),
    policy: o.policy,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  return {
    async stop() {
      unobserve();
      await deliverer.stop();
    },
  };
}
