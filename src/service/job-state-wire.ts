/** The engine's job states and the proto's JobState, one table for both directions. */
import { JobState as ProtoJobState } from "../../gen/jetq/v1/queue_pb.js";
import type { JobState } from "../engine/types.js";

const TO_PROTO: Record<JobState, ProtoJobState> = {
  QUEUED: ProtoJobState.QUEUED,
  RUNNING: ProtoJobState.RUNNING,
  COMPLETED: ProtoJobState.COMPLETED,
  FAILED: ProtoJobState.FAILED,
  CANCELLED: ProtoJobState.CANCELLED,
  EXPIRED: ProtoJobState.EXPIRED,
};

const FROM_PROTO = new Map<ProtoJobState, JobState>(
  Object.entries(TO_PROTO).map(([state, proto]) => [proto, state as JobState]),
);

export function jobStateToProto(state: JobState): ProtoJobState {
  return TO_PROTO[state] ?? ProtoJobState.UNSPECIFIED;
}

/** undefined for UNSPECIFIED or a number this server does not know. */
export function jobStateFromProto(state: ProtoJobState): JobState | undefined {
  return FROM_PROTO.get(state);
}
