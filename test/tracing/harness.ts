/**
 * What the tracing tests share: a traced jetq (server and worker in this
 * process) on an engine, a handler that reports the trace it runs in, and a
 * client trace context to send.
 */
import { randomBytes } from "node:crypto";
import { trace } from "@opentelemetry/api";
import type { JsonValue } from "@bufbuild/protobuf";
import { isTerminal, type Engine, type JobResult } from "../../src/engine/types.js";
import type { Handler } from "../../src/worker/types.js";

/** A client's span, as its traceparent names it. */
export interface ClientSpan {
  traceId: string;
  spanId: string;
  traceparent: string;
}

export function clientSpan(): ClientSpan {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** What the handler saw of its trace: the active span's ids and ctx.traceId. */
export interface SeenTrace {
  activeTraceId: string | null;
  activeSpanId: string | null;
  ctxTraceId: string | null;
}

export const reportTrace: Handler = (_input, ctx) => {
  const span = trace.getActiveSpan();
  const seen: SeenTrace = {
    activeTraceId: span?.spanContext().traceId ?? null,
    activeSpanId: span?.spanContext().spanId ?? null,
    ctxTraceId: ctx.traceId ?? null,
  };
  return seen as unknown as JsonValue;
};

/** The job's result once it is terminal (bounded by the test's timeout). */
export async function resultOf(engine: Engine, id: string): Promise<JobResult> {
  for await (const status of engine.watch(id)) if (isTerminal(status.state)) break;
  return engine.getResult(id);
}

export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
