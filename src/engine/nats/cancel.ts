/**
 * Cancel, as docs/ARCHITECTURE.md §6 says: the CANCELLED record first (a
 * conditional write, so a completion racing it cannot also win), then the
 * queued message is deleted by seq, or the worker holding it is signalled;
 * then the terminal event for watchers.
 */
import { cancelledError } from "../core/outcomes.js";
import type { JetStreamManager } from "@nats-io/jetstream";
import { unavailable } from "../errors.js";
import { isTerminal, type JobOptions, type ReadOptions } from "../types.js";
import type { DriverCancelOutcome } from "../driver/types.js";
import type { CancelSignals } from "./cancel-signals.js";
import { statusEventOf, type EventHub } from "./events.js";
import type { IdempotencyStore } from "./idempotency.js";
import { deleteJobMessage, rerunFromMessage } from "./job-place.js";
import type { JobIndex } from "./job-index.js";
import type { LiveJobs } from "./live.js";
import { levelKey, type QueueInfoCache } from "./queue-info.js";
import type { JobRecord, RecordStore } from "./records.js";
import { statusFromRecord, type JobRef, type StateDeriver } from "./state.js";

export interface CancelDeps {
  jsm: JetStreamManager;
  deriver: StateDeriver;
  records: RecordStore;
  signals: CancelSignals;
  events: EventHub;
  queueInfo: QueueInfoCache;
  live: LiveJobs;
  /** Keys of idempotent submits, refreshed when their job ends here. */
  idempotency?: IdempotencyStore;
  /** The index of finished jobs, told before the CANCELLED record is written. */
  index?: Pick<JobIndex, "add">;
}

const ROUNDS = 5;

export async function cancelJob(deps: CancelDeps, ref: JobRef, options?: ReadOptions): Promise<DriverCancelOutcome> {
  const { id } = ref;
  const checkTenant = async (tenant: string) => {
    if (options?.tenant !== undefined && options.tenant !== tenant) throw await deps.deriver.notFound(ref, options);
  };
  for (let round = 0; round < ROUNDS; round++) {
    const found = await deps.deriver.inspect(ref);
    if (found.kind === "none") throw await deps.deriver.notFound(ref, options);
    const now = Date.now();
    const error = cancelledError();
    let record: JobRecord;
    let revision = 0;
    let wasQueued: boolean;
    // The job's options, for observers of the cancel (webhooks): in its message, still in the stream while it is unsettled.
    let jobOptions: Promise<JobOptions | undefined>;
    if (found.kind === "record") {
      const r = found.stored.record;
      await checkTenant(r.tenant);
      if (isTerminal(r.state)) {
        return {
          removed: false,
          message: `job "${id}" already finished in state ${r.state}; nothing to cancel`,
          job: statusFromRecord(id, r),
        };
      }
      record = { ...r, state: "CANCELLED", finishedAt: now, error };
      revision = found.stored.revision;
      wasQueued = r.state === "QUEUED";
      jobOptions = deps.deriver.message(ref).then(
        (meta) => meta?.options,
        () => undefined,
      );
    } else {
      await checkTenant(found.meta.tenant);
      const s = found.status;
      record = {
        state: "CANCELLED",
        queue: ref.queue,
        tenant: found.meta.tenant,
        createdAt: found.meta.createdAt,
        attempt: s.attempt,
        progress: s.progress,
        finishedAt: now,
        error,
        ...(s.startedAt !== undefined ? { startedAt: s.startedAt } : {}),
      };
      wasQueued = s.state === "QUEUED";
      jobOptions = Promise.resolve(found.meta.options);
    }
    const prior = found.kind === "record" ? found.stored.record : undefined;
    // What a Retry of the cancelled job publishes, read while its message is still there.
    const rerun = prior?.rerun ?? (await rerunFromMessage(deps.jsm, ref, prior));
    if (rerun) record.rerun = rerun;
    delete record.undelivered;
    await deps.index?.add({ id, queue: ref.queue, state: "CANCELLED", tenant: record.tenant, finishedAt: now });
    const [written, jobOpts] = await Promise.all([deps.records.write(id, record, revision), jobOptions]);
    if (written === undefined) continue; // settled meanwhile: look again
    // The record decides: watchers hear of it now, not after the clean-up below.
    deps.live.forget(id);
    deps.events.publish(id, statusEventOf(record));
    const idem = found.kind === "message" ? found.meta.msgId : rerun?.idem;
    if (idem && deps.idempotency) {
      await deps.idempotency.refresh(record.tenant, idem, id).catch(() => undefined);
    }
    // Signal any worker holding it (also one that took it a moment ago).
    deps.signals.send(id);
    if (wasQueued) {
      // From the stream of the job's priority level (its id names it), where its message now is.
      await deleteJobMessage(deps.jsm, ref, prior);
    }
    deps.queueInfo.invalidate(levelKey(ref.queue, ref.priority));
    return {
      removed: true,
      message: wasQueued
        ? `job "${id}" was removed from the queue`
        : `job "${id}" was cancelled; its worker was signalled to stop`,
      job: statusFromRecord(id, record),
      ...(jobOpts ? { options: jobOpts } : {}),
    };
  }
  throw unavailable(`cancelling job "${id}": its state kept changing; retry`);
}
