/**
 * A process's Prometheus metrics (prom-client), one registry per server or
 * worker instance, so several servers in one process (tests) never mix:
 * job series from job events, queue gauges read at scrape time, RPC series,
 * the engine's readiness, and prom-client's process metrics (one registry
 * per process: they describe the process, not an instance).
 * docs/ARCHITECTURE.md §8, README "Operations".
 */
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Engine } from "../engine/types.js";
import { jobMetricsListener } from "./job-metrics.js";
import { DEFAULT_MAX_QUEUE_LABELS, queueLabels } from "./queue-labels.js";
import { registerQueueGauges, type QueueGaugeOptions } from "./queue-gauges.js";
import { registerRpcMetrics, type RpcMetrics } from "./rpc-metrics.js";

export interface MetricsOptions {
  /** Waiting and running gauges per queue from this engine at scrape time (the API process). */
  queueCounts?: QueueGaugeOptions;
  /** Queues named in labels (and gauges read) before the rest share queue="_other"; default 100. */
  maxQueues?: number;
  /** prom-client's process metrics (CPU, memory, event loop, GC); default true. */
  processMetrics?: boolean;
}

export interface JetqMetrics {
  /** The Prometheus text format's content type. */
  readonly contentType: string;
  readonly rpc: RpcMetrics;
  /** Counts this engine's job events and follows its readiness; once per engine (a repeat is a no-op). */
  observe(engine: Engine): void;
  /** Every series, in the Prometheus text format. */
  text(): Promise<string>;
  /** Stops observing the engines. */
  close(): void;
}

export function createMetrics(options: MetricsOptions = {}): JetqMetrics {
  const registry = new Registry();
  const maxQueues = options.maxQueues ?? DEFAULT_MAX_QUEUE_LABELS;
  const onJobEvent = jobMetricsListener(registry, queueLabels(maxQueues));
  const rpc = registerRpcMetrics(registry);
  if (options.queueCounts) registerQueueGauges(registry, { maxQueues, ...options.queueCounts });
  const engines = new Map<Engine, () => void>();
  new Gauge({
    name: "jetq_engine_ready",
    help: "1 while the engine can serve (on NATS: connected, JetStream answering), else 0.",
    labelNames: ["engine"],
    registers: [registry],
    collect() {
      this.reset();
      // Several engines of one kind (tests, a server and its worker): ready only if all are.
      const byKind = new Map<string, number>();
      for (const engine of engines.keys()) {
        const now = engine.readiness().ready ? 1 : 0;
        byKind.set(engine.kind, Math.min(now, byKind.get(engine.kind) ?? 1));
      }
      for (const [kind, ready] of byKind) this.set({ engine: kind }, ready);
    },
  });
  const processRegistry = options.processMetrics === false ? undefined : processMetricsRegistry();
  return {
    contentType: registry.contentType,
    rpc,
    observe(engine) {
      if (!engines.has(engine)) engines.set(engine, engine.observe(onJobEvent));
    },
    async text() {
      const own = await registry.metrics();
      return processRegistry ? `${own}${await processRegistry.metrics()}` : own;
    },
    close() {
      for (const stop of engines.values()) stop();
      engines.clear();
    },
  };
}

let processRegistry: Registry | undefined;

/** prom-client's default metrics, registered once per process (they keep an event-loop monitor and a GC observer). */
function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
