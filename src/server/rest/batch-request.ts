/**
 * POST /queue/{queue}/batch: the body is a JSON array of items
 * `{"input": ..., "idempotency_key": "..."}` (at most 1,000, as SubmitBatch);
 * job options from the query or headers apply to every item, as for
 * POST /queue/{queue}. Only parsing here: SubmitBatch checks the values,
 * each item on its own.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import type { SubmitBatchRequestSchema, SubmitBatchResponse } from "../../../gen/jetq/v1/queue_pb.js";
import { jsonToValue } from "../../service/convert.js";
import { readBody, tooLarge } from "../connect/request-body.js";
import { assertInputValues } from "../input-values.js";
import { badRequest, payloadTooLarge } from "./errors.js";
import { statusJson } from "./shapes.js";
import { jobOptions, type SubmitLimits } from "./submit-request.js";
import { requestUrls } from "./urls.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;

export async function batchRequest(
  req: Req,
  queue: string,
  query: URLSearchParams,
  limits: SubmitLimits,
): Promise<MessageInitShape<typeof SubmitBatchRequestSchema>> {
  const options = jobOptions(req, query);
  const bytes = await readBody(req, limits.readMaxBytes, () => payloadTooLarge(tooLarge(limits.readMaxBytes)));
  try {
    // The inputs of all items together, as SubmitBatch counts them.
    assertInputValues(bytes, false, limits.maxInputValues);
  } catch (err) {
    throw payloadTooLarge(err as never);
  }
  let items: unknown;
  try {
    items = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch (err) {
    throw badRequest(`body: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(items)) {
    throw badRequest('body: send a JSON array of jobs, each {"input": ..., "idempotency_key": "..."}');
  }
  return { jobs: items.map((item, i) => ({ queue, options, ...itemOf(item, i) })) };
}

function itemOf(item: unknown, i: number) {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw badRequest(`body[${i}]: each job is an object {"input": ..., "idempotency_key": "..."}`);
  }
  const { input, idempotency_key: key } = item as { input?: JsonValue; idempotency_key?: unknown };
  if (key !== undefined && typeof key !== "string") throw badRequest(`body[${i}].idempotency_key: must be a string`);
  return { input: jsonToValue(input ?? null), idempotencyKey: key ?? "" };
}

/** 200 with one result per item: the submitted job's request_id, status and URLs, or the item's error. */
export function batchJson(res: SubmitBatchResponse, base: string) {
  return {
    results: res.results.map((r) => {
      if (r.outcome.case === "error") {
        const { index, code, message } = r.outcome.value;
        return { error: { index, code, message } };
      }
      const job = r.outcome.value!;
      const status = statusJson(job, "", false);
      return {
        request_id: job.id,
        status: status.status,
        ...(status.queue_position !== undefined ? { queue_position: status.queue_position } : {}),
        ...requestUrls(base, job.id),
      };
    }),
  };
}
