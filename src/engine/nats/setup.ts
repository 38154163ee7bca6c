/**
 * Creates (idempotently, from any number of processes at once) the streams,
 * consumers and buckets of docs/ARCHITECTURE.md §5.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { nanos } from "@nats-io/transport-node";
import { DEFAULT_PRIORITY } from "../job-id.js";
import type { QueueConfig } from "../types.js";
import { isConsumerNotFound, isStreamNotFound } from "./errors.js";
import {
  CONSUMER,
  DELAYED_STREAM,
  DELAYED_WILDCARD,
  JOBS_BUCKET,
  LOGS_STREAM,
  LOGS_WILDCARD,
  QUEUES_BUCKET,
  queueSubject,
  streamName,
} from "./layout.js";

export interface LayoutOptions {
  storage: "file" | "memory";
  replicas: number;
  retentionMs: number;
  requestTimeoutMs: number;
  /** Log lines kept per job (the newest): the logs stream's max_msgs_per_subject; unset = no limit. */
  logLinesPerJob?: number;
}

export interface SharedResources {
  jobs: KV;
  queues: KV;
}

/** Deliveries a worker may hold unacked across all processes of one queue. */
const MAX_ACK_PENDING = 20_000;

const storageType = (s: "file" | "memory") => (s === "memory" ? StorageType.Memory : StorageType.File);

export async function ensureShared(
  js: JetStreamClient,
  jsm: JetStreamManager,
  o: LayoutOptions,
): Promise<SharedResources> {
  const kvm = new Kvm(js);
  const [jobs, queues] = await Promise.all([
    kvm.create(JOBS_BUCKET, {
      history: 1,
      ttl: o.retentionMs,
      storage: storageType(o.storage),
      replicas: o.replicas,
      timeout: o.requestTimeoutMs,
    }),
    kvm.create(QUEUES_BUCKET, {
      history: 1,
      storage: storageType(o.storage),
      replicas: o.replicas,
      timeout: o.requestTimeoutMs,
    }),
    ensureStream(jsm, {
      name: LOGS_STREAM,
      subjects: [LOGS_WILDCARD],
      retention: RetentionPolicy.Limits,
      max_age: nanos(o.retentionMs),
      storage: storageType(o.storage),
      num_replicas: o.replicas,
      discard: DiscardPolicy.Old,
      ...(o.logLinesPerJob !== undefined ? { max_msgs_per_subject: o.logLinesPerJob } : {}),
    }),
    // Delayed jobs until due (delayed.ts): each message is deleted when its job moves, no max age.
    ensureStream(jsm, {
      name: DELAYED_STREAM,
      subjects: [DELAYED_WILDCARD],
      retention: RetentionPolicy.Limits,
      storage: storageType(o.storage),
      num_replicas: o.replicas,
      allow_direct: true,
      discard: DiscardPolicy.Old,
    }),
  ]);
  // Buckets and streams keep the config they were created with: a changed
  // JETQ_RETENTION_MS must reach them, or records would live as long as the
  // first process said.
  await Promise.all([
    ensureMaxAge(jsm, `KV_${JOBS_BUCKET}`, o.retentionMs),
    ensureMaxAge(jsm, LOGS_STREAM, o.retentionMs, o.logLinesPerJob),
  ]);
  return { jobs, queues };
}

/**
 * Sets a stream's max_age to retentionMs (and its max_msgs_per_subject when
 * given) when they differ; a stream that does not exist yet is left alone.
 */
export async function ensureMaxAge(
  jsm: JetStreamManager,
  stream: string,
  retentionMs: number,
  perSubject?: number,
): Promise<void> {
  let info;
  try {
    info = await jsm.streams.info(stream);
  } catch (err) {
    if (isStreamNotFound(err)) return;
    throw err;
  }
  const want = nanos(retentionMs);
  const perSubjectOk = perSubject === undefined || info.config.max_msgs_per_subject === perSubject;
  if (info.config.max_age === want && perSubjectOk) return;
  // The server refuses a duplicates window longer than max_age.
  const window = info.config.duplicate_window;
  await jsm.streams.update(stream, {
    ...info.config,
    max_age: want,
    ...(window !== undefined && window > want ? { duplicate_window: want } : {}),
    ...(perSubject !== undefined ? { max_msgs_per_subject: perSubject } : {}),
  });
}

/** The queue's stream and consumer of one priority level (default: the queue's own stream). */
export async function ensureQueue(
  jsm: JetStreamManager,
  queue: string,
  config: QueueConfig,
  o: LayoutOptions,
  priority = DEFAULT_PRIORITY,
) {
  const stream = streamName(queue, priority);
  await ensureStream(jsm, {
    name: stream,
    subjects: [queueSubject(queue, priority)],
    retention: RetentionPolicy.Workqueue,
    storage: storageType(o.storage),
    num_replicas: o.replicas,
    allow_direct: true,
    discard: DiscardPolicy.Old,
  });
  const ackWait = nanos(config.ackWaitMs);
  try {
    const ci = await jsm.consumers.info(stream, CONSUMER);
    if (ci.config.ack_wait !== ackWait) {
      await jsm.consumers.update(stream, CONSUMER, { ack_wait: ackWait });
    }
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
    try {
      await jsm.consumers.add(stream, {
        durable_name: CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        // Attempts are counted by the engine (deliveryCount minus releases).
        max_deliver: -1,
        max_ack_pending: MAX_ACK_PENDING,
        // A pull waits at most a few seconds; allow many workers to wait at once.
        max_waiting: 4096,
      });
    } catch (addErr) {
      // Another process created it at the same moment: fine if it exists now.
      await jsm.consumers.info(stream, CONSUMER).catch(() => {
        throw addErr;
      });
    }
  }
}

export type StreamSpec = Parameters<JetStreamManager["streams"]["add"]>[0];

export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  try {
    await jsm.streams.info(spec.name);
    return;
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add(spec);
  } catch (err) {
    await jsm.streams.info(spec.name).catch(() => {
      throw err;
    });
  }
}
