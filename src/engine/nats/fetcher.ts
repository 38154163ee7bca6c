/**
 * Worker side of the engine: one pull of at most `max` deliveries from the
 * queue's `workers` consumer, turned into leases. A redelivery's attempt and
 * lost leases come from the job's record (runAccount); one after a lost lease
 * too many ends the job FAILED (WORKER_LOST, see lost-leases.ts) instead of
 * becoming a lease.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { JobEventListener } from "../job-events.js";
import { refusalOf } from "../lost-leases.js";
import { isTerminal, type JobError, type QueueConfig } from "../types.js";
import type { DriverDelivery } from "../driver/types.js";
import type { BlobStore } from "./blobs.js";
import type { Delivery } from "./delivery.js";
import { statusEventOf, type EventHub } from "./events.js";
import { decodeInput, readMeta, type JobMeta } from "./job-message.js";
import type { LateDeliveries } from "./late-deliveries.js";
import { CONSUMER, priorityOfStream, streamName } from "./layout.js";
import { NatsJobDelivery, type DeliveryContext } from "./job-delivery.js";
import type { JobIndex } from "./job-index.js";
import type { LiveJobs } from "./live.js";
import type { PriorityLevels } from "./priority-levels.js";
import { byPriority, pullByPriority } from "./priority-pull.js";
import { pullBatch } from "./pull.js";
import { levelKey, type QueueInfoCache } from "./queue-info.js";
import { runAccount, type JobRecord, type RecordStore } from "./records.js";
import { deliveredJob, relocationVerdict, rerunOf } from "./relocation.js";

/** When a relocated message is a moment ahead of its record: look again this much later. */
const STRAY_RECHECK_MS = 250;

export interface FetcherDeps {
  nc: NatsConnection;
  records: RecordStore;
  blobs: BlobStore;
  events: EventHub;
  live: LiveJobs;
  late: LateDeliveries;
  queueInfo: QueueInfoCache;
  deliveryContext: DeliveryContext;
  /** The index of finished jobs, told before a WORKER_LOST record is written. */
  index?: Pick<JobIndex, "add">;
  requestTimeoutMs: number;
  logger?: Logger;
  /** Pull requests the server may still deliver to after fetch returned. */
  outstanding(serverOver: Promise<void>): void;
  /** The queue's priority levels: with more than the default, pulls take the highest first. */
  levels?: PriorityLevels;
}

export interface Fetcher {
  /** Where terminal transitions made at fetch (no lease) are told: see ../job-events.ts. */
  setEventSink(sink: JobEventListener): void;
  fetch(
    queue: string,
    config: QueueConfig,
    max: number,
    expiresMs: number,
    signal: AbortSignal,
  ): Promise<DriverDelivery[]>;
  /** Returns a delivery nobody will run as a release: the next delivery keeps its attempt number. */
  handBack(queue: string, config: QueueConfig, d: Delivery): Promise<void>;
}

export function createFetcher(deps: FetcherDeps): Fetcher {
  return new NatsFetcher(deps);
}

class NatsFetcher implements Fetcher {
  private readonly deps: FetcherDeps;
  private eventSink: JobEventListener = () => {};

  constructor(deps: FetcherDeps) {
    this.deps = deps;
  }

  setEventSink(sink: JobEventListener): void {
    this.eventSink = sink;
  }

  async handBack(queue: string, config: QueueConfig, d: Delivery): Promise<void> {
    const meta = readMeta(d.headers);
    if (!meta) return d.ack();
    const { id, relocated } = deliveredJob(queue, d, meta);
    const prior = d.deliveryCount > 1 || relocated ? await this.deps.records.get(id) : undefined;
    if (prior && isTerminal(prior.record.state)) return d.ack();
    const ref = { id, queue, priority: priorityOfStream(d.stream), seq: d.streamSeq, token: meta.token };
    const spec = { ref, input: null, meta, run: runAccount(prior?.record), config, delivery: d, relocated };
    await new NatsJobDelivery(this.deps.deliveryContext, spec).release();
  }

