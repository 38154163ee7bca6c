/**
 * A request id per call (README "Logs"): the caller's `X-Request-Id` when it
 * is printable ASCII of at most 128 characters, else a short random one. It
 * is set on the response (`x-request-id`) before any handler writes its head,
 * so Connect, gRPC, gRPC-Web, REST and the fast path all echo it, and put on
 * the call's context values for the per-RPC log line (interceptors.ts).
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { createContextKey, type ContextValues } from "@connectrpc/connect";
import { newToken } from "../engine/job-id.js";
import { connectionContextValues } from "./stream-caps.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Req, res: Res) => void;

export const REQUEST_ID_HEADER = "x-request-id";
export const MAX_REQUEST_ID_LENGTH = 128;
const PRINTABLE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

export const requestIdKey = createContextKey<string | undefined>(undefined, {
  description: "the call's request id (X-Request-Id)",
});

const ids = new WeakMap<Req, string>();

/** The caller's id when it is a good one, else a new one (12 random letters and digits). */
export function requestIdOf(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  if (given !== undefined && given.length <= MAX_REQUEST_ID_LENGTH && PRINTABLE.test(given)) return given;
  return newToken();
}

/** Wraps the server's handler: every request gets its id, echoed on the response. */
export function withRequestIds(handler: Handler): Handler {
  return (req, res) => {
    const id = requestIdOf(req.headers[REQUEST_ID_HEADER]);
    ids.set(req, id);
    res.setHeader(REQUEST_ID_HEADER, id);
    handler(req, res);
  };
}

/** A call's context values: its connection (stream-caps.ts) and its request id. */
export function callContextValues(req: Req): ContextValues {
  const values = connectionContextValues(req);
  const id = ids.get(req);
  if (id !== undefined) values.set(requestIdKey, id);
  return values;
}
