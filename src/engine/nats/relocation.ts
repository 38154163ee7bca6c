/**
 * Jobs whose message is not where their id says (docs/ARCHITECTURE.md §5):
 * a retried job and a delayed job that became due get a message published
 * again, at a new sequence, under the same id. The record says where the
 * message now is (`seq`), the message carries the id (header Jetq-Id), and
 * a worker names the job by that id. Only such jobs pay anything for it:
 * an ordinary job has no such header and its record none of these fields.
 *
 * Also here: what a FAILED, CANCELLED or EXPIRED record keeps so that a
 * Retry can publish the job again (`rerun`: its input and options), since
 * the work-queue stream drops the message once the job is settled.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import type { JobAttempt, JobOptions } from "../types.js";
import { formatJobId, jobIdParts } from "../job-id.js";
import type { BlobStore } from "./blobs.js";
import type { Delivery } from "./delivery.js";
import { metaHeaders, type JobMeta } from "./job-message.js";
import { H_IDEM, H_JOB_ID, H_MOVED, priorityOfStream } from "./layout.js";

/** What a Retry needs to publish the job again. */
export interface RerunInfo {
  /** The input as JSON text; absent when it is in the object store (inputRef). */
  input?: string;
  inputRef?: string;
  options: JobOptions;
  /** Nats-Msg-Id of the idempotent Submit: its key is refreshed with the job. */
  idem?: string;
}

/** The record's fields of retried and delayed jobs (records.ts JobRecord has them). */
export interface RelocationFields {
  /** Where the job's message is in its queue's stream, when not at the id's seq. */
  seq?: number;
  /** The message at seq awaits its first delivery: its position comes from the queue snapshot. */
  undelivered?: boolean;
  /** A delayed job's run time. */
  scheduledAt?: number;
  /** A delayed job's message in JETQ_DELAYED, until it is due. */
  delayedSeq?: number;
  /** Retries so far: names the Retry's publish (Nats-Msg-Id), so two concurrent ones publish once. */
  retries?: number;
  /** Ended attempts kept beyond the last one (retried failures, runs before a Retry). */
  attempts?: JobAttempt[];
  /** On FAILED, CANCELLED and EXPIRED records: what a Retry publishes. */
  rerun?: RerunInfo;
}

/** The fields a delivery's writes keep from the record it read. */
export function carried(r: RelocationFields | undefined): RelocationFields {
  if (!r) return {};
  return {
    ...(r.seq !== undefined ? { seq: r.seq } : {}),
    ...(r.scheduledAt !== undefined ? { scheduledAt: r.scheduledAt } : {}),
    ...(r.retries !== undefined ? { retries: r.retries } : {}),
    ...(r.attempts ? { attempts: r.attempts } : {}),
  };
}

/** Headers of a job's message published again: its metadata, its id, when, and its idempotency key. */
export function relocatedHeaders(meta: JobMeta, id: string, idem?: string) {
  const h = metaHeaders(meta);
  h.set(H_JOB_ID, id);
  h.set(H_MOVED, String(Date.now()));
  if (idem) h.set(H_IDEM, idem);
  return h;
}

/**
 * The id of the job a delivered message is: its Jetq-Id, else the one its
 * sequence makes. Either names the priority level of the stream it came from
 * (a relocated job is published again into its own level's stream).
 */
export function deliveredJob(queue: string, d: Delivery, meta: JobMeta): { id: string; relocated: boolean } {
  const priority = priorityOfStream(d.stream);
  const moved = d.headers?.get(H_JOB_ID);
  const parts = moved ? jobIdParts(moved) : undefined;
  if (moved && parts?.queue === queue && parts.token === meta.token && parts.priority === priority) {
    const idem = d.headers?.get(H_IDEM);
    if (idem) meta.msgId = idem;
    return { id: moved, relocated: true };
  }
  return { id: formatJobId({ queue, priority, seq: d.streamSeq, token: meta.token }), relocated: false };
}

/** The id of the job a stored message at seq of a level's stream is: its Jetq-Id, else the one its sequence makes. */
export function messageJobId(
  queue: string,
  priority: number,
  seq: number,
  headers: MsgHdrs | undefined,
  token: string,
): string {
  const moved = headers?.get(H_JOB_ID);
  const parts = moved ? jobIdParts(moved) : undefined;
  if (moved && parts?.queue === queue && parts.token === token && parts.priority === priority) return moved;
  return formatJobId({ queue, priority, seq, token });
}

/** How long a relocated message the record does not point at may be waiting for its record write. */
const STRAY_GRACE_MS = 15_000;

/**
 * What to do with a relocated message, by the record: run it when the
 * record says it is the job's message (or there is no record any more: it
 * outlived the retention while the job waited); a young one the record does not
 * point at yet may be a moment ahead of its record (published first, then
 * the record's conditional write): look again shortly; an old one lost its
 * record write (a concurrent Retry, a cancel) and is dropped.
 */
export function relocationVerdict(record: RelocationFields | undefined, d: Delivery): "run" | "later" | "drop" {
  // No record at all: it went past the retention while the job waited; nothing claims otherwise.
  if (!record || record.seq === d.streamSeq) return "run";
  const moved = Number(d.headers?.get(H_MOVED));
  return Number.isFinite(moved) && Date.now() - moved < STRAY_GRACE_MS ? "later" : "drop";
}

const decoder = new TextDecoder();

/** What a Retry will need, from the job's message as it was delivered or read. */
export function rerunOf(meta: JobMeta, data: Uint8Array): RerunInfo {
  return {
    ...(meta.inputRef ? { inputRef: meta.inputRef } : { input: data.length > 0 ? decoder.decode(data) : "null" }),
    options: meta.options,
    ...(meta.msgId ? { idem: meta.msgId } : {}),
  };
}

const encoder = new TextEncoder();

/**
 * The rerun info as it fits the record: an input that would make the
 * record too big for a KV value goes to the object store (as an input over
 * max_payload does at Submit) and the record keeps its name.
 */
export async function fittingRerun(
  blobs: BlobStore,
  queue: string,
  token: string,
  rerun: RerunInfo,
  maxInputBytes: number,
): Promise<RerunInfo> {
  if (rerun.input === undefined || rerun.input.length <= maxInputBytes) return rerun;
  const bytes = encoder.encode(rerun.input);
  if (bytes.length <= maxInputBytes) return rerun;
  const inputRef = `in-${queue}-${token}`;
  await blobs.put(inputRef, bytes);
  const { input: _input, ...rest } = rerun;
  return { ...rest, inputRef };
}
