/**
 * Where a job's message is: at the sequence its id names, or where its
 * record says (a retried job, a due delayed job: relocation.ts), or in
 * JETQ_DELAYED while a delayed job waits for its time. Cancel and Retry
 * read and delete it through here.
 */
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { JobRef } from "../driver/types.js";
import { readMeta } from "./job-message.js";
import { DELAYED_STREAM, H_IDEM, streamName } from "./layout.js";
import type { JobRecord } from "./records.js";
import { rerunOf, type RerunInfo } from "./relocation.js";

/** The stream and sequence of the job's message. */
export function placeOf(ref: JobRef, record: JobRecord | undefined): { stream: string; seq: number } {
  // A relocated job's message is published again into its own priority level's stream.
  if (record?.seq !== undefined) return { stream: streamName(ref.queue, ref.priority), seq: record.seq };
  if (record?.delayedSeq !== undefined) return { stream: DELAYED_STREAM, seq: record.delayedSeq };
  return { stream: streamName(ref.queue, ref.priority), seq: ref.seq };
}

/** Deletes the job's message (best effort: it may be gone already). */
export async function deleteJobMessage(
  jsm: JetStreamManager,
  ref: JobRef,
  record: JobRecord | undefined,
): Promise<void> {
  const { stream, seq } = placeOf(ref, record);
  if (seq < 1) return;
  await jsm.streams.deleteMessage(stream, seq, false).catch(() => undefined);
}

/**
 * What a Retry of the job will publish, read from its message while it is
 * still there (a cancel); undefined when the message is gone or is not the
 * job's.
 */
export async function rerunFromMessage(
  jsm: JetStreamManager,
  ref: JobRef,
  record: JobRecord | undefined,
): Promise<RerunInfo | undefined> {
  const { stream, seq } = placeOf(ref, record);
  if (seq < 1) return undefined;
  const m: StoredMsg | null = await jsm.direct.getMessage(stream, { seq }).catch(() => null);
  const meta = m ? readMeta(m.header) : undefined;
  if (!m || !meta || meta.token !== ref.token) return undefined;
  const idem = m.header?.get(H_IDEM);
  if (idem) meta.msgId = idem;
  return rerunOf(meta, m.data);
}
