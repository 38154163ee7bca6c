/**
 * Callers without a valid key are refused before their request body is read:
 * connect-es's requestGate (a router option) runs once the headers are in and
 * before any message is received, on every protocol. Without it an
 * unauthenticated client could make us buffer up to readMaxBytes per call,
 * since interceptors run only once the request message is parsed. The unread
 * body is connect-node's to drop; over HTTP/1.1 oversized.ts reads it out
 * (bounded) so the client gets its answer instead of a reset.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { KeyStore } from "../../auth/index.js";
import { authenticate, unauthenticatedError } from "../authenticate.js";
import { OPEN_SERVICES } from "../auth-interceptor.js";
import { requestIdKey } from "../request-id.js";

/** The router's requestGate; undefined when no keys are configured (everyone is in). */
export function createAuthGate(keys: KeyStore, logger?: Logger): ((ctx: HandlerContext) => void) | undefined {
  if (!keys.enabled) return undefined;
  return (ctx) => {
    if (OPEN_SERVICES.has(ctx.service.typeName)) return;
    const caller = authenticate(keys, ctx.requestHeader.get("authorization"));
    if (caller.ok) return;
    // debug, not info: a flood of bad calls must not become a flood of log lines.
    logger?.debug(
      { rpc: ctx.method.name, reason: caller.message, requestId: ctx.values.get(requestIdKey) },
      "unauthenticated call refused",
    );
    throw unauthenticatedError(caller.message);
  };
}

/** Whether a call gets past the gate: the decode guard must not read the bodies of those that do not. */
export function passesAuthGate(keys: KeyStore, service: string, header: Headers): boolean {
  return !keys.enabled || OPEN_SERVICES.has(service) || authenticate(keys, header.get("authorization")).ok;
}
