/** What a NatsJobDelivery (job-delivery.ts) works with: the stores and this process's knowledge. */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { QueueConfig } from "../types.js";
import type { JobRef } from "../driver/types.js";
import type { BlobStore } from "./blobs.js";
import type { Link } from "./connection.js";
import type { Delivery } from "./delivery.js";
import type { EventHub } from "./events.js";
import type { IdempotencyStore } from "./idempotency.js";
import type { JobIndex } from "./job-index.js";
import type { JobMeta } from "./job-message.js";
import type { LiveJobs } from "./live.js";
import type { LogStore } from "./logs.js";
import type { RecordStore, RunAccount } from "./records.js";

export interface DeliveryContext {
  records: RecordStore;
  events: EventHub;
  live: LiveJobs;
  logs: LogStore;
  /** Largest record that fits in a KV value on this server. */
  maxRecordBytes: number;
  /** Where outputs too big for a record go. */
  blobs: BlobStore;
  /** Keys of idempotent submits, refreshed when their job finishes. */
  idempotency?: IdempotencyStore;
  /** The index of finished jobs: told before a terminal record is written (job-index.ts). */
  index?: Pick<JobIndex, "add">;
  /** Called when this process changed what a queue snapshot would show. */
  touched(queue: string): void;
  /** Registers a live lease for cancel signals; returns the unregister. */
  onCancel(id: string, fn: () => void): () => void;
  /** Whether this process learnt that the job is finished (a cancel signal, a terminal event). */
  knownFinished(id: string): boolean;
  /** The job runs again (a Retry read QUEUED): an end noted before is over. */
  reopened?(id: string): void;
  /**
   * Whether nobody outside this process can know the job's id yet (its
   * Submit, here, has not returned): then nobody can have cancelled it.
   */
  undisclosed?(id: string): boolean;
  /** A first delivery's inspect() has asked undisclosed(): its Submit may answer now. */
  disclosureChecked?(id: string): void;
  /** Fails calls at once while the connection is down (see connection.ts). */
  link?: Link;
  logger?: Logger;
}

export interface DeliverySpec {
  ref: JobRef;
  input: JsonValue;
  meta: JobMeta;
  run: RunAccount;
  config: QueueConfig;
  delivery: Delivery;
  /** A message published again under the job's id (relocation.ts): its record is always read. */
  relocated?: boolean;
}
