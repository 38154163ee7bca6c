/**
 * RPC series: what the server's metrics interceptor
 * (../server/metrics-interceptor.ts) records. Kept apart from Connect so the
 * registry code does not depend on the transport.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface RpcLabels {
  service: string;
  method: string;
}

export interface RpcMetrics {
  /** A call ended: code is a Connect code name ("OK", "NotFound", ...); seconds for unary calls. */
  handled(labels: RpcLabels, code: string, seconds?: number): void;
  streamOpened(labels: RpcLabels): void;
  streamClosed(labels: RpcLabels): void;
}

/** Seconds, for calls of a fraction of a millisecond to a minute. */
const RPC_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function registerRpcMetrics(registry: Registry): RpcMetrics {
  const registers = [registry];
  const handled = new Counter({
    name: "jetq_rpc_handled_total",
    help: "RPCs that ended (streams when they closed), by service, method and Connect code.",
    labelNames: ["service", "method", "code"],
    registers,
  });
  const duration = new Histogram({
    name: "jetq_rpc_duration_seconds",
    help: "Time to answer a unary RPC (streams are not timed: they last as long as the job).",
    labelNames: ["service", "method"],
    buckets: RPC_SECONDS_BUCKETS,
    registers,
  });
  const open = new Gauge({
    name: "jetq_rpc_streams_open",
    help: "Server streams open now (StreamStatus, SubmitAndStream, health Watch, REST event streams).",
    labelNames: ["service", "method"],
    registers,
  });
  // The labels with each code, made once per labels object (the interceptor keeps one per method).
  const withCode = new WeakMap<RpcLabels, Map<string, RpcLabels & { code: string }>>();
  const labelsWithCode = (labels: RpcLabels, code: string) => {
    let byCode = withCode.get(labels);
    if (!byCode) withCode.set(labels, (byCode = new Map()));
    let out = byCode.get(code);
    if (!out) byCode.set(code, (out = { ...labels, code }));
    return out;
  };
  return {
    handled(labels, code, seconds) {
      handled.inc(labelsWithCode(labels, code));
      if (seconds !== undefined) duration.observe(labels, seconds);
    },
    streamOpened: (labels) => open.inc(labels),
    streamClosed: (labels) => open.dec(labels),
  };
}
