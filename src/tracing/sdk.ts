/**
 * The OpenTelemetry SDK, set up once per process: a tracer provider with the
 * service's resource, the W3C propagator, and an AsyncLocalStorage context
 * manager (so the span a handler runs in is its active span). Loaded only by
 * a dynamic import, when tracing is on (index.ts), or by tests with their own
 * exporter: a process without tracing never loads any of this.
 */
import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type SpanExporter,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { BatchSettings, TraceExporterKind } from "./settings.js";

export interface InstallOptions {
  serviceName: string;
  /** The exporter kind the settings name, or an exporter of the caller's own (tests: InMemorySpanExporter). */
  exporter: TraceExporterKind | SpanExporter;
  /** Export each span as it ends instead of in batches (tests). */
  immediate?: boolean;
  /** The batch processor's settings (OTEL_BSP_*, read by settings.ts). */
  batch?: BatchSettings;
}

export interface InstalledTracing {
  /** Exports what is pending and unregisters the provider. */
  shutdown(): Promise<void>;
}

export function installTracing(options: InstallOptions): InstalledTracing {
  const exporter = exporterOf(options.exporter);
  // OTLP batches (OTEL_BSP_* tune it); the console prints each span as it ends.
  const processor =
    options.immediate || options.exporter === "console"
      ? new SimpleSpanProcessor({ exporter })
      : new BatchSpanProcessor({ exporter, ...options.batch });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors: [processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

function exporterOf(kind: TraceExporterKind | SpanExporter): SpanExporter {
  if (kind === "console") return new ConsoleSpanExporter();
  // Endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables.
  if (kind === "otlp") return new OTLPTraceExporter();
  return kind;
}
