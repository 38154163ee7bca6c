/**
 * jetq's spans (README "Traces"), all in the trace of the call that
 * submitted the job: `jetq.submit` on the server around the submit,
 * `jetq.queue_wait` from the job's creation to its start, and `jetq.run`
 * around the handler, whose active span it is. The job carries the submit
 * span's context (or, with tracing off here, the caller's own) to the worker.
 *
 * With no SDK registered (tracing off) no span object is made: activeTracer()
 * is undefined and each helper hands back what it was given.
 */
import {
  context,
  createTraceState,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent, type TraceContext } from "../engine/trace-context.js";

const TRACER_NAME = "jetq";

/** The tracer of the registered SDK; undefined when none is (the API's no-op would answer). */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}

/** The context whose span is the (remote) one a TraceContext names; `base` when there is none. */
export function contextOfTrace(carried: TraceContext | undefined, base: Context = ROOT_CONTEXT): Context {
  const parsed = carried ? parseTraceparent(carried.traceparent) : undefined;
  if (!parsed) return base;
  return trace.setSpanContext(base, {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags: parsed.flags,
    isRemote: true,
    ...(carried?.tracestate ? { traceState: createTraceState(carried.tracestate) } : {}),
  });
}

/** The TraceContext that makes `span` the parent of what continues the trace. */
export function traceOfSpan(span: Span): TraceContext {
  const sc = span.spanContext();
  const state = sc.traceState?.serialize();
  return {
    traceparent: formatTraceparent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags }),
    ...(state ? { tracestate: state } : {}),
  };
}

export interface SubmitSpan {
  /** What the job is to carry: the submit span's context, or (tracing off) the caller's. */
  readonly trace: TraceContext | undefined;
  /** Ends the span (once; later calls do nothing): with the job's id when submitted, with the error when not. */
  end(jobId?: string, error?: unknown): void;
}

const noEnd = () => undefined;
/** Tracing off and nothing to carry: one shared answer, no allocation per call. */
const NO_SUBMIT_SPAN: SubmitSpan = { trace: undefined, end: noEnd };

/** `jetq.submit`, a child of the caller's span (a new trace when the call carried none). */
export function startSubmitSpan(incoming: TraceContext | undefined, rpc: string, queue: string): SubmitSpan {
  const tracer = activeTracer();
  if (!tracer) return incoming ? { trace: incoming, end: noEnd } : NO_SUBMIT_SPAN;
  const parent = contextOfTrace(incoming, context.active());
  const span = tracer.startSpan(
    "jetq.submit",
    { kind: SpanKind.SERVER, attributes: { "rpc.method": rpc, "jetq.queue": queue } },
    parent,
  );
  let ended = false;
  return {
    trace: traceOfSpan(span),
    end(jobId, error) {
      if (ended) return;
      ended = true;
      if (jobId) span.setAttribute("jetq.job.id", jobId);
      if (error !== undefined) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  };
}

/** An iterable whose first item (the submitted status) or failure ends the submit span. */
export function endingOnFirst<T extends { id: string }>(items: AsyncIterable<T>, span: SubmitSpan): AsyncIterable<T> {
  if (span.end === noEnd) return items;
  return (async function* () {
    let first = true;
    try {
      for await (const item of items) {
        if (first) span.end(item.id);
        first = false;
        yield item;
      }
    } catch (err) {
      if (first) span.end(undefined, err);
      first = false;
      throw err;
    } finally {
      if (first) span.end();
    }
  })();
}

export interface JobSpanInfo {
  id: string;
  queue: string;
  attempt: number;
  createdAt: number;
  trace?: TraceContext;
}

export interface RunSpan {
  /** The trace id the job carries, with tracing on or off; undefined without one. */
  readonly traceId: string | undefined;
  /** Calls fn with the run span active (tracing off: just calls it). */
  run<T>(fn: () => T): T;
  /** Ends the run span, failed when an error code is given. */
  end(error?: { code: string; message: string }): void;
}

const callIt = <T>(fn: () => T): T => fn();

/** The trace id of a stored context: the core stored it as `00-<trace id>-<span id>-<flags>`. */
function traceIdOf(carried: TraceContext | undefined): string | undefined {
  const tp = carried?.traceparent;
  return tp !== undefined && tp.length === 55 && tp[2] === "-" ? tp.slice(3, 35) : undefined;
}
const NO_RUN_SPAN: RunSpan = { traceId: undefined, run: callIt, end: noEnd };

/**
 * At begin (`startedAt`): records `jetq.queue_wait` (createdAt → startedAt)
 * and opens `jetq.run`, both children of the context the job carries.
 */
export function startRunSpans(job: JobSpanInfo, startedAt: number): RunSpan {
  const tracer = activeTracer();
  if (!tracer && !job.trace) return NO_RUN_SPAN;
  if (!tracer) return { traceId: traceIdOf(job.trace), run: callIt, end: noEnd };
  const parent = contextOfTrace(job.trace);
  const attributes = { "jetq.job.id": job.id, "jetq.queue": job.queue, "jetq.attempt": job.attempt };
  if (job.trace) {
    tracer.startSpan("jetq.queue_wait", { startTime: job.createdAt, attributes }, parent).end(startedAt);
  }
  const span = tracer.startSpan("jetq.run", { kind: SpanKind.CONSUMER, startTime: startedAt, attributes }, parent);
  const active = trace.setSpan(parent, span);
  return {
    traceId: span.spanContext().traceId,
    run: (fn) => context.with(active, fn),
    end(error) {
      if (error) {
        span.setAttribute("jetq.error.code", error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      }
      span.end();
    },
  };
}
