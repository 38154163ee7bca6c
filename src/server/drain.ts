/**
 * While the server drains on the embedded engine, new jobs are refused: they
 * would live only in this process's memory and die with it. The one place
 * that refuses, for every protocol and the Connect fast path alike.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { QueueService } from "../../gen/jetq/v1/queue_pb.js";

const SUBMITS: ReadonlySet<string> = new Set([
  QueueService.method.submit.name,
  QueueService.method.submitAndStream.name,
  QueueService.method.submitBatch.name,
]);

export const SHUTTING_DOWN_MESSAGE =
  "server is shutting down and accepts no new jobs (embedded engine: they would be lost); submit to another instance";

/** Refuses Submit, SubmitAndStream and SubmitBatch with UNAVAILABLE while refusing() says so. */
export function createDrainInterceptor(refusing: () => boolean): Interceptor {
  return (next) => async (req) => {
    if (refusing() && req.service.typeName === QueueService.typeName && SUBMITS.has(req.method.name)) {
      throw new ConnectError(SHUTTING_DOWN_MESSAGE, Code.Unavailable);
    }
    return next(req);
  };
}
