/**
 * An independent Standard Webhooks verifier for the tests, written from the
 * spec (not from src/webhooks/signing.ts): the key is the base64 after
 * `whsec_`; the signed content is `${id}.${timestamp}.${body}`; the header
 * holds space-separated `v1,<base64 HMAC-SHA256>` signatures.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export function verifyStandardWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): boolean {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof signatures !== "string") return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(" ").some((entry) => {
    const [version, b64] = entry.split(",", 2);
    if (version !== "v1" || !b64) return false;
    const given = Buffer.from(b64, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
