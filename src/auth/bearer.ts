/**
 * The Authorization header. Messages never repeat what the client sent: a
 * key pasted into the wrong place must not end up in someone's logs.
 */
export type BearerResult = { ok: true; key: string } | { ok: false; message: string };

export const MISSING_KEY_MESSAGE = "missing Authorization: Bearer <key>";
export const UNKNOWN_KEY_MESSAGE = "unknown API key";

export function parseBearer(header: string | null): BearerResult {
  if (header === null || header.trim() === "") return { ok: false, message: MISSING_KEY_MESSAGE };
  // The scheme is case-insensitive (RFC 9110); the key is what follows it.
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return { ok: false, message: `malformed Authorization header: expected "Bearer <key>"` };
  return { ok: true, key: m[1]! };
}
