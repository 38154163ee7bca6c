/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the
 * secret is `whsec_` + base64 of the key bytes; each request carries
 * webhook-id, webhook-timestamp (unix seconds) and webhook-signature =
 * `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)).
 */
import { createHmac } from "node:crypto";

const PREFIX = "whsec_";
/** The spec asks for 24 to 64 bytes; fewer than 16 is guessable. */
const MIN_KEY_BYTES = 16;

/** The key bytes of a `whsec_...` secret; throws saying what is wrong. */
export function parseWebhookSecret(secret: string): Buffer {
  const text = secret.trim();
  if (!text.startsWith(PREFIX)) throw new Error(`must start with "${PREFIX}" followed by the base64 of the key`);
  const b64 = text.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Error(`the part after "${PREFIX}" must be standard base64 (A-Z, a-z, 0-9, +, /, = padding)`);
  }
  const key = Buffer.from(b64, "base64");
  if (key.length < MIN_KEY_BYTES) {
    throw new Error(
      `the key is ${key.length} bytes; use at least ${MIN_KEY_BYTES}, e.g. whsec_$(openssl rand -base64 32)`,
    );
  }
  return key;
}

export type SignedHeaders = Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string>;

export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): SignedHeaders {
  const signature = createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": `v1,${signature}`,
  };
}
