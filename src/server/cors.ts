/**
 * CORS for browser clients (connect-web, grpc-web) from an explicit list of
 * origins. An allowed origin gets the headers connect-es says its protocols
 * need, plus Authorization; any other origin gets no CORS header at all, so
 * the browser keeps its pages away from our answers. Preflights are answered
 * here, before routing, on HTTP/1.1 and h2 alike.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { cors } from "@connectrpc/connect";
import { OPTION_PARAMETERS } from "./rest/submit-request.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Req, res: Res) => void;
/** What both response kinds accept; their writeHead overloads differ in @types/node 22. */
type HeadWriter = { writeHead(status: number, headers: http.OutgoingHttpHeaders): unknown };

/**
 * Idempotency-Key, Last-Event-ID and the job option headers: the REST
 * endpoints' (rest/); X-Request-Id and the W3C trace context: every call's.
 */
export const CORS_ALLOWED_HEADERS = [
  ...cors.allowedHeaders,
  "Authorization",
  "X-Request-Id",
  "traceparent",
  "tracestate",
  "Idempotency-Key",
  "Last-Event-ID",
  ...OPTION_PARAMETERS.map((p) => p.header),
];
/** PUT: the REST cancel (rest/). */
export const CORS_ALLOWED_METHODS = [...cors.allowedMethods, "PUT"];
/** retry-after: rate-limited browser clients should see when to come back; x-request-id: what to quote. */
export const CORS_EXPOSED_HEADERS = [
  ...cors.exposedHeaders,
  "Retry-After",
  "Retry-After-Ms",
  "WWW-Authenticate",
  "X-Request-Id",
];
const MAX_AGE_SECONDS = 7200;

/** "https://app.example.com" as a browser sends it: scheme://host[:port], lower case. */
export function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, "").toLowerCase();
}

/** Wraps a request handler; with no origins it is the handler itself. */
export function withCors(handler: Handler, origins: readonly string[] | undefined): Handler {
  if (!origins || origins.length === 0) return handler;
  const allowed = new Set(origins.map(normalizeOrigin));
  return (req, res) => {
    const origin = req.headers.origin;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    // Answers differ by Origin: caches must keep them apart.
    res.setHeader(
      "vary",
      preflight ? "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" : "Origin",
    );
    const ok = typeof origin === "string" && allowed.has(normalizeOrigin(origin));
    if (preflight) {
      if (!ok) {
        writeHead(res, 403, { "content-type": "text/plain; charset=utf-8" });
        res.end("jetq: origin not allowed (JETQ_CORS_ORIGINS)\n");
        return;
      }
      writeHead(res, 204, {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": CORS_ALLOWED_METHODS.join(", "),
        "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
        "access-control-max-age": String(MAX_AGE_SECONDS),
      });
      res.end();
      return;
    }
    if (ok) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", CORS_EXPOSED_HEADERS.join(", "));
    }
    handler(req, res);
  };
}

function writeHead(res: HeadWriter, status: number, headers: http.OutgoingHttpHeaders): void {
  res.writeHead(status, headers);
}
