/**
 * The job-control RPCs (ListQueues, ListJobs, Retry, SubmitBatch, WatchJobs,
 * PauseQueue, ResumeQueue), one file per group. A group not built yet
 * answers UNIMPLEMENTED, as connect-es does for a method a service lacks.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { QueueService } from "../../../gen/jetq/v1/queue_pb.js";
import type { Engine } from "../../engine/types.js";
import { createErrorMapper } from "../errors.js";
import type { QueueServiceOptions } from "../queue-service.js";
import { listRpcs } from "./lists.js";

type JobControlRpcs = Pick<
  ServiceImpl<typeof QueueService>,
  "listQueues" | "listJobs" | "retry" | "submitBatch" | "watchJobs" | "pauseQueue" | "resumeQueue"
>;

const notYet = (rpc: string) => new ConnectError(`${rpc} is not available on this server yet`, Code.Unimplemented);

export function jobControlRpcs(engine: Engine, options: QueueServiceOptions): JobControlRpcs {
  const toClientError = createErrorMapper(options.logger);
  return {
    // -- lists --
    ...listRpcs(engine, toClientError),
    // -- end lists --

    // -- retry --
    retry() {
      throw notYet("Retry");
    },
    // -- end retry --

    // -- batches, WatchJobs, pause --
    submitBatch() {
      throw notYet("SubmitBatch");
    },
    // eslint-disable-next-line require-yield
    async *watchJobs() {
      throw notYet("WatchJobs");
    },
    pauseQueue() {
      throw notYet("PauseQueue");
    },
    resumeQueue() {
      throw notYet("ResumeQueue");
    },
    // -- end batches, WatchJobs, pause --
  };
}
