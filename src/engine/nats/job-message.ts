/**
 * The enqueued message: input as JSON body, the job's metadata in headers, so
 * a worker or a status read needs nothing but the message itself.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import type { JobOptions, TraceContext } from "../types.js";
import { H_CREATED, H_INPUT_REF, H_OPTIONS, H_TENANT, H_TOKEN, H_TRACEPARENT, H_TRACESTATE } from "./layout.js";

export interface JobMeta {
  token: string;
  createdAt: number;
  tenant: string;
  options: JobOptions;
  /** Object store name of the input, when it was too big for the message. */
  inputRef?: string;
  /** The submitter's trace context (checked by the core before it was stored). */
  trace?: TraceContext;
  /** Nats-Msg-Id of an idempotent submit (read from delivered messages only). */
  msgId?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeInput(input: JsonValue): Uint8Array {
  return encoder.encode(JSON.stringify(input ?? null));
}

export function decodeInput(data: Uint8Array): JsonValue {
  if (data.length === 0) return null;
  return JSON.parse(decoder.decode(data)) as JsonValue;
}

export function metaHeaders(meta: JobMeta): MsgHdrs {
  const h = natsHeaders();
  h.set(H_TOKEN, meta.token);
  h.set(H_CREATED, String(meta.createdAt));
  // Tenants are opaque strings; header values must not carry CR/LF.
  if (meta.tenant) h.set(H_TENANT, encodeURIComponent(meta.tenant));
  if (Object.keys(meta.options).length > 0) h.set(H_OPTIONS, JSON.stringify(meta.options));
  if (meta.inputRef) h.set(H_INPUT_REF, meta.inputRef);
  if (meta.trace) {
    h.set(H_TRACEPARENT, meta.trace.traceparent);
    if (meta.trace.tracestate) h.set(H_TRACESTATE, meta.trace.tracestate);
  }
  return h;
}

/** Size of the headers block as it goes over the wire (for max_payload checks). */
export function headersSize(h: MsgHdrs): number {
  let n = "NATS/1.0\r\n\r\n".length;
  for (const [k, vs] of h) for (const v of vs) n += k.length + v.length + 4;
  return n;
}

export function readMeta(h: MsgHdrs | undefined): JobMeta | undefined {
  const token = h?.get(H_TOKEN);
  if (!h || !token) return undefined;
  const created = Number(h.get(H_CREATED));
  const tenantRaw = h.get(H_TENANT);
  const optionsRaw = h.get(H_OPTIONS);
  let options: JobOptions = {};
  if (optionsRaw) {
    try {
      options = JSON.parse(optionsRaw) as JobOptions;
    } catch {
      options = {};
    }
  }
  const inputRef = h.get(H_INPUT_REF);
  const msgId = h.get("Nats-Msg-Id");
  const traceparent = h.get(H_TRACEPARENT);
  const tracestate = h.get(H_TRACESTATE);
  return {
    token,
    createdAt: Number.isFinite(created) ? created : 0,
    tenant: tenantRaw ? decodeURIComponent(tenantRaw) : "",
    options,
    ...(inputRef ? { inputRef } : {}),
    ...(msgId ? { msgId } : {}),
    ...(traceparent ? { trace: { traceparent, ...(tracestate ? { tracestate } : {}) } } : {}),
  };
}
