/** A terminal status turned into what the caller asked for: the output, or a JobError. */
import { fromValue, jobFromProto } from "./convert.js";
import { JobError } from "./errors.js";
import type { Job as ProtoJob } from "./gen/jetq/v1/queue_pb.js";
import { JobState as ProtoJobState } from "./gen/jetq/v1/queue_pb.js";
import { callOptions, retrying, type Rpc } from "./rpc.js";
import type { Scope } from "./scope.js";
import type { JobOutput, JsonValue } from "./types.js";

/**
 * The output of a COMPLETED job: the terminal message's own `output` when
 * the server put it there (StreamStatus/SubmitAndStream with
 * include_output), else one GetResult call.
 */
export async function outputOf(rpc: Rpc, scope: Scope, terminal: ProtoJob): Promise<JsonValue> {
  const carried = terminal.output;
  if (carried !== undefined) return fromValue(carried);
  const res = await retrying(scope, terminal.id, () =>
    rpc.client.getResult({ id: terminal.id }, callOptions(rpc, scope)),
  );
  return fromValue(res.output);
}

/** COMPLETED: `{ id, output, job }`; FAILED, CANCELLED, EXPIRED: throws JobError. */
export async function finish<T extends JsonValue>(rpc: Rpc, scope: Scope, terminal: ProtoJob): Promise<JobOutput<T>> {
  const job = jobFromProto(terminal);
  if (terminal.state !== ProtoJobState.COMPLETED) throw new JobError(job);
  const output = (await outputOf(rpc, scope, terminal)) as T;
  return { id: job.id, output, job };
}
