/**
 * POST /queue/{queue}: the body is the job's input (any JSON document; an
 * empty body is null), the idempotency key and job options come from the
 * query or headers. Only parsing here: the values are checked by Submit,
 * as for the RPC.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { JobOptionsSchema, SubmitRequestSchema } from "../../../gen/jetq/v1/queue_pb.js";
import { jsonToValue } from "../../service/convert.js";
import { readBody, tooLarge } from "../connect/request-body.js";
import { assertInputValues } from "../input-values.js";
import { badRequest, payloadTooLarge } from "./errors.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Options = MessageInitShape<typeof JobOptionsSchema>;

/** Job options: query parameter, header and what it sets. */
export const OPTION_PARAMETERS = [
  { query: "max_attempts", header: "x-jetq-max-attempts", kind: "count" },
  { query: "timeout_ms", header: "x-jetq-timeout-ms", kind: "ms" },
  { query: "start_deadline", header: "x-jetq-start-deadline", kind: "time" },
  { query: "retry_backoff_ms", header: "x-jetq-retry-backoff-ms", kind: "ms" },
  { query: "retry_backoff_max_ms", header: "x-jetq-retry-backoff-max-ms", kind: "ms" },
  { query: "max_lost_leases", header: "x-jetq-max-lost-leases", kind: "count" },
  { query: "webhook_url", header: "x-jetq-webhook-url", kind: "text" },
] as const;

const FIELD: Record<(typeof OPTION_PARAMETERS)[number]["query"], keyof Options> = {
  max_attempts: "maxAttempts",
  timeout_ms: "timeout",
  start_deadline: "startDeadline",
  retry_backoff_ms: "retryBackoff",
  retry_backoff_max_ms: "retryBackoffMax",
  max_lost_leases: "maxLostLeases",
  webhook_url: "webhookUrl",
};

export interface SubmitLimits {
  readMaxBytes: number;
  maxInputValues: number;
}

export async function submitRequest(
  req: Req,
  queue: string,
  query: URLSearchParams,
  limits: SubmitLimits,
): Promise<MessageInitShape<typeof SubmitRequestSchema>> {
  const options = jobOptions(req, query);
  const idempotencyKey = query.get("idempotency_key") ?? header(req, "idempotency-key") ?? "";
  const bytes = await readBody(req, limits.readMaxBytes, () => payloadTooLarge(tooLarge(limits.readMaxBytes)));
  const input = parseInput(bytes, limits.maxInputValues);
  return { queue, input: jsonToValue(input), idempotencyKey, options };
}

function parseInput(bytes: Uint8Array, maxInputValues: number) {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  if (text.trim() === "") return null;
  try {
    assertInputValues(bytes, false, maxInputValues);
  } catch (err) {
    throw payloadTooLarge(err as never);
  }
  try {
    return JSON.parse(text) as Parameters<typeof jsonToValue>[0];
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw badRequest(`body: not valid JSON (send the job input as a JSON document): ${why}`);
  }
}

/** Job options from the query or headers (batches: for every item). */
export function jobOptions(req: Req, query: URLSearchParams): Options {
  const options: Options = {};
  for (const p of OPTION_PARAMETERS) {
    const fromQuery = query.get(p.query);
    const raw = fromQuery ?? header(req, p.header);
    if (raw === undefined) continue;
    const name = fromQuery !== null ? `query parameter ${p.query}` : `header ${p.header}`;
    (options as Record<string, unknown>)[FIELD[p.query]] = optionValue(p.kind, raw.trim(), name);
  }
  return options;
}

function optionValue(kind: "count" | "ms" | "time" | "text", raw: string, name: string) {
  if (kind === "text") return raw;
  if (kind === "time") {
    // RFC 3339, or milliseconds since the epoch.
    const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (!Number.isFinite(ms)) throw badRequest(`${name}: "${raw}" is not an RFC 3339 time or epoch milliseconds`);
    return timestampFromMs(ms);
  }
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw badRequest(`${name}: "${raw}" is not a whole number${kind === "ms" ? " of milliseconds" : ""}`);
  }
  return kind === "ms" ? durationFromMs(Number(raw)) : Number(raw);
}

function header(req: Req, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
