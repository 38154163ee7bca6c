/**
 * Where everything lives in NATS. Every process derives the same names from a
 * queue or job id, so no process needs an index to find another's jobs.
 */
import { DEFAULT_PRIORITY } from "../job-id.js";

export const CONSUMER = "workers";
export const JOBS_BUCKET = "jetq_jobs";
export const QUEUES_BUCKET = "jetq_queues";
export const LOGS_STREAM = "JETQ_LOGS";
/** The index of finished jobs (job-index.ts) and the finished counts (finish-counts.ts). */
export const INDEX_STREAM = "JETQ_INDEX";
export const COUNTS_STREAM = "JETQ_COUNTS";
/** Object store for inputs and results over max_payload. */
export const BLOBS_BUCKET = "jetq_blobs";

/**
 * A queue's stream: `JETQ_Q_<queue>` for the default priority (5), and
 * `JETQ_Q_<queue>_P<n>` for priority n, made when a job first asks for it
 * (priority-levels.ts). Queue names are lower case, so `_P` cannot clash.
 */
export const streamName = (queue: string, priority = DEFAULT_PRIORITY) =>
  priority === DEFAULT_PRIORITY ? `JETQ_Q_${queue}` : `JETQ_Q_${queue}_P${priority}`;
export const queueSubject = (queue: string, priority = DEFAULT_PRIORITY) =>
  priority === DEFAULT_PRIORITY ? `jetq.q.${queue}` : `jetq.q.${queue}.p${priority}`;
/** Matches the subjects of a queue's priority streams, not its default one (STREAM.NAMES filter). */
export const prioritySubjects = (queue: string) => `jetq.q.${queue}.*`;

const LEVEL_SUFFIX = /_P(10|[1-9])$/;

/** The priority a queue stream's name says: 5 for the default stream. */
export function priorityOfStream(stream: string): number {
  const m = LEVEL_SUFFIX.exec(stream);
  return m ? Number(m[1]) : DEFAULT_PRIORITY;
}

/** Live events of one job (core NATS): RUNNING, progress, logs, terminal. */
export const eventSubject = (id: string) => `jetq.ev.${id}`;
export const EVENT_WILDCARD = "jetq.ev.>";
export const EVENT_PREFIX = "jetq.ev.";

/** Cancel signal for the worker running a job (core NATS). */
export const cancelSubject = (id: string) => `jetq.cancel.${id}`;
export const CANCEL_WILDCARD = "jetq.cancel.>";
export const CANCEL_PREFIX = "jetq.cancel.";

/** Log lines kept for later reading, captured by LOGS_STREAM. */
export const logSubject = (id: string) => `jetq.logs.${id}`;
export const LOGS_WILDCARD = "jetq.logs.>";

/** Headers of an enqueued job message. */
export const H_TOKEN = "Jetq-Token";
export const H_CREATED = "Jetq-Created";
export const H_TENANT = "Jetq-Tenant";
export const H_OPTIONS = "Jetq-Options";
/** Set when the input is in the object store: the blob's name; the body is empty. */
export const H_INPUT_REF = "Jetq-Input-Ref";
/** The W3C trace context the job was submitted with, under its standard header names. */
export const H_TRACEPARENT = "traceparent";
export const H_TRACESTATE = "tracestate";

// -- retry and delayed jobs (relocation.ts, delayed.ts) --
/** Delayed jobs until due: one message per job on jetq.delayed.<queue>. */
export const DELAYED_STREAM = "JETQ_DELAYED";
export const DELAYED_WILDCARD = "jetq.delayed.>";
export const delayedSubject = (queue: string) => `jetq.delayed.${queue}`;
/** A job message not at the sequence its id names (a Retry, a delayed job due): the job's id. */
export const H_JOB_ID = "Jetq-Id";
/** When a relocated message was published (epoch ms): a stray one is told apart by its age. */
export const H_MOVED = "Jetq-Moved";
/** A delayed job's run time (epoch ms). */
export const H_DUE = "Jetq-Due";
/** The Nats-Msg-Id of the job's idempotent Submit, on a message published again. */
export const H_IDEM = "Jetq-Idem";

/** Pending webhook deliveries (../webhook-outbox.ts): a work queue any process delivers from. */
export const WEBHOOKS_STREAM = "JETQ_WEBHOOKS";
export const WEBHOOKS_SUBJECT = "jetq.webhooks";
export const WEBHOOKS_CONSUMER = "deliverers";
