/**
 * Retry on JetStream (docs/ARCHITECTURE.md §6): the job's message is
 * published again from what its FAILED, CANCELLED or EXPIRED record kept
 * (`rerun`), with Nats-Msg-Id `jetq-retry-<token>-<n>` so two concurrent
 * Retries of the same record publish one message; then the record is
 * written QUEUED at the revision read, saying where the message now is.
 * Of two concurrent Retries exactly one write wins; the other answers
 * FAILED_PRECONDITION (the job is QUEUED). A message whose record write lost
 * to a cancel is deleted (and a worker drops one it meets: relocation.ts).
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { failedPrecondition, unavailable } from "../errors.js";
import { appendAttempt, assertRetryable, endedLast, retriedOptions } from "../core/retry-job.js";
import type { JobRef } from "../driver/types.js";
import type { JobStatus, ReadOptions } from "../types.js";
import type { EventHub } from "./events.js";
import { statusEventOf } from "./events.js";
import type { IdempotencyStore } from "./idempotency.js";
import { streamName } from "./layout.js";
import { publishToLevel } from "./level-publish.js";
import type { PriorityLevels } from "./priority-levels.js";
import { levelKey, type QueueInfoCache } from "./queue-info.js";
import type { RecentJobs } from "./live.js";
import type { JobRecord, RecordStore, StoredRecord } from "./records.js";
import { relocatedHeaders } from "./relocation.js";
import type { StateDeriver } from "./state.js";

export interface RetryDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  records: RecordStore;
  deriver: StateDeriver;
  events: EventHub;
  queueInfo: QueueInfoCache;
  idempotency: IdempotencyStore;
  recent: RecentJobs;
  requestTimeoutMs: number;
  /** Makes the job's level stream when it has none (level-publish.ts). */
  levels?: Pick<PriorityLevels, "ensure">;
}

const ROUNDS = 3;
const encoder = new TextEncoder();

export async function retryJob(deps: RetryDeps, ref: JobRef, options: ReadOptions): Promise<JobStatus> {
  for (let round = 0; round < ROUNDS; round++) {
    const stored = await deps.records.get(ref.id);
    if (!stored) {
      // No record: QUEUED or RUNNING from its message, or no job (NOT_FOUND as a read says it).
      const status = await deps.deriver.status(ref, options);
      assertRetryable(ref.id, status.state);
      continue;
    }
    const r = stored.record;
    if (options.tenant !== undefined && options.tenant !== r.tenant) throw await deps.deriver.notFound(ref, options);
    assertRetryable(ref.id, r.state);
    if (await retryOnce(deps, ref, stored)) {
      const { includeLogs: _logs, ...read } = options;
      return deps.deriver.status(ref, read);
    }
  }
  throw unavailable(`retrying job "${ref.id}": its state kept changing; retry`);
}

/** Publishes the job again and writes its QUEUED record; false when the record changed meanwhile. */
async function retryOnce(deps: RetryDeps, ref: JobRef, stored: StoredRecord): Promise<boolean> {
  const r = stored.record;
  const rerun = r.rerun;
  if (!rerun) {
    throw failedPrecondition(
      `job "${ref.id}" cannot be retried: its input was not kept (it ended before this version)`,
    );
  }
  const retries = (r.retries ?? 0) + 1;
  const meta = {
    token: ref.token,
    createdAt: r.createdAt,
    tenant: r.tenant,
    options: retriedOptions(rerun.options),
    ...(rerun.inputRef ? { inputRef: rerun.inputRef } : {}),
  };
  // Back into the stream of its own priority level (the id names it), at its end.
  const ack = await publishToLevel(deps.js, deps.levels, ref, encoder.encode(rerun.input ?? ""), {
    headers: relocatedHeaders(meta, ref.id, rerun.idem),
    msgID: `jetq-retry-${ref.token}-${retries}`,
    timeout: deps.requestTimeoutMs,
  });
  const ended = endedLast(r.attempts, r);
  const record: JobRecord = {
    state: "QUEUED",
    queue: r.queue,
    tenant: r.tenant,
    createdAt: r.createdAt,
    attempt: r.attempt,
    progress: 0,
    ...(r.startedAt !== undefined ? { startedAt: r.startedAt } : {}),
    ...(r.released ? { released: r.released } : {}),
    // A fresh budget: the runs before count as handed back, lost leases from 0 (lost-leases.ts).
    ...(r.attempt > 0 ? { interrupted: r.attempt } : {}),
    seq: ack.seq,
    undelivered: true,
    retries,
    ...(ended || r.attempts ? { attempts: ended ? appendAttempt(r.attempts, ended) : r.attempts! } : {}),
  };
  if ((await deps.records.write(ref.id, record, stored.revision)) === undefined) {
    const now = await deps.records.get(ref.id);
    // Not the same message a concurrent Retry made (and won with): ours must not run.
    if (now?.record.seq !== ack.seq) {
      await deps.jsm.streams.deleteMessage(streamName(ref.queue, ref.priority), ack.seq, false).catch(() => undefined);
    }
    return false;
  }
  if (rerun.idem) await deps.idempotency.refresh(r.tenant, rerun.idem, ref.id).catch(() => undefined);
  const known = deps.recent.get(ref.id);
  if (known) known.terminal = undefined;
  deps.queueInfo.invalidate(levelKey(ref.queue, ref.priority));
  deps.events.publish(ref.id, statusEventOf(record));
  return true;
}
