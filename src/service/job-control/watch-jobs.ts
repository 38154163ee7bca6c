/**
 * WatchJobs: many jobs in one stream. Ids: the caller must be allowed each
 * id's queue (PERMISSION_DENIED naming `ids[i]`), and other tenants' jobs
 * answer NOT_FOUND as GetStatus does; a queue: the caller's jobs in it (all
 * jobs for an admin or an open server). Log lines go out as a delta per job,
 * as StreamStatus sends them.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Job, WatchJobsRequest } from "../../../gen/jetq/v1/queue_pb.js";
import { checkQueue, readTenant } from "../../auth/index.js";
import { invalidArgument } from "../../engine/errors.js";
import { parseJobId } from "../../engine/job-id.js";
import { assertQueueName } from "../../engine/queue-name.js";
import { isTerminal, MAX_WATCH_IDS, type Engine, type WatchJobsTarget } from "../../engine/types.js";
import { isLaneQueue } from "../../handlers/http/lanes.js";
import { callerKey } from "../caller.js";
import { jobToProto } from "../convert.js";
import { createLogDelta, requireQueue } from "../queue-service.js";

export async function* watchJobs(engine: Engine, req: WatchJobsRequest, ctx: HandlerContext): AsyncGenerator<Job> {
  const caller = ctx.values.get(callerKey);
  const updates = engine.watchJobs(checkedTarget(req, ctx), {
    includeLogs: req.includeLogs,
    signal: ctx.signal,
    ...tenantOf(readTenant(caller)),
  });
  const deltas = new Map<string, ReturnType<typeof createLogDelta>>();
  for await (const status of updates) {
    let logs = status.logs;
    if (logs) {
      let delta = deltas.get(status.id);
      if (!delta) deltas.set(status.id, (delta = createLogDelta()));
      logs = delta.fresh(logs);
    }
    if (isTerminal(status.state)) deltas.delete(status.id);
    yield jobToProto(logs ? { ...status, logs } : status);
  }
  // Ends quietly when aborted: the client must learn the stream was cut.
  if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
}

const tenantOf = (tenant: string | undefined) => (tenant !== undefined ? { tenant } : {});

/** Exactly one of ids and queue, each checked, and the caller allowed its queues. */
function checkedTarget(req: WatchJobsRequest, ctx: HandlerContext): WatchJobsTarget {
  const caller = ctx.values.get(callerKey);
  if (req.ids.length > 0 === (req.queue !== "")) {
    throw invalidArgument(`ids, queue: name exactly one: up to ${MAX_WATCH_IDS} job ids, or a queue`);
  }
  if (req.queue !== "") {
    assertQueueName(req.queue, "queue");
    requireQueue(caller, req.queue);
    return { queue: req.queue };
  }
  if (req.ids.length > MAX_WATCH_IDS) {
    throw invalidArgument(`ids: ${req.ids.length} ids is over the limit of ${MAX_WATCH_IDS} per watch`);
  }
  req.ids.forEach((id, i) => {
    const { queue } = parseJobId(id, `ids[${i}]`);
    const denied = checkQueue(caller, queue);
    if (denied && !(isLaneQueue(queue) && checkQueue(caller, "http") === undefined)) {
      throw new ConnectError(`ids[${i}]: ${denied}`, Code.PermissionDenied);
    }
  });
  return { ids: req.ids };
}
