/**
 * GetStatus include_input on JetStream: where a job's input is in each
 * state (docs/ARCHITECTURE.md §5). While the job's message is in a stream
 * (QUEUED, RUNNING, a retry's backoff; a delayed job's in JETQ_DELAYED) it
 * is read from there, where job-place.ts says the message is. Once the job
 * is settled its message is gone and its terminal record keeps the input:
 * COMPLETED as `input` (or `inputRef`, attempt-records.ts), FAILED,
 * CANCELLED and EXPIRED in `rerun` (relocation.ts). An input too big for a
 * message or a record is in the object store, by name.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { JobRef } from "../driver/types.js";
import { isTerminal, type ReadOptions } from "../types.js";
import type { BlobStore } from "./blobs.js";
import { isMessageNotFound, isNoResponders, isStreamNotFound } from "./errors.js";
import { decodeInput, readMeta, type JobMeta } from "./job-message.js";
import { placeOf } from "./job-place.js";
import type { JobRecord, RecordStore } from "./records.js";
import type { StateDeriver } from "./state.js";

export interface InputDeps {
  jsm: JetStreamManager;
  records: RecordStore;
  blobs: BlobStore;
  deriver: Pick<StateDeriver, "notFound">;
  queueDeclared(queue: string): Promise<boolean>;
}

/** The input as submitted; undefined when it was not kept. NOT_FOUND as a status read. */
export async function readInput(deps: InputDeps, ref: JobRef, options: ReadOptions): Promise<JsonValue | undefined> {
  let last: JobRecord | undefined;
  // Twice at most: a message gone between the two reads was settled, and a
  // record is written before its message leaves, so the next read finds it.
  for (let round = 0; round < 2; round++) {
    const record = (await deps.records.get(ref.id))?.record;
    last = record ?? last;
    if (record) {
      await assertTenant(deps, ref, options, record.tenant);
      if (isTerminal(record.state)) return keptInput(deps.blobs, record);
    } else if (!(await deps.queueDeclared(ref.queue))) {
      // No stream to ask (a direct get to a missing stream waits for its timeout).
      break;
    }
    const message = await messageOf(deps.jsm, ref, record);
    if (message) {
      await assertTenant(deps, ref, options, message.meta.tenant);
      return messageInput(deps.blobs, message.meta, message.data);
    }
  }
  // A record without its message (it should not happen): answered without input.
  if (last) return undefined;
  throw await deps.deriver.notFound(ref, options);
}

async function assertTenant(deps: InputDeps, ref: JobRef, options: ReadOptions, tenant: string): Promise<void> {
  // Answered as a made-up id would be, so a real id of another tenant tells nothing.
  if (options.tenant !== undefined && options.tenant !== tenant) throw await deps.deriver.notFound(ref, options);
}

/** What a finished job's record kept of its input; undefined for a job that ended before it was kept. */
async function keptInput(blobs: BlobStore, record: JobRecord): Promise<JsonValue | undefined> {
  if (record.input !== undefined) return record.input;
  const text = record.rerun?.input;
  if (text !== undefined) return decodeText(text);
  const name = record.inputRef ?? record.rerun?.inputRef;
  const blob = name ? await blobs.get(name) : undefined;
  // A blob counts its retention from Submit: one of a job that waited long may be gone before the record.
  return blob ? decodeInput(blob) : undefined;
}

const decodeText = (text: string): JsonValue => (text.length > 0 ? (JSON.parse(text) as JsonValue) : null);

/** The job's message where its record (or its id) says it is, when it is there and its token matches. */
async function messageOf(
  jsm: JetStreamManager,
  ref: JobRef,
  record: JobRecord | undefined,
): Promise<{ meta: JobMeta; data: Uint8Array } | undefined> {
  const { stream, seq } = placeOf(ref, record);
  // Stream sequences start at 1 (a delayed job's id names seq 0 until it moves).
  if (seq < 1) return undefined;
  let m: StoredMsg | null;
  try {
    m = await jsm.direct.getMessage(stream, { seq });
  } catch (err) {
    if (isNoResponders(err) || isStreamNotFound(err) || isMessageNotFound(err)) return undefined;
    throw err;
  }
  const meta = m ? readMeta(m.header) : undefined;
  return m && meta?.token === ref.token ? { meta, data: m.data } : undefined;
}

async function messageInput(blobs: BlobStore, meta: JobMeta, data: Uint8Array): Promise<JsonValue | undefined> {
  if (!meta.inputRef) return decodeInput(data);
  const blob = await blobs.get(meta.inputRef);
  return blob ? decodeInput(blob) : undefined;
}
