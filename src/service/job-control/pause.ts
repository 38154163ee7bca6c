/**
 * PauseQueue and ResumeQueue. They act on everyone's jobs in the queue, so
 * a key needs the submitter or admin role (readers are refused by role,
 * src/auth/permissions.ts) and the queue among its allowed queues, as for
 * Submit. Both answer the queue as it is after the call.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { QueueInfoSchema, type QueueCountResponse, type QueueInfo } from "../../../gen/jetq/v1/queue_pb.js";
import { assertQueueName } from "../../engine/queue-name.js";
import type { Engine } from "../../engine/types.js";
import { callerKey } from "../caller.js";
import { countsToProto } from "../convert.js";
import { requireQueue } from "../queue-service.js";

export async function setPaused(
  engine: Engine,
  queue: string,
  paused: boolean,
  ctx: HandlerContext,
): Promise<QueueInfo> {
  assertQueueName(queue, "queue");
  requireQueue(ctx.values.get(callerKey), queue);
  if (paused) await engine.pauseQueue(queue);
  else await engine.resumeQueue(queue);
  const counts = await engine.queueCount(queue);
  return create(QueueInfoSchema, { name: queue, waiting: counts.inQueue, running: counts.running, paused });
}

/** QueueCount's answer: the counts and whether the queue is paused. */
export async function countsWithPause(engine: Engine, queue: string): Promise<QueueCountResponse> {
  const [counts, paused] = await Promise.all([engine.queueCount(queue), engine.isPaused(queue)]);
  const answer = countsToProto(counts);
  answer.paused = paused;
  return answer;
}
