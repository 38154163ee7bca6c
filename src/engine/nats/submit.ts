/**
 * Submit: one publish to the queue's stream (input as body, metadata in
 * headers); "no responders" means no stream took it: an undeclared queue,
 * or (in a cluster) a stream without a leader for a moment. The
 * position returned is exact: 0 once a worker is known to have taken the
 * job, else read from a queue snapshot taken after the publish. Idempotent
 * submits add `Nats-Msg-Id` and an `idem.*` key.
 */
import type { JetStreamClient, JetStreamManager, PubAck } from "@nats-io/jetstream";
import { isEngineError, queueNotFound, unavailable } from "../errors.js";
import { formatJobId, newToken, parseJobId } from "../job-id.js";
import type { JobStatus } from "../types.js";
import type { Inserted, NewJob } from "../driver/types.js";
import type { BlobStore } from "./blobs.js";
import { isNoResponders, isStreamNotFound } from "./errors.js";
import { idempotencyKeys, type IdempotencyKeys, type IdempotencyStore } from "./idempotency.js";
import { headersSize, metaHeaders, readMeta, type JobMeta } from "./job-message.js";
import { queueSubject, streamName } from "./layout.js";
import type { PriorityLevels } from "./priority-levels.js";
import { levelKey, type QueueInfoCache } from "./queue-info.js";
import { DEFAULT_PRIORITY } from "../job-id.js";
import { priorityOf } from "../core/priority.js";
import type { Link } from "./connection.js";
import type { RecentJobs } from "./live.js";
import type { DelayedJobs } from "./delayed.js";
import type { JobRef, StateDeriver } from "./state.js";

export interface SubmitDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  blobs: BlobStore;
  idempotency: IdempotencyStore;
  queueInfo: QueueInfoCache;
  deriver: StateDeriver;
  maxPayload(): number;
  requestTimeoutMs: number;
  /** Where this process remembers what it submitted (status reads skip a direct get). */
  recent?: RecentJobs;
  /** Fails the publish at once if the connection drops under it (see connection.ts). */
  link?: Link;
  /** A job of another priority than 5 goes to its level's stream, made on first use. */
  levels?: PriorityLevels;
  /** Jobs waiting in the levels above (level-figures.ts), for the position; none when unset. */
  waitingAbove?(queue: string, priority: number, fresh?: boolean): Promise<number>;
  /** Where jobs with a run time go instead (delayed.ts). */
  delayed?: Pick<DelayedJobs, "submit">;
}

const refOf = (id: string): JobRef => ({ id, ...parseJobId(id) });
const encoder = new TextEncoder();

/** How long a failed publish may wait to learn whether its queue exists at all. */
const STREAM_CHECK_MS = 1_000;

export function createSubmitter(deps: SubmitDeps): (job: NewJob) => Promise<Inserted> {
  const submitter = new Submitter(deps);
  return (job) => submitter.submit(job);
}

/** A job's message as it is published: body, headers and the metadata they carry. */
interface Message {
  data: Uint8Array;
  meta: JobMeta;
  headers: ReturnType<typeof metaHeaders>;
}

class Submitter {
  private readonly deps: SubmitDeps;

  constructor(deps: SubmitDeps) {
    this.deps = deps;
  }

  async submit(job: NewJob): Promise<Inserted> {
    const { queue, tenant } = job;
    const keys = job.idempotencyKey ? idempotencyKeys(tenant, queue, job.idempotencyKey) : undefined;
    if (keys) {
      const existing = await this.existing(keys);
      if (existing) return existing;
    }
    const message = await this.message(job, keys);
    if (job.options.runAt !== undefined && this.deps.delayed) return this.deps.delayed.submit(job, message, keys);
    const priority = priorityOf(job.options);
    const ack = await this.publish(queue, priority, message, keys);
    if (ack.duplicate && keys) return this.repeat(await this.originalOf(queue, priority, ack.seq, keys));
    const { token, createdAt } = message.meta;
    const seq = ack.seq;
    const ref: JobRef = { id: formatJobId({ queue, priority, seq, token }), queue, priority, seq, token };
    if (keys) {
      const winner = await this.deps.idempotency.claim(keys, ref.id);
      if (winner !== ref.id) {
        // Another submit of the same key won (e.g. to another queue): ours must not run.
        await this.deps.jsm.streams.deleteMessage(streamName(queue, priority), seq, false).catch(() => undefined);
        this.deps.queueInfo.invalidate(levelKey(queue, priority));
        return this.repeat(winner);
      }
    }
    const recent = this.deps.recent?.submitted(ref.id, keys ? { ...message.meta, msgId: keys.msgId } : message.meta);
    const { status, deliveredHere } = await this.queuedStatus(ref, createdAt);
    // A worker of this process took the job: it begins it within this turn
    // of the event loop, while nobody else can know the id and so no cancel
    // can exist: its begin() needs no ping round trip. Answer once it has
    // looked (or a turn later: a lease held without begin() must not hold us).
    if (recent && deliveredHere) {
      await new Promise<void>((resolve) => {
        recent.disclosureChecked = resolve;
        setImmediate(resolve);
      });
      recent.disclosureChecked = undefined;
    }
    // From here on the id is known outside this process (see RecentJob.disclosed).
    if (recent) recent.disclosed = true;
    return { status, fresh: true };
  }

