/**
 * Caps on open server streams (StreamStatus, SubmitAndStream, health Watch):
 * per API key, across its connections, and per connection (HTTP/2 streams
 * on one socket; with or without keys). Each open stream holds a watch and
 * its buffers, so one caller must not be able to open them without end.
 * Beyond a cap the call is RESOURCE_EXHAUSTED before the handler runs:
 * a refused SubmitAndStream enqueues nothing.
 */
import { endedBy } from "./stream-end.js";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type ContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import { callerKey } from "../service/caller.js";

export interface StreamCaps {
  /** Open streams one API key may hold (JETQ_MAX_STREAMS_PER_KEY). */
  perKey: number;
  /** Open streams one connection may hold (JETQ_MAX_STREAMS_PER_CONNECTION). */
  perConnection: number;
}

export const DEFAULT_STREAM_CAPS: StreamCaps = { perKey: 1_000, perConnection: 2_500 };

/** The connection a call came on (a socket, or an HTTP/2 session). */
export const connectionKey = createContextKey<object | undefined>(undefined, {
  description: "the connection the call came on",
});

/** Context values of a call naming its connection; for connect-node's adapter and the fast path. */
export function connectionContextValues(req: http.IncomingMessage | http2.Http2ServerRequest): ContextValues {
  const values = createContextValues();
  const session = "stream" in req ? req.stream.session : undefined;
  values.set(connectionKey, session ?? req.socket);
  return values;
}

export function createStreamCapInterceptor(caps: StreamCaps): Interceptor {
  for (const [name, v] of Object.entries(caps)) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`streamCaps.${name}: ${v} must be a whole number of at least 1`);
  }
  const byKey = new Map<string, number>();
  const byConnection = new WeakMap<object, number>();
  return (next) => async (req) => {
    if (!req.stream || req.method.methodKind !== "server_streaming") return next(req);
    const key = req.contextValues.get(callerKey)?.name;
    const connection = req.contextValues.get(connectionKey);
    if (key !== undefined && (byKey.get(key) ?? 0) >= caps.perKey) {
      throw refused(`this API key has ${caps.perKey} streams open, its limit (JETQ_MAX_STREAMS_PER_KEY)`);
    }
    if (connection && (byConnection.get(connection) ?? 0) >= caps.perConnection) {
      throw refused(
        `this connection has ${caps.perConnection} streams open, its limit (JETQ_MAX_STREAMS_PER_CONNECTION)`,
      );
    }
    if (key !== undefined) byKey.set(key, (byKey.get(key) ?? 0) + 1);
    if (connection) byConnection.set(connection, (byConnection.get(connection) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      req.signal.removeEventListener("abort", release);
      if (key !== undefined) {
        const n = (byKey.get(key) ?? 1) - 1;
        if (n > 0) byKey.set(key, n);
        else byKey.delete(key);
      }
      if (connection) byConnection.set(connection, (byConnection.get(connection) ?? 1) - 1);
    };
    req.signal.addEventListener("abort", release, { once: true });
    try {
      const res = await next(req);
      if (!res.stream) {
        release();
        return res;
      }
      return { ...res, message: endedBy(res.message, release) };
    } catch (err) {
      release();
      throw err;
    }
  };
}

const refused = (why: string) =>
  new ConnectError(`too many open streams: ${why}; close some before opening more`, Code.ResourceExhausted);
