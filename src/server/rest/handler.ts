/**
 * The REST and Server-Sent Events endpoints (README "REST and Server-Sent
 * Events"), on the server's one port next to the Connect routes. Each
 * endpoint is one QueueService RPC, called through service-calls.ts: auth,
 * tenants, roles, rate limits, validation and limits are the RPCs' own.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, ConnectError, type ContextValues, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { unauthenticatedError, type Authentication } from "../authenticate.js";
import { batchJson, batchRequest } from "./batch-request.js";
import { restError } from "./errors.js";
import { OPENAPI_DOCUMENT } from "./openapi.js";
import { writeError, writeJson, type Res } from "./respond.js";
import { matchRoute, type Route } from "./routes.js";
import { createServiceCalls, type ServiceCalls } from "./service-calls.js";
import { cancelJson, countJson, resultJson, statusJson } from "./shapes.js";
import { createStatusStreams } from "./status-stream.js";
import { submitRequest, type SubmitLimits } from "./submit-request.js";
import { baseUrl, requestUrls } from "./urls.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;

export interface RestOptions extends SubmitLimits {
  impl: ServiceImpl<DescService>;
  interceptors: Interceptor[];
  contextValues?: (req: Req) => ContextValues;
  shutdownSignal: AbortSignal;
  /** Keep-alive comments on an idle event stream, every this many ms. */
  keepAliveMs: number;
  /** With API keys: who the caller is, so a submit without a valid key is refused before its body is read. */
  authenticate?: (authorization: string | undefined) => Authentication;
}

interface Rest {
  o: RestOptions;
  calls: ServiceCalls;
  streams: ReturnType<typeof createStatusStreams>;
}

/** Answers the request and returns true when its path is a REST one; false before touching it otherwise. */
export function createRestHandler(o: RestOptions): (req: Req, res: Res) => boolean {
  const calls = createServiceCalls(o);
  const rest: Rest = { o, calls, streams: createStatusStreams({ calls, ...o }) };
  return (req, res) => {
    // Split by hand: new URL() would take a path starting "//" for a host.
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const match = matchRoute(req.method, q < 0 ? raw : raw.slice(0, q));
    if (!match) return false;
    if ("route" in match) {
      serve(rest, match.route, new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)), req, res).catch((e: unknown) =>
        writeError(res, e),
      );
    } else {
      const code =
        match.status === 405 ? "method_not_allowed" : match.status === 404 ? "not_found" : "invalid_argument";
      writeJson(
        res,
        match.status,
        { error: { code, message: match.message } },
        match.allow ? { allow: match.allow } : {},
      );
    }
    return true;
  };
}

async function serve(rest: Rest, route: Route, query: URLSearchParams, req: Req, res: Res): Promise<void> {
  const { calls, o } = rest;
  const signal = o.shutdownSignal;
  const base = baseUrl(req);
  const withLogs = flag(query.get("logs"));
  switch (route.kind) {
    case "openapi":
      return writeJson(res, 200, OPENAPI_DOCUMENT);
    case "submit": {
      const caller = o.authenticate?.(header(req, "authorization"));
      if (caller && !caller.ok) return writeError(res, unauthenticatedError(caller.message));
      const input = await submitRequest(req, route.queue, query, o);
      const job = await calls.unary("submit", req, input, signal);
      const status = statusJson(job, "", false);
      return writeJson(res, 202, {
        request_id: job.id,
        status: status.status,
        ...(status.queue_position !== undefined ? { queue_position: status.queue_position } : {}),
        ...requestUrls(base, job.id),
      });
    }
    case "batch": {
      const caller = o.authenticate?.(header(req, "authorization"));
      if (caller && !caller.ok) return writeError(res, unauthenticatedError(caller.message));
      const batch = await batchRequest(req, route.queue, query, o);
      return writeJson(res, 200, batchJson(await calls.unary("submitBatch", req, batch, signal), base));
    }
    case "status": {
      const includeInput = flag(query.get("input"));
      const job = await calls.unary("getStatus", req, { id: route.id, includeLogs: withLogs, includeInput }, signal);
      return writeJson(res, 200, statusJson(job, requestUrls(base, job.id).response_url, withLogs));
    }
    case "stream":
      return rest.streams(req, res, { id: route.id, withLogs, responseUrl: requestUrls(base, route.id).response_url });
    case "result": {
      const result = await calls.unary("getResult", req, { id: route.id }, signal);
      const logs = withLogs
        ? (await calls.unary("getStatus", req, { id: route.id, includeLogs: true }, signal)).logs
        : undefined;
      return writeJson(res, 200, resultJson(result, logs));
    }
    case "cancel":
      return cancel(calls, route.id, req, res, signal);
    case "count":
      return writeJson(res, 200, countJson(await calls.unary("queueCount", req, { queue: route.queue }, signal)));
  }
}

/** 202 CANCELLATION_REQUESTED, 400 ALREADY_COMPLETED, 404 NOT_FOUND (the answers hosted queue APIs give). */
async function cancel(calls: ServiceCalls, id: string, req: Req, res: Res, signal: AbortSignal): Promise<void> {
  try {
    const body = cancelJson(await calls.unary("cancel", req, { id }, signal));
    writeJson(res, body.removed ? 202 : 400, body);
  } catch (e) {
    if (!(e instanceof ConnectError) || e.code !== Code.NotFound) throw e;
    const { body } = restError(e);
    writeJson(res, 404, { status: "NOT_FOUND", removed: false, message: e.rawMessage, ...body });
  }
}

/** ?logs=1, ?logs=true: on; absent, 0 or false: off. */
function flag(value: string | null): boolean {
  return value !== null && value !== "0" && value.toLowerCase() !== "false";
}

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
