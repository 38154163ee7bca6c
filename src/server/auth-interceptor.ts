/**
 * Authentication, role check and rate limit for every RPC, the same way on
 * Connect, gRPC and gRPC-Web (all carry `Authorization` as a header).
 * Health checks and reflection stay open: probes and tooling carry no keys.
 * The caller's principal goes to the handlers through the context values.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  checkRpc,
  describeRateLimit,
  type KeyStore,
  type Principal,
  type RateLimit,
  type RateLimiter,
} from "../auth/index.js";
import { callerKey } from "../service/caller.js";
import { authenticate, unauthenticatedError } from "./authenticate.js";

/** Services anyone may call, keys or not. */
export const OPEN_SERVICES: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

export interface AuthInterceptorOptions {
  keys: KeyStore;
  /** Applies to every key without its own limit; with no keys, to all callers together. */
  rateLimit?: RateLimit;
  limiter: RateLimiter;
  logger?: Logger;
}

/** The bucket of callers of an open server. */
const ANONYMOUS = "\u0000anonymous";

export function createAuthInterceptor(options: AuthInterceptorOptions): Interceptor {
  const { keys, limiter, logger } = options;
  return (next) => async (req) => {
    if (OPEN_SERVICES.has(req.service.typeName)) return next(req);
    const rpc = req.method.name;
    let principal: Principal | undefined;
    if (keys.enabled) {
      const caller = authenticate(keys, req.header.get("authorization"));
      if (!caller.ok) {
        // debug, not info: a flood of bad calls must not become a flood of log lines.
        logger?.debug({ rpc, reason: caller.message }, "unauthenticated call refused");
        throw unauthenticatedError(caller.message);
      }
      principal = caller.principal;
      const denied = checkRpc(principal, rpc);
      if (denied) {
        logger?.debug({ rpc, key: principal.name, tenant: principal.tenant }, "call refused: role");
        throw new ConnectError(denied, Code.PermissionDenied);
      }
    }
    const limit = principal?.rateLimit === undefined ? options.rateLimit : principal.rateLimit;
    if (limit) {
      const taken = limiter.take(principal ? principal.name : ANONYMOUS, limit);
      if (!taken.allowed) {
        const seconds = taken.retryAfterMs / 1000;
        const who = principal ? "this API key" : "this server";
        throw new ConnectError(
          `rate limit of ${describeRateLimit(limit)} exceeded for ${who}; retry in ${seconds < 1 ? seconds.toFixed(2) : seconds.toFixed(1)} s`,
          Code.ResourceExhausted,
          // Whole seconds, as HTTP's Retry-After; plus the exact delay in milliseconds.
          { "retry-after": String(Math.max(1, Math.ceil(seconds))), "retry-after-ms": String(taken.retryAfterMs) },
        );
      }
    }
    req.contextValues.set(callerKey, principal);
    return next(req);
  };
}
