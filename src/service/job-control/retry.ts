/**
 * The Retry RPC: the id checked and the caller's queue permission as for
 * Cancel (a reader key may not call it: src/auth/permissions.ts), then the
 * engine's retry, whose rule lives in the engine core. Answers the job as
 * GetStatus would, QUEUED again.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { Job, RetryRequest } from "../../../gen/jetq/v1/queue_pb.js";
import type { Engine } from "../../engine/types.js";
import { jobToProto } from "../convert.js";
import { readOptions } from "../queue-service.js";

export async function retryRpc(engine: Engine, req: RetryRequest, ctx: HandlerContext): Promise<Job> {
  return jobToProto(await engine.retry(req.id, readOptions(req.id, ctx)));
}