  /** The answer for a key already recorded, or undefined when the key is free. */
  private async existing(keys: IdempotencyKeys): Promise<Inserted | undefined> {
    const existing = await this.deps.idempotency.lookup(keys);
    if (!existing) return undefined;
    try {
      return await this.repeat(existing);
    } catch (err) {
      // Its job expired a moment before its key: the key is free again.
      if (!isEngineError(err, "not_found")) throw err;
      await this.deps.idempotency.free(keys, existing);
      return undefined;
    }
  }

  private async message(job: NewJob, keys: IdempotencyKeys | undefined): Promise<Message> {
    const token = newToken();
    const createdAt = Date.now();
    const data = encoder.encode(job.inputJson);
    const meta: JobMeta = { token, createdAt, tenant: job.tenant, options: job.options };
    if (job.trace) meta.trace = job.trace;
    const headers = metaHeaders(meta);
    const size = data.length + headersSize(headers) + (keys ? keys.msgId.length + 16 : 0);
    if (size <= this.deps.maxPayload()) return { data, meta, headers };
    // Too big for one message: the input goes to the object store, the message carries its name.
    const inputRef = `in-${job.queue}-${token}`;
    await this.deps.blobs.put(inputRef, data);
    const withRef = { ...meta, inputRef };
    return { data: new Uint8Array(0), meta: withRef, headers: metaHeaders(withRef) };
  }

  private async publish(
    queue: string,
    priority: number,
    message: Message,
    keys: IdempotencyKeys | undefined,
    retry = true,
  ): Promise<PubAck> {
    const { js, link, levels } = this.deps;
    try {
      // Only the publish: once the job is stored, Submit must not fail (the client would submit it again).
      const publishing = js.publish(queueSubject(queue, priority), message.data, {
        headers: message.headers,
        timeout: this.deps.requestTimeoutMs,
        ...(keys ? { msgID: keys.msgId } : {}),
      });
      return await (link ? link.whileConnected(publishing, `submitting to queue "${queue}"`) : publishing);
    } catch (err) {
      if (!isNoResponders(err)) throw err;
      // The first job of a priority level: make its stream (any process may), then publish again.
      if (priority !== DEFAULT_PRIORITY && retry && levels && (await levels.ensure(queue, priority))) {
        return this.publish(queue, priority, message, keys, false);
      }
      throw await this.noStreamAnswered(queue, priority, err);
    }
  }

  /**
   * Nobody stored the publish. NOT_FOUND only when JetStream says the stream
   * does not exist; a stream that exists but has no leader (a cluster node
   * died, an election runs) or no answer in time is UNAVAILABLE: the client
   * retries instead of concluding the queue is gone.
   */
  private async noStreamAnswered(queue: string, priority: number, cause: unknown): Promise<Error> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waitMs = Math.min(STREAM_CHECK_MS, this.deps.requestTimeoutMs);
    const exists = await Promise.race([
      this.deps.jsm.streams.info(streamName(queue, priority)).then(
        () => true,
        (err: unknown) => (isStreamNotFound(err) ? false : undefined),
      ),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), waitMs))),
    ]);
    clearTimeout(timer);
    if (exists === false) return queueNotFound(queue);
    return unavailable(`queue "${queue}": its stream took no message (no stream leader right now?); retry`, cause);
  }

  /** Submit answers for the moment of enqueueing, exact as of a moment after it. */
  private async queuedStatus(ref: JobRef, createdAt: number): Promise<{ status: JobStatus; deliveredHere: boolean }> {
    const status: JobStatus = { id: ref.id, queue: ref.queue, state: "QUEUED", attempt: 0, progress: 0, createdAt };
    try {
      const key = levelKey(ref.queue, ref.priority);
      const [{ position, deliveredHere, delivered }, above] = await Promise.all([
        this.deps.queueInfo.positionAfterPublish(key, ref.seq),
        // As the job's own stream's, their snapshots are taken after the publish.
        this.deps.waitingAbove?.(ref.queue, ref.priority, true) ?? 0,
      ]);
      // Higher levels' waiting jobs run first, unless a worker took this one already.
      return { status: { ...status, queuePosition: delivered ? 0 : position + above }, deliveredHere };
    } catch {
      // The job is stored: failing the call now (its consumer electing a
      // leader, NATS going away) would have the client submit it again.
      // Answer without a position instead.
      return { status, deliveredHere: false };
    }
  }

  /** The job a duplicate publish (same Nats-Msg-Id) points at. */
  private async originalOf(queue: string, priority: number, seq: number, keys: IdempotencyKeys): Promise<string> {
    const deadline = Date.now() + this.deps.requestTimeoutMs;
    for (;;) {
      const recorded = await this.deps.idempotency.lookup(keys);
      if (recorded) return recorded;
      const m = await this.deps.jsm.direct.getMessage(streamName(queue, priority), { seq }).catch(() => null);
      const meta = m ? readMeta(m.header) : undefined;
      if (meta) return formatJobId({ queue, priority, seq, token: meta.token });
      if (Date.now() > deadline) {
        throw unavailable(`idempotent submit: the original job of this key is not readable yet; retry`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async repeat(id: string): Promise<Inserted> {
    return { status: await this.deps.deriver.status(refOf(id)), fresh: false };
  }
}
