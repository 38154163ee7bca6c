/**
 * What a handler and the interceptors see of a fast-path call (fast-path.ts):
 * connect-es's HandlerContext, built without its universal layer, with the
 * request headers read from node's object on demand.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescMethod } from "@bufbuild/protobuf";
import { createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";

type Req = http.IncomingMessage | http2.Http2ServerRequest;

export function handlerContext(
  method: DescMethod,
  path: string,
  req: Req,
  signal: AbortSignal,
  values?: ContextValues,
  requestMethod = "POST",
): HandlerContext {
  return {
    method,
    service: method.parent,
    requestMethod,
    protocolName: "connect",
    url: path,
    signal,
    timeoutMs: noTimeout,
    requestHeader: headerView(req.headers),
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    values: values ?? createContextValues(),
  };
}

const noTimeout = () => undefined;

/**
 * The context the implementation sees: the call's, with the request header,
 * signal and values the interceptors passed on: the call's own object when
 * they changed none (a copy per call before).
 */
export function contextWithRequest(
  ctx: HandlerContext,
  requestHeader: Headers,
  signal: AbortSignal,
  values: ContextValues,
): HandlerContext {
  if (requestHeader === ctx.requestHeader && signal === ctx.signal && values === ctx.values) return ctx;
  return {
    method: ctx.method,
    service: ctx.service,
    requestMethod: ctx.requestMethod,
    protocolName: ctx.protocolName,
    url: ctx.url,
    timeoutMs: ctx.timeoutMs,
    requestHeader,
    signal,
    values,
    responseHeader: ctx.responseHeader,
    responseTrailer: ctx.responseTrailer,
  };
}

/**
 * A read view of node's request headers with the Headers interface: get/has
 * read node's object directly (all an interceptor usually needs); anything
 * else converts once.
 */
function headerView(raw: http.IncomingHttpHeaders): Headers {
  let full: Headers | undefined;
  const real = () => {
    if (!full) {
      full = new Headers();
      for (const [k, v] of Object.entries(raw)) {
        if (k.startsWith(":") || v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) full.append(k, x);
        else full.set(k, v);
      }
    }
    return full;
  };
  const get = (name: string): string | null => {
    const v = raw[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(", ") : String(v);
  };
  return new Proxy({} as Headers, {
    get(_t, prop) {
      if (prop === "get") return get;
      if (prop === "has") return (name: string) => raw[name.toLowerCase()] !== undefined;
      const target = real();
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