  async fetch(
    queue: string,
    config: QueueConfig,
    max: number,
    expiresMs: number,
    signal: AbortSignal,
  ): Promise<DriverDelivery[]> {
    const deliveries = await this.pull(queue, config, max, expiresMs, signal);
    if (deliveries.length > 0) this.deps.queueInfo.invalidateQueue(queue);
    const out: DriverDelivery[] = [];
    for (const d of deliveries) {
      const lease = await this.leaseOf(queue, config, d);
      if (lease) out.push(lease);
    }
    return out;
  }

  /** The delivery as a lease, or undefined when it was settled without one. */
  private async leaseOf(queue: string, config: QueueConfig, d: Delivery): Promise<DriverDelivery | undefined> {
    const meta = readMeta(d.headers);
    if (!meta) {
      // Not a jetq job message: nobody can run it.
      await d.ack();
      return undefined;
    }
    const { id, relocated } = deliveredJob(queue, d, meta);
    let prior: { record: JobRecord; revision: number } | undefined;
    if (d.deliveryCount > 1 || relocated) {
      prior = await this.deps.records.get(id);
      const verdict = relocated ? relocationVerdict(prior?.record, d) : "run";
      if (verdict !== "run") {
        await (verdict === "later" ? d.nak(STRAY_RECHECK_MS) : d.ack());
        return undefined;
      }
      if (prior && isTerminal(prior.record.state)) {
        await d.ack();
        return undefined;
      }
    }
    const run = runAccount(prior?.record);
    const refusal = refusalOf(run, meta.options, config);
    if (refusal) {
      await this.failUndelivered(id, queue, meta, run, prior, d, refusal);
      return undefined;
    }
    const input = await this.inputOf(id, meta, d);
    const ref = { id, queue, priority: priorityOfStream(d.stream), seq: d.streamSeq, token: meta.token };
    return new NatsJobDelivery(this.deps.deliveryContext, { ref, input, meta, run, config, delivery: d, relocated });
  }

  private async pull(
    queue: string,
    config: QueueConfig,
    max: number,
    expiresMs: number,
    signal: AbortSignal,
  ): Promise<Delivery[]> {
    const { late, queueInfo } = this.deps;
    const levels = (await this.deps.levels?.of(queue)) ?? [];
    if (levels.length > 1) return this.pullLevels(queue, levels, config, max, expiresMs, signal);
    const stashed = late.take(queue, max);
    if (stashed.length > 0) return stashed;
    // A late delivery of an earlier pull of this process ends this wait, and so
    // does a new priority level (the next fetch pulls it too).
    const grown = this.deps.levels?.grown(queue);
    const { handed, stop, unwait } = waitForLate(late, queue);
    let got: Delivery[];
    try {
      got = await pullBatch(this.deps.nc, {
        stream: streamName(queue),
        consumer: CONSUMER,
        batch: max,
        expiresMs,
        signal: AbortSignal.any(grown ? [signal, stop.signal, grown] : [signal, stop.signal]),
        ackTimeoutMs: this.deps.requestTimeoutMs,
        onLate: (d) => {
          queueInfo.noteDelivered(queue, d.streamSeq);
          late.put(queue, d, config.ackWaitMs);
        },
        onOutstanding: this.deps.outstanding,
      });
    } finally {
      unwait();
    }
    for (const d of got) queueInfo.noteDelivered(queue, d.streamSeq, d.deliveryCount === 1);
    const all = [...handed, ...got];
    // Never more than max: the surplus waits for the next fetch.
    for (const d of all.splice(max)) late.put(queue, d, config.ackWaitMs);
    return all;
  }

