/**
 * The job-control RPCs (ListQueues, ListJobs, Retry, SubmitBatch, WatchJobs,
 * PauseQueue, ResumeQueue), one file per group.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { QueueService } from "../../../gen/jetq/v1/queue_pb.js";
import type { Engine } from "../../engine/types.js";
import { createErrorMapper } from "../errors.js";
import type { QueueServiceOptions } from "../queue-service.js";
import { retryRpc } from "./retry.js";
import { submitBatch } from "./batch.js";
import { setPaused } from "./pause.js";
import { watchJobs } from "./watch-jobs.js";
import { listRpcs } from "./lists.js";

type JobControlRpcs = Pick<
  ServiceImpl<typeof QueueService>,
  "listQueues" | "listJobs" | "retry" | "submitBatch" | "watchJobs" | "pauseQueue" | "resumeQueue"
>;

export function jobControlRpcs(engine: Engine, options: QueueServiceOptions): JobControlRpcs {
  const toClientError = createErrorMapper(options.logger);
  return {
    // -- lists --
    ...listRpcs(engine, toClientError),
    // -- end lists --

    // -- retry --
    async retry(req, ctx) {
      try {
        return await retryRpc(engine, req, ctx);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },
    // -- end retry --

    // -- batches, WatchJobs, pause --
    async submitBatch(req, ctx) {
      try {
        return await submitBatch(engine, options, toClientError, req, ctx);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },
    async *watchJobs(req, ctx) {
      try {
        yield* watchJobs(engine, req, ctx);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },
    async pauseQueue(req, ctx) {
      try {
        return await setPaused(engine, req.queue, true, ctx);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },
    async resumeQueue(req, ctx) {
      try {
        return await setPaused(engine, req.queue, false, ctx);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },
    // -- end batches, WatchJobs, pause --
  };
}
