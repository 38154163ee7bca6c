/**
 * Job records in KV `jetq_jobs`, key = `job.<queue>.<token>`: written for what
 * cannot be derived from the stream (that an attempt began, a terminal
 * outcome, a retry's pending state). Every write is conditional on the
 * revision read before, so exactly one outcome wins. The key leaves the
 * stream sequence out: a job's identity is its token, so a copy of its
 * message under another sequence (a cluster node whose stream diverged)
 * finds the job's record and is dropped rather than run again.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { KV } from "@nats-io/kv";
import type { JobError, JobState } from "../types.js";
import { jobIdParts } from "../job-id.js";
import { isWrongLastSequence } from "./errors.js";
import type { RelocationFields } from "./relocation.js";

/** The KV key of a job's record: by queue and token, whatever sequence the id names. */
export function recordKey(id: string): string {
  const parts = jobIdParts(id);
  return parts ? `job.${parts.queue}.${parts.token}` : id;
}

/** RelocationFields: only retried and delayed jobs' records have them (relocation.ts). */
export interface JobRecord extends RelocationFields {
  state: JobState;
  queue: string;
  tenant: string;
  createdAt: number;
  attempt: number;
  progress: number;
  startedAt?: number;
  finishedAt?: number;
  error?: JobError;
  output?: JsonValue;
  /** Object store name of the output, when it was too big for the record. */
  outputRef?: string;
  /**
   * On COMPLETED records: the input as submitted (GetStatus include_input),
   * written from the message's bytes (see encode); FAILED, CANCELLED and
   * EXPIRED records keep it in `rerun` instead.
   */
  input?: JsonValue;
  /** On COMPLETED records: object store name of the input, when it is there (too big for a message or record). */
  inputRef?: string;
  /** Deliveries handed back with release() before they began: not attempts at all. */
  released?: number;
  /**
   * Attempts handed back after they began (shutdown): numbered, so the rerun
   * knows it is one, but not counted against max_attempts.
   */
  interrupted?: number;
  /**
   * Leases lost so far (the worker died or stalled: no outcome within the
   * ack wait), counted by the delivery after each: see runAccount.
   */
  lost?: number;
}

/** What a delivery's attempt is and what came before it, as the job's record says. */
export interface RunAccount {
  attempt: number;
  released: number;
  interrupted: number;
  lost: number;
}

/**
 * The account of a delivery, from the record alone: every attempt that
 * began wrote RUNNING with its number, and every end but a crash wrote
 * another state (fail, release, a terminal outcome). So the attempt is one
 * past the record's, and a RUNNING record left behind is one more lost
 * lease. The server's delivery count is not used: deliveries that never
 * began (into a dead worker's pull) are not runs, and nats-server 2.9 can
 * redeliver a message whose lease lapsed as delivery 1 again.
 */
export function runAccount(prior: JobRecord | undefined): RunAccount {
  return {
    attempt: (prior?.attempt ?? 0) + 1,
    released: prior?.released ?? 0,
    interrupted: prior?.interrupted ?? 0,
    lost: (prior?.lost ?? 0) + (prior?.state === "RUNNING" ? 1 : 0),
  };
}

export interface StoredRecord {
  record: JobRecord;
  revision: number;
  /** When it was written (epoch ms): the bucket's TTL counts from then. */
  writtenAt?: number;
}

export interface RecordStore {
  get(id: string): Promise<StoredRecord | undefined>;
  /**
   * Writes record if the key is still at `revision` (0 = must not exist).
   * Resolves the new revision, or undefined when another writer won.
   * `encoded`: the record as encode() returned it, when the caller has it.
   */
  write(id: string, record: JobRecord, revision: number, encoded?: Uint8Array): Promise<number | undefined>;
  /**
   * The record as stored (its length is what must stay under max_payload).
   * `outputJson`: record.output as JSON text, when the caller has it.
   * `inputJson`: the input as the job's message holds it (JSON text), added
   * as field `input` (the record must not have one).
   */
  encode(record: JobRecord, outputJson?: string, inputJson?: Uint8Array): Uint8Array;
}

const encoder = new TextEncoder();
const NULL_JSON = encoder.encode("null");
const CLOSE_BRACE = 0x7d;

/** head + value + "}": the record's JSON with a field's raw value last. */
function spliced(head: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + value.length + 1);
  out.set(head);
  out.set(value, head.length);
  out[out.length - 1] = CLOSE_BRACE;
  return out;
}

export function createRecordStore(kv: KV): RecordStore {
  return {
    async get(id) {
      const e = await kv.get(recordKey(id));
      if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
      return { record: e.json<JobRecord>(), revision: e.revision, writtenAt: e.created.getTime() };
    },
    async write(id, record, revision, encoded) {
      const data = encoded ?? encoder.encode(JSON.stringify(record));
      try {
        const key = recordKey(id);
        return revision === 0 ? await kv.create(key, data) : await kv.update(key, data, revision);
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined;
        throw err;
      }
    },
    encode(record, outputJson, inputJson) {
      let text: string;
      if (outputJson === undefined || record.output === undefined) {
        text = JSON.stringify(record);
      } else {
        // The output as the core already encoded it (its size check), not stringified a second time.
        const { output: _output, ...rest } = record;
        text = `${JSON.stringify(rest).slice(0, -1)},"output":${outputJson}}`;
      }
      if (inputJson === undefined) return encoder.encode(text);
      // The message's bytes as they are: neither decoded nor parsed (a job's happy path pays a copy).
      return spliced(encoder.encode(`${text.slice(0, -1)},"input":`), inputJson.length > 0 ? inputJson : NULL_JSON);
    },
  };
}
