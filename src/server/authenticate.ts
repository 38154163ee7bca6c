/**
 * The one place a call's Authorization header is checked against the API
 * keys: the auth interceptor, the request gate (connect/auth-gate.ts) and the
 * fast path's admission all ask here, so they cannot disagree on who is in.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { parseBearer, UNKNOWN_KEY_MESSAGE, type KeyStore, type Principal } from "../auth/index.js";

export type Authentication = { ok: true; principal: Principal } | { ok: false; message: string };

/** The caller's principal, or why the header does not name a valid key. Only for a store with keys. */
export function authenticate(keys: KeyStore, authorization: string | null | undefined): Authentication {
  const bearer = parseBearer(authorization ?? null);
  if (!bearer.ok) return { ok: false, message: bearer.message };
  const principal = keys.authenticate(bearer.key);
  return principal ? { ok: true, principal } : { ok: false, message: UNKNOWN_KEY_MESSAGE };
}

/** What a caller without a valid key is answered, on every path. */
export function unauthenticatedError(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated, { "www-authenticate": 'Bearer realm="jetq"' });
}
