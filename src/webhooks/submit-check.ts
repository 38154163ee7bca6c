/**
 * What Submit refuses of a job's webhook_url beyond its form (checked in
 * service/convert.ts): any URL when this server sends no webhooks (no
 * JETQ_WEBHOOK_SECRET), and a private IP literal not in
 * JETQ_WEBHOOK_ALLOWED_HOSTS. A host name's addresses are checked when the
 * webhook is sent (address-policy.ts), since they may change until then.
 */
import { failedPrecondition, invalidArgument } from "../engine/errors.js";
import { allowedHosts, literalHostProblem } from "./address-policy.js";

export type WebhookSubmitCheck = (url: string) => void;

/** `enabled`: JETQ_WEBHOOK_SECRET is set. Throws an EngineError naming options.webhook_url. */
export function webhookSubmitCheck(enabled: boolean, allowed: readonly string[] = []): WebhookSubmitCheck {
  const isAllowed = allowedHosts(allowed);
  return (url) => {
    if (!enabled) {
      throw failedPrecondition(
        'options.webhook_url: this server sends no webhooks: JETQ_WEBHOOK_SECRET is not set (README "Webhooks")',
      );
    }
    const problem = literalHostProblem(new URL(url), isAllowed);
    if (problem) throw invalidArgument(`options.webhook_url: ${problem}`);
  };
}
