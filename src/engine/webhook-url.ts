/**
 * The form of a webhook URL, checked wherever one is given (a job's option,
 * a queue's default): an absolute http or https URL, at most 2048
 * characters, without user or password (a credential in a URL ends up in
 * logs). Where it may point is the webhook sender's policy (src/webhooks/).
 */
import { invalidArgument } from "./errors.js";

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** What is wrong with `value` as a webhook URL, or undefined when nothing is. */
export function webhookUrlProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "must be a string";
  if (value.length > MAX_WEBHOOK_URL_LENGTH) {
    return `${value.length} characters is over the limit of ${MAX_WEBHOOK_URL_LENGTH}`;
  }
  // The URL parser would drop some of these silently; the stored text must be what is sent.
  if ([...value].some((c) => c <= " " || c === "\u007f")) return "must not contain spaces or control characters";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${JSON.stringify(value.slice(0, 100))} is not an absolute URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be http or https, not ${url.protocol}`;
  if (url.username !== "" || url.password !== "") return "must not carry a user or password";
  return undefined;
}

/** The URL as given when it is a valid webhook URL; INVALID_ARGUMENT naming `field` otherwise. */
export function assertWebhookUrl(field: string, value: unknown): string {
  const problem = webhookUrlProblem(value);
  if (problem !== undefined) throw invalidArgument(`${field}: ${problem}`);
  return value as string;
}
