/**
 * ListQueues and ListJobs. The engine checks the request (page size, cursor,
 * state) and keeps the index; here the caller's key decides what it sees: a
 * key limited to some queues sees only those queues, and a key of the
 * submitter or reader role lists only its tenant's jobs (admins and an open
 * server list everyone's).
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  FinishedCountsSchema,
  ListJobsResponseSchema,
  ListQueuesResponseSchema,
  QueueInfoSchema,
  type QueueInfo as ProtoQueueInfo,
  type QueueService,
} from "../../../gen/jetq/v1/queue_pb.js";
import { checkQueue, readTenant, type Principal } from "../../auth/index.js";
import { assertQueueName } from "../../engine/queue-name.js";
import type { Engine, JobState, QueueInfo } from "../../engine/types.js";
import { isLaneQueue } from "../../handlers/http/lanes.js";
import { callerKey } from "../caller.js";
import { jobToProto } from "../convert.js";
import { jobStateFromProto } from "../job-state-wire.js";

type ListRpcs = Pick<ServiceImpl<typeof QueueService>, "listQueues" | "listJobs">;
type ToClientError = (err: unknown, ctx: HandlerContext) => unknown;

/** As for every RPC naming a queue: a key for "http" may also use the http lanes. */
function denial(caller: Principal | undefined, queue: string): string | undefined {
  const denied = checkQueue(caller, queue);
  return denied && !(isLaneQueue(queue) && checkQueue(caller, "http") === undefined) ? denied : undefined;
}

export function queueInfoToProto(info: QueueInfo): ProtoQueueInfo {
  return create(QueueInfoSchema, {
    name: info.name,
    waiting: info.waiting,
    running: info.running,
    delayed: info.delayed,
    paused: info.paused,
    lastMinute: create(FinishedCountsSchema, info.lastMinute),
    lastHour: create(FinishedCountsSchema, info.lastHour),
  });
}

export function listRpcs(engine: Engine, toClientError: ToClientError): ListRpcs {
  return {
    async listQueues(_req, ctx) {
      try {
        const caller = ctx.values.get(callerKey);
        const queues = (await engine.describeQueues()).filter((q) => denial(caller, q.name) === undefined);
        return create(ListQueuesResponseSchema, { queues: queues.map(queueInfoToProto) });
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },

    async listJobs(req, ctx) {
      try {
        assertQueueName(req.queue, "queue");
        const caller = ctx.values.get(callerKey);
        const denied = denial(caller, req.queue);
        if (denied) throw new ConnectError(denied, Code.PermissionDenied);
        const tenant = readTenant(caller);
        const page = await engine.listJobs({
          queue: req.queue,
          // UNSPECIFIED (or a number this server does not know) is left unset: the engine names the field.
          state: jobStateFromProto(req.state) as JobState,
          pageSize: req.pageSize,
          cursor: req.cursor,
          ...(tenant !== undefined ? { tenant } : {}),
        });
        return create(ListJobsResponseSchema, { jobs: page.jobs.map(jobToProto), nextCursor: page.nextCursor });
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },
  };
}
