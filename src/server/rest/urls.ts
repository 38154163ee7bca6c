/**
 * Absolute URLs of a request's endpoints, as the caller reached us: behind a
 * proxy, X-Forwarded-Proto and X-Forwarded-Host name the outside address.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";

type Req = http.IncomingMessage | http2.Http2ServerRequest;

/** host[:port], or [v6]:port: anything else in a header is ignored rather than echoed into URLs. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const PROTO = /^https?$/i;

export interface RequestUrls {
  status_url: string;
  response_url: string;
  cancel_url: string;
}

/** scheme://host of the server as the caller sees it. */
export function baseUrl(req: Req): string {
  const proto = first(req.headers["x-forwarded-proto"]);
  const forwardedHost = first(req.headers["x-forwarded-host"]);
  const host = [forwardedHost, first(req.headers[":authority"]), first(req.headers.host)].find(
    (h): h is string => h !== undefined && HOST.test(h),
  );
  const scheme = proto !== undefined && PROTO.test(proto) ? proto.toLowerCase() : "http";
  return `${scheme}://${host ?? `${req.socket.localAddress ?? "127.0.0.1"}:${req.socket.localPort ?? 80}`}`;
}

export function requestUrls(base: string, id: string): RequestUrls {
  const job = `${base}/queue/requests/${encodeURIComponent(id)}`;
  return { status_url: `${job}/status`, response_url: job, cancel_url: `${job}/cancel` };
}

/** The first of a comma-separated list (proxies append): the client-facing hop. */
function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const head = v?.split(",")[0]?.trim();
  return head === "" ? undefined : head;
}
