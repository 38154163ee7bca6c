/**
 * The W3C Trace Context (traceparent, tracestate) a job carries from the
 * call that submitted it to the worker that runs it, so the run continues
 * the client's trace (docs/ARCHITECTURE.md §8, "Traces"). The engine only
 * checks and stores it; what makes spans of it is src/tracing/.
 */
import { invalidArgument } from "./errors.js";

export interface TraceContext {
  /** `00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex>`, lowercase. */
  traceparent: string;
  /** Vendor data of the trace, passed on as it came. */
  tracestate?: string;
}

/** Longest tracestate kept: 32 list members of 16 characters or so (W3C suggests at least 512). */
export const MAX_TRACESTATE_LENGTH = 512;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x20-\x7e]*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
const PRINTABLE = /^[\x20-\x7e]*$/;

export interface ParsedTraceparent {
  traceId: string;
  spanId: string;
  flags: number;
}

/**
 * A traceparent's parts, or undefined when it is not one (W3C Trace Context
 * level 1: version ff and all-zero ids are invalid; version 00 has no more
 * fields; later versions may, and are read by their first four).
 */
export function parseTraceparent(value: string): ParsedTraceparent | undefined {
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: parseInt(flags!, 16) };
}

export function formatTraceparent(p: ParsedTraceparent): string {
  return `00-${p.traceId}-${p.spanId}-${(p.flags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * What an incoming request's headers carry, read as W3C asks of a receiver:
 * an invalid traceparent is ignored (the trace restarts), and so is a
 * tracestate without a valid traceparent or one too long or unprintable.
 */
export function traceContextOfHeaders(
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
): TraceContext | undefined {
  if (!traceparent) return undefined;
  const parsed = parseTraceparent(traceparent.trim());
  if (!parsed) return undefined;
  const state = tracestate?.trim();
  const keepState = state && state.length <= MAX_TRACESTATE_LENGTH && PRINTABLE.test(state);
  return { traceparent: formatTraceparent(parsed), ...(keepState ? { tracestate: state } : {}) };
}

/** SubmitInput.trace checked (INVALID_ARGUMENT naming the field), in its stored form. */
export function checkedTraceContext(trace: TraceContext | undefined): TraceContext | undefined {
  if (trace === undefined) return undefined;
  const parsed = typeof trace.traceparent === "string" ? parseTraceparent(trace.traceparent) : undefined;
  if (!parsed) {
    throw invalidArgument(
      `trace.traceparent: ${JSON.stringify(trace.traceparent)} is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)`,
    );
  }
  const state = trace.tracestate;
  if (
    state !== undefined &&
    (typeof state !== "string" || state.length > MAX_TRACESTATE_LENGTH || !PRINTABLE.test(state))
  ) {
    throw invalidArgument(`trace.tracestate: must be printable ASCII of at most ${MAX_TRACESTATE_LENGTH} characters`);
  }
  return { traceparent: formatTraceparent(parsed), ...(state ? { tracestate: state } : {}) };
}
