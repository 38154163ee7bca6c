/**
 * Counts every RPC by service, method and code, times unary ones, and keeps
 * the open-streams gauge (../ops/rpc-metrics.ts). First in the chain
 * (server.ts), so calls the drain, auth or stream caps refuse are counted
 * too; the fast path and REST run the same chain (connect/invoke.ts).
 */
import { endedBy } from "./stream-end.js";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { DescMethod } from "@bufbuild/protobuf";
import type { RpcLabels, RpcMetrics } from "../ops/rpc-metrics.js";

export function createMetricsInterceptor(rpc: RpcMetrics): Interceptor {
  // One labels object per method, not one per call (rpc-metrics.ts keys its label sets by it).
  const labelsOf = new WeakMap<DescMethod, RpcLabels>();
  return (next) => async (req) => {
    let labels = labelsOf.get(req.method);
    if (!labels) labelsOf.set(req.method, (labels = { service: req.service.typeName, method: req.method.name }));
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    let res;
    try {
      res = await next(req);
    } catch (err) {
      rpc.handled(labels, codeOf(err), req.stream ? undefined : elapsed());
      throw err;
    }
    if (!res.stream) {
      rpc.handled(labels, "OK", elapsed());
      return res;
    }
    rpc.streamOpened(labels);
    let ended = false;
    const end = (err?: unknown) => {
      if (ended) return;
      ended = true;
      req.signal.removeEventListener("abort", onAbort);
      rpc.streamClosed(labels);
      rpc.handled(labels, err === undefined ? "OK" : codeOf(err));
    };
    // The caller went away or the server shut down without the stream being read to its end.
    const onAbort = () => end(req.signal.reason ?? new ConnectError("aborted", Code.Canceled));
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener("abort", onAbort, { once: true });
    return { ...res, message: endedBy(res.message, end) };
  };
}

function codeOf(err: unknown): string {
  return Code[ConnectError.from(err).code];
}
