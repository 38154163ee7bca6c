/**
 * Job records in KV `jetq_jobs`, key = job id: written only for what cannot be
 * derived from the stream (a terminal outcome, a retry's pending state). Every
 * write is conditional on the revision read before, so exactly one outcome wins.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { KV } from "@nats-io/kv";
import type { JobError, JobState } from "../types.js";
import { isWrongLastSequence } from "./errors.js";

export interface JobRecord {
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
  /** Deliveries handed back with release() before they began: not attempts at all. */
  released?: number;
  /**
   * Attempts handed back after they began (shutdown): numbered, so the rerun
   * knows it is one, but not counted against max_attempts.
   */
  interrupted?: number;
  /**
   * Leases lost so far (the worker died or stalled: no outcome within the
   * ack wait), counted by the delivery after each: see lostLeasesBefore.
   */
  lost?: number;
}

/**
 * Lost leases before the delivery numbered `attempt`: those the record
 * counted, plus every earlier attempt after the last one whose end the record
 * shows (fail and release write QUEUED with their attempt; begin writes
 * RUNNING, which only a lost lease leaves behind).
 */
export function lostLeasesBefore(attempt: number, prior: JobRecord | undefined): number {
  if (!prior) return attempt - 1;
  const endedUpTo = prior.state === "RUNNING" ? prior.attempt - 1 : prior.attempt;
  return (prior.lost ?? 0) + Math.max(0, attempt - 1 - endedUpTo);
}

export interface StoredRecord {
  record: JobRecord;
  revision: number;
}

export interface RecordStore {
  get(id: string): Promise<StoredRecord | undefined>;
  /**
   * Writes record if the key is still at `revision` (0 = must not exist).
   * Resolves the new revision, or undefined when another writer won.
   * `encoded`: the record as encode() returned it, when the caller has it.
   */
  write(id: string, record: JobRecord, revision: number, encoded?: Uint8Array): Promise<number | undefined>;
  /** The record as stored (its length is what must stay under max_payload). */
  encode(record: JobRecord): Uint8Array;
}

const encoder = new TextEncoder();

export function createRecordStore(kv: KV): RecordStore {
  return {
    async get(id) {
      const e = await kv.get(id);
      if (!e || e.operation !== "PUT" || e.length === 0) return undefined;
      return { record: e.json<JobRecord>(), revision: e.revision };
    },
    async write(id, record, revision, encoded) {
      const data = encoded ?? encoder.encode(JSON.stringify(record));
      try {
        return revision === 0 ? await kv.create(id, data) : await kv.update(id, data, revision);
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined;
        throw err;
      }
    },
    encode(record) {
      return encoder.encode(JSON.stringify(record));
    },
  };
}
