/**
 * SubmitBatch: each item checked as Submit checks it (queue name, key
 * length, the caller's queues, the queue's input validator, lanes), then
 * the valid ones submitted through the engine in one call. An item's
 * failure is its result (BatchItemError naming `jobs[i]` and the field);
 * only a batch that is empty or too long fails as a whole.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  SubmitBatchResponseSchema,
  SubmitBatchResultSchema,
  type SubmitBatchRequest,
  type SubmitBatchResponse,
  type SubmitBatchResult,
} from "../../../gen/jetq/v1/queue_pb.js";
import { assertBatchSize } from "../../engine/core/batch.js";
import { isLaneQueue } from "../../handlers/http/lanes.js";
import type { Engine, SubmitInput } from "../../engine/types.js";
import { jobToProto } from "../convert.js";
import { checkedSubmitInput, ensureLane, type QueueServiceOptions } from "../queue-service.js";

type ToClientError = (err: unknown, ctx: HandlerContext) => ConnectError;

export async function submitBatch(
  engine: Engine,
  options: QueueServiceOptions,
  toClientError: ToClientError,
  req: SubmitBatchRequest,
  ctx: HandlerContext,
): Promise<SubmitBatchResponse> {
  assertBatchSize(req.jobs.length);
  const results: SubmitBatchResult[] = new Array<SubmitBatchResult>(req.jobs.length);
  const failed = (i: number, err: unknown) => (results[i] = itemError(i, toClientError(err, ctx)));
  const inputs: SubmitInput[] = [];
  const at: number[] = [];
  for (const [i, item] of req.jobs.entries()) {
    try {
      const input = checkedSubmitInput(item, ctx, options.inputValidators, options.webhookCheck);
      if (isLaneQueue(input.queue)) await ensureLane(options.lanes, input);
      inputs.push(input);
      at.push(i);
    } catch (err) {
      failed(i, err);
    }
  }
  const outcomes = inputs.length > 0 ? await engine.submitBatch(inputs) : [];
  outcomes.forEach((outcome, k) => {
    const i = at[k]!;
    if ("error" in outcome) failed(i, outcome.error);
    else results[i] = create(SubmitBatchResultSchema, { outcome: { case: "job", value: jobToProto(outcome.status) } });
  });
  return create(SubmitBatchResponseSchema, { results });
}

/** The item's error: its index, the code Submit would fail with, the message naming `jobs[i]` and the field. */
function itemError(index: number, err: ConnectError): SubmitBatchResult {
  const raw = err.rawMessage;
  const message = /^[a-z_][a-z0-9_.[\]]*: /i.test(raw) ? `jobs[${index}].${raw}` : `jobs[${index}]: ${raw}`;
  const code = codeName(err.code === Code.Unknown ? Code.Internal : err.code);
  return create(SubmitBatchResultSchema, { outcome: { case: "error", value: { index, code, message } } });
}

/** A Code as the Connect protocol spells it ("invalid_argument"), from the enum's own name. */
function codeName(code: Code): string {
  return Code[code].replace(/(?<!^)([A-Z])/g, "_$1").toLowerCase();
}