  /** pull() for a queue with several priority levels (priority-pull.ts): highest first. */
  private async pullLevels(
    queue: string,
    levels: number[],
    config: QueueConfig,
    max: number,
    expiresMs: number,
    signal: AbortSignal,
  ): Promise<Delivery[]> {
    const { late, queueInfo } = this.deps;
    const noted = (d: Delivery, here?: boolean) =>
      queueInfo.noteDelivered(levelKey(queue, priorityOfStream(d.stream)), d.streamSeq, here);
    // Held deliveries first only when no level above them has a job waiting.
    const stashed = late.take(queue, max);
    const above = stashed.length > 0 ? levels.filter((p) => p > priorityOfStream(stashed.at(-1)!.stream)) : levels;
    const { handed, stop, unwait } = waitForLate(late, queue);
    let got: Delivery[] = [];
    try {
      if (above.length > 0) {
        got = await pullByPriority(this.deps.nc, {
          queue,
          levels: above,
          max,
          // With held deliveries in hand there is no waiting: only what is there now.
          expiresMs: stashed.length > 0 ? 0 : expiresMs,
          signal: AbortSignal.any([signal, stop.signal, this.deps.levels!.grown(queue)]),
          ackTimeoutMs: this.deps.requestTimeoutMs,
          onLate: (d) => {
            noted(d);
            late.put(queue, d, config.ackWaitMs);
          },
          onOutstanding: this.deps.outstanding,
        });
      }
    } finally {
      unwait();
    }
    for (const d of got) noted(d, d.deliveryCount === 1);
    const all = [...stashed, ...handed, ...got].sort(byPriority);
    for (const d of all.splice(max)) late.put(queue, d, config.ackWaitMs);
    return all;
  }

  /**
   * Ends the job FAILED with `error` at this delivery, without running it.
   * The write is conditional; when another writer got in between (a stale
   * lease's retry record), look again rather than ack a message whose job
   * is not finished.
   */
  private async failUndelivered(
    id: string,
    queue: string,
    meta: JobMeta,
    spec: { attempt: number; lost: number },
    prior: { record: JobRecord; revision: number } | undefined,
    d: Delivery,
    error: JobError,
  ): Promise<void> {
    const { records, live, events } = this.deps;
    for (let round = 0; round < 3; round++) {
      if (prior && isTerminal(prior.record.state)) break;
      const record: JobRecord = {
        ...(prior?.record ?? {}),
        state: "FAILED",
        queue,
        tenant: meta.tenant,
        createdAt: meta.createdAt,
        // The last attempt that ran; this delivery does not.
        attempt: spec.attempt - 1,
        progress: prior?.record.progress ?? live.get(id)?.progress ?? 0,
        finishedAt: Date.now(),
        error,
        ...(spec.lost ? { lost: spec.lost } : {}),
        rerun: rerunOf(meta, d.data),
      };
      delete record.undelivered;
      const { finishedAt } = record;
      await this.deps.index?.add({ id, queue, state: "FAILED", tenant: meta.tenant, finishedAt: finishedAt! });
      const rev = await records.write(id, record, prior?.revision ?? 0);
      if (rev !== undefined) {
        live.forget(id);
        events.publish(id, statusEventOf(record));
        this.tellFailed(id, queue, meta, record);
        break;
      }
      prior = await records.get(id);
    }
    await d.ack();
  }

  private tellFailed(id: string, queue: string, meta: JobMeta, record: JobRecord): void {
    const { attempt, createdAt, startedAt, finishedAt, error } = record;
    this.eventSink({
      kind: "finished",
      state: "FAILED",
      queue,
      id,
      tenant: meta.tenant,
      attempt,
      createdAt,
      ...(startedAt !== undefined ? { startedAt } : {}),
      finishedAt: finishedAt ?? Date.now(),
      ...(error ? { error } : {}),
      options: meta.options,
    });
  }

  private async inputOf(id: string, meta: JobMeta, d: Delivery): Promise<JsonValue> {
    try {
      if (!meta.inputRef) return decodeInput(d.data);
      const blob = await this.deps.blobs.get(meta.inputRef);
      if (blob) return decodeInput(blob);
      this.deps.logger?.warn({ id }, "jetq nats engine: the job's input is no longer in the object store");
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
    }
    return null;
  }
}

/** While a pull waits: the first late delivery of queue is taken (into handed) and stops the pull. */
function waitForLate(
  late: LateDeliveries,
  queue: string,
): { handed: Delivery[]; stop: AbortController; unwait: () => void } {
  const handed: Delivery[] = [];
  const stop = new AbortController();
  const unwait = late.wait(queue, (d) => {
    if (stop.signal.aborted) return false;
    handed.push(d);
    stop.abort();
    return true;
  });
  return { handed, stop, unwait };
}
