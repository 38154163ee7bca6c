/**
 * The JetStream engine: wires the modules of this folder into the Engine
 * interface. DESIGN.md section 3 is the map; each module holds one part.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import {
  failedPrecondition,
  jobNotFound,
  notFound,
  queueNotFound,
  resourceExhausted,
  unavailable,
} from "../errors.js";
import { formatJobId, newToken, parseJobId } from "../job-id.js";
import { assertQueueName } from "../queue-name.js";
import {
  DEFAULT_QUEUE_CONFIG,
  isTerminal,
  type CancelOutcome,
  type Engine,
  type FetchOptions,
  type JobLease,
  type JobOptions,
  type JobResult,
  type JobStatus,
  type QueueConfig,
  type ReadOptions,
  type SubmitInput,
  type WatchOptions,
} from "../types.js";
import { createBlobStore, MAX_BLOB_BYTES } from "./blobs.js";
import { openConnection, watchReconnects } from "./connection.js";
import { guard, isConsumerNotFound, isNoResponders, isStreamNotFound, isUnavailable, toConnectError } from "./errors.js";
import { createEventHub } from "./events.js";
import { createIdempotencyStore, idempotencyKeys, type IdempotencyKeys } from "./idempotency.js";
import { decodeInput, encodeInput, headersSize, metaHeaders, readMeta } from "./job-message.js";
import { CANCEL_PREFIX, CANCEL_WILDCARD, CONSUMER, cancelSubject, queueSubject, streamName } from "./layout.js";
import { createLease } from "./lease.js";
import { createLiveJobs } from "./live.js";
import { createLogStore } from "./logs.js";
import type { Delivery } from "./delivery.js";
import { createLateDeliveries } from "./late-deliveries.js";
import { pullBatch } from "./pull.js";
import { createQueueConfigStore } from "./queue-config.js";
import { createQueueInfoCache, positionOf } from "./queue-info.js";
import { createRecordStore, type JobRecord } from "./records.js";
import { ensureQueue, ensureShared, type LayoutOptions } from "./setup.js";
import { createStateDeriver, statusFromRecord, type JobRef } from "./state.js";
import { createWatches } from "./watch.js";

export interface NatsEngineOptions {
  servers: string | string[];
  /** Stream and bucket storage; default "file". */
  storage?: "file" | "memory";
  /** Stream and bucket replicas; default 1. */
  replicas?: number;
  /** Connection name shown in the server's monitoring. */
  name?: string;
  logger?: Logger;
  /** How long terminal records and logs are kept; default 24h. */
  retentionMs?: number;
  /** Bound of every JetStream API call; default 5000. */
  requestTimeoutMs?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** How long createNatsEngine waits for JetStream to become ready (a cluster electing its leader). */
const SETUP_PATIENCE_MS = 20_000;
/**
 * Watches of QUEUED jobs refresh their position from the shared per-queue
 * snapshot every tick; every watch is re-derived (safety net for lost core
 * events) every ALL_REDERIVE_EVERY ticks and after each reconnect.
 */
const QUEUED_REDERIVE_MS = 1_000;
const ALL_REDERIVE_EVERY = 10;

export async function createNatsEngine(options: NatsEngineOptions): Promise<Engine> {
  const layout: LayoutOptions = {
    storage: options.storage ?? "file",
    replicas: options.replicas ?? 1,
    retentionMs: options.retentionMs ?? DAY_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
  };
  const timeout = layout.requestTimeoutMs;
  const logger = options.logger;
  const nc = await openConnection({ servers: options.servers, name: options.name, requestTimeoutMs: timeout });

  let shared;
  let js;
  let jsm;
  // A cluster that is starting has no JetStream leader yet: retry the setup a while.
  const setupDeadline = Date.now() + Math.max(SETUP_PATIENCE_MS, 3 * timeout);
  for (let attempt = 1; ; attempt++) {
    try {
      js = jetstream(nc, { timeout });
      jsm = await jetstreamManager(nc, { timeout });
      shared = await ensureShared(js, jsm, layout);
      break;
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > setupDeadline) {
        await nc.close().catch(() => undefined);
        throw toConnectError(err, "setting up the JetStream layout");
      }
      logger?.warn({ err, attempt }, "jetq nats engine: JetStream not ready, retrying the setup");
      await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * attempt)));
    }
  }

  const maxPayload = () => nc.info?.max_payload ?? 1024 * 1024;
  const records = createRecordStore(shared.jobs);
  const blobs = createBlobStore(js, layout);
  const queueConfigs = createQueueConfigStore(shared.queues);
  const idempotency = createIdempotencyStore(shared.jobs);
  const queueInfo = createQueueInfoCache(jsm);
  const live = createLiveJobs();
  const onBackgroundError = (err: unknown) => logger?.warn({ err }, "jetq nats engine: background call failed");
  const logs = createLogStore(nc, js, jsm, onBackgroundError);
  const events = createEventHub(nc, (id, ev) => {
    // What live events tell us about running jobs (attempt, started_at) is kept
    // for status reads of this process.
    if (ev.type === "status") {
      if (ev.state === "RUNNING") {
        live.update(id, { attempt: ev.attempt, progress: ev.progress, running: true, ...(ev.startedAt !== undefined ? { startedAt: ev.startedAt } : {}) });
      } else if (isTerminal(ev.state)) live.forget(id);
      else live.update(id, { running: false, attempt: ev.attempt });
    } else if (ev.type === "progress" && live.get(id)) live.update(id, { progress: ev.progress });
  });
  events.start();
  const deriver = createStateDeriver({
    jsm,
    records,
    queueInfo,
    live,
    logs,
    queueDeclared: async (queue) => (await queueConfigs.get(queue)) !== undefined,
  });
  const watches = createWatches(events, deriver);

  let closed = false;
  const closing = new AbortController();
  const late = createLateDeliveries();

  // Cancel signals for leases of this process: one subscription, opened with the first fetch.
  const cancelHandlers = new Map<string, Set<() => void>>();
  let cancelSubscribed = false;
  const ensureCancelSubscription = () => {
    if (cancelSubscribed || closed) return;
    cancelSubscribed = true;
    nc.subscribe(CANCEL_WILDCARD, {
      callback: (err, msg) => {
        if (err) return;
        const handlers = cancelHandlers.get(msg.subject.slice(CANCEL_PREFIX.length));
        if (handlers) for (const h of [...handlers]) h();
      },
    });
  };
  const onCancel = (id: string, fn: () => void) => {
    let set = cancelHandlers.get(id);
    if (!set) {
      set = new Set();
      cancelHandlers.set(id, set);
    }
    set.add(fn);
    return () => {
      const s = cancelHandlers.get(id);
      s?.delete(fn);
      if (s?.size === 0) cancelHandlers.delete(id);
    };
  };

  const leaseContext = {
    records,
    events,
    live,
    logs,
    maxRecordBytes: Math.max(1024, maxPayload() - 1024),
    blobs,
    touched: (queue: string) => queueInfo.invalidate(queue),
    onCancel,
    ...(logger ? { logger } : {}),
  };

  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    watches.rederive(tick % ALL_REDERIVE_EVERY === 0 ? "all" : "positions");
  }, QUEUED_REDERIVE_MS);
  timer.unref();
  watchReconnects(nc, () => watches.rederive("all"));

  const assertOpen = () => {
    if (closed) throw unavailable("the engine is closed");
  };

  const refOf = (id: string): JobRef => ({ id, ...parseJobId(id) });

  const checkTenant = (options: ReadOptions | undefined, tenant: string, id: string) => {
    if (options?.tenant !== undefined && options.tenant !== tenant) throw jobNotFound(id);
  };

  /** A fresh snapshot right after our own publish: the position we return is exact. */
  const queuedStatus = async (ref: JobRef, createdAt: number): Promise<JobStatus> => {
    const snap = await queueInfo.get(ref.queue, queueInfo.invalidate(ref.queue));
    // Submit answers for the moment of enqueueing: QUEUED, even if a waiting
    // worker took it before the snapshot (then it was next: position 0).
    const queuePosition = ref.seq > snap.delivered ? positionOf(snap, ref.seq) : 0;
    return { id: ref.id, queue: ref.queue, state: "QUEUED", queuePosition, attempt: 0, progress: 0, createdAt };
  };

  /** The job a duplicate publish (same Nats-Msg-Id) points at. */
  const originalOf = async (queue: string, seq: number, keys: IdempotencyKeys): Promise<string> => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const recorded = await idempotency.lookup(keys);
      if (recorded) return recorded;
      const m = await jsm.direct.getMessage(streamName(queue), { seq }).catch(() => null);
      const meta = m ? readMeta(m.header) : undefined;
      if (meta) return formatJobId({ queue, seq, token: meta.token });
      if (Date.now() > deadline) {
        throw unavailable(`idempotent submit: the original job of this key is not readable yet; retry`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const sanitizeOptions = (o: JobOptions | undefined): JobOptions => {
    const out: JobOptions = {};
    if (o?.maxAttempts !== undefined) out.maxAttempts = o.maxAttempts;
    if (o?.timeoutMs !== undefined) out.timeoutMs = o.timeoutMs;
    if (o?.startDeadline !== undefined) out.startDeadline = o.startDeadline;
    return out;
  };

  const engine: Engine = {
    kind: "nats",

    async declareQueue(queue: string, config?: Partial<QueueConfig>) {
      assertQueueName(queue);
      assertOpen();
      const full: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, ...stripUndefined(config ?? {}) };
      await guard(`declaring queue "${queue}"`, async () => {
        await ensureQueue(jsm, queue, full, layout);
        await queueConfigs.put(queue, full);
      });
    },

    async submit(input: SubmitInput) {
      assertQueueName(input.queue);
      assertOpen();
      const queue = input.queue;
      const tenant = input.tenant ?? "";
      const keys = input.idempotencyKey ? idempotencyKeys(tenant, input.idempotencyKey) : undefined;
      return guard(`submitting to queue "${queue}"`, async () => {
        if (keys) {
          const existing = await idempotency.lookup(keys);
          if (existing) return deriver.status(refOf(existing));
        }
        const token = newToken();
        const createdAt = Date.now();
        let data = encodeInput(input.input as JsonValue);
        const meta = { token, createdAt, tenant, options: sanitizeOptions(input.options) };
        let h = metaHeaders(meta);
        const size = data.length + headersSize(h) + (keys ? keys.msgId.length + 16 : 0);
        if (size > maxPayload()) {
          if (data.length > MAX_BLOB_BYTES) {
            throw resourceExhausted(
              `input: the job's input is ${data.length} bytes, over the limit of ${MAX_BLOB_BYTES} bytes; send a reference to the data instead`,
            );
          }
          // Too big for one message: the input goes to the object store, the message carries its name.
          const inputRef = `in-${queue}-${token}`;
          await blobs.put(inputRef, data);
          data = new Uint8Array(0);
          h = metaHeaders({ ...meta, inputRef });
        }
        let ack;
        try {
          ack = await js.publish(queueSubject(queue), data, {
            headers: h,
            timeout,
            ...(keys ? { msgID: keys.msgId } : {}),
          });
        } catch (err) {
          if (isNoResponders(err)) throw queueNotFound(queue);
          throw err;
        }
        if (ack.duplicate && keys) {
          const original = await originalOf(queue, ack.seq, keys);
          return deriver.status(refOf(original));
        }
        const ref: JobRef = { id: formatJobId({ queue, seq: ack.seq, token }), queue, seq: ack.seq, token };
        if (keys) {
          const winner = await idempotency.claim(keys, ref.id);
          if (winner !== ref.id) {
            // Another submit of the same key won (e.g. to another queue): ours must not run.
            await jsm.streams.deleteMessage(streamName(queue), ack.seq, false).catch(() => undefined);
            queueInfo.invalidate(queue);
            return deriver.status(refOf(winner));
          }
        }
        return queuedStatus(ref, createdAt);
      });
    },

    async getStatus(id: string, options?: ReadOptions) {
      const ref = refOf(id);
      assertOpen();
      return guard(`reading job "${id}"`, () => deriver.status(ref, options));
    },

    watch(id: string, options: WatchOptions = {}): AsyncIterable<JobStatus> {
      const ref = refOf(id);
      assertOpen();
      const inner = watches.watch(ref, options);
      return {
        [Symbol.asyncIterator]() {
          const it = inner[Symbol.asyncIterator]();
          return {
            next: async () => {
              try {
                return await it.next();
              } catch (err) {
                throw toConnectError(err, `watching job "${id}"`);
              }
            },
            return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
          };
        },
      };
    },

    async getResult(id: string, options?: ReadOptions): Promise<JobResult> {
      const ref = refOf(id);
      assertOpen();
      return guard(`reading the result of job "${id}"`, async () => {
        const found = await deriver.inspect(ref);
        if (found.kind === "none") throw jobNotFound(id);
        if (found.kind === "record") {
          const r = found.stored.record;
          checkTenant(options, r.tenant, id);
          if (isTerminal(r.state)) {
            const result: JobResult = { id, state: r.state };
            if (r.state === "COMPLETED") {
              if (r.outputRef) {
                const blob = await blobs.get(r.outputRef);
                if (!blob) throw notFound(`the output of job "${id}" is no longer stored (kept ${layout.retentionMs} ms)`);
                result.output = decodeInput(blob);
              } else {
                result.output = r.output ?? null;
              }
            }
            if (r.error) result.error = r.error;
            return result;
          }
          throw failedPrecondition(`job "${id}" is ${r.state}; its result exists once it has finished (watch it or poll GetStatus)`);
        }
        checkTenant(options, found.meta.tenant, id);
        throw failedPrecondition(
          `job "${id}" is ${found.status.state}; its result exists once it has finished (watch it or poll GetStatus)`,
        );
      });
    },

    async cancel(id: string, options?: ReadOptions): Promise<CancelOutcome> {
      const ref = refOf(id);
      assertOpen();
      return guard(`cancelling job "${id}"`, async () => {
        for (let round = 0; round < 5; round++) {
          const found = await deriver.inspect(ref);
          if (found.kind === "none") throw jobNotFound(id);
          let record: JobRecord;
          let revision: number;
          let wasQueued: boolean;
          const now = Date.now();
          const cancelled = { code: "CANCELLED", message: "cancelled by a client" };
          if (found.kind === "record") {
            const r = found.stored.record;
            checkTenant(options, r.tenant, id);
            if (isTerminal(r.state)) {
              return {
                removed: false,
                message: `job "${id}" already finished in state ${r.state}; nothing to cancel`,
                job: statusFromRecord(id, r),
              };
            }
            record = { ...r, state: "CANCELLED", finishedAt: now, error: cancelled };
            revision = found.stored.revision;
            wasQueued = r.state === "QUEUED";
          } else {
            checkTenant(options, found.meta.tenant, id);
            const s = found.status;
            record = {
              state: "CANCELLED",
              queue: ref.queue,
              tenant: found.meta.tenant,
              createdAt: found.meta.createdAt,
              attempt: s.attempt,
              progress: s.progress,
              finishedAt: now,
              error: cancelled,
              ...(s.startedAt !== undefined ? { startedAt: s.startedAt } : {}),
            };
            revision = 0;
            wasQueued = s.state === "QUEUED";
          }
          const rev = await records.write(id, record, revision);
          if (rev === undefined) continue; // something settled it meanwhile: look again
          // Signal any worker holding it (also one that took it a moment ago).
          nc.publish(cancelSubject(id));
          if (wasQueued) {
            await jsm.streams.deleteMessage(streamName(ref.queue), ref.seq, false).catch(() => undefined);
          }
          queueInfo.invalidate(ref.queue);
          live.forget(id);
          const job = statusFromRecord(id, record);
          events.publish(id, {
            type: "status",
            state: "CANCELLED",
            attempt: record.attempt,
            progress: record.progress,
            finishedAt: now,
            error: cancelled,
            ...(record.startedAt !== undefined ? { startedAt: record.startedAt } : {}),
          });
          return {
            removed: true,
            message: wasQueued ? `job "${id}" was removed from the queue` : `job "${id}" was cancelled; its worker was signalled to stop`,
            job,
          };
        }
        throw unavailable(`cancelling job "${id}": its state kept changing; retry`);
      });
    },

    async queueCount(queue: string) {
      assertQueueName(queue);
      assertOpen();
      return guard(`counting queue "${queue}"`, async () => {
        try {
          const snap = await queueInfo.get(queue);
          return { queue, inQueue: snap.numPending, running: snap.numAckPending };
        } catch (err) {
          if (isStreamNotFound(err) || isConsumerNotFound(err)) throw queueNotFound(queue);
          throw err;
        }
      });
    },

    async fetch(queue: string, fetchOptions: FetchOptions): Promise<JobLease[]> {
      assertQueueName(queue);
      if (closed) return [];
      const max = Math.max(0, Math.floor(fetchOptions.max));
      if (max === 0) return [];
      return guard(`fetching from queue "${queue}"`, async () => {
        const config = await queueConfigs.get(queue);
        if (!config) throw queueNotFound(queue);
        ensureCancelSubscription();
        const signal = fetchOptions.signal ? AbortSignal.any([fetchOptions.signal, closing.signal]) : closing.signal;
        let deliveries = late.take(queue, max);
        if (deliveries.length === 0) {
          // A late delivery of an earlier pull of this process ends this wait.
          const handed: Delivery[] = [];
          const stop = new AbortController();
          const unwait = late.wait(queue, (d) => {
            if (stop.signal.aborted) return false;
            handed.push(d);
            stop.abort();
            return true;
          });
          try {
            deliveries = await pullBatch(nc, {
              stream: streamName(queue),
              consumer: CONSUMER,
              batch: max,
              expiresMs: fetchOptions.expiresMs,
              signal: AbortSignal.any([signal, stop.signal]),
              ackTimeoutMs: timeout,
              onLate: (d) => late.put(queue, d, config.ackWaitMs),
            });
          } finally {
            unwait();
          }
          deliveries = [...handed, ...deliveries];
          // Never more than max: the surplus waits for the next fetch.
          for (const d of deliveries.splice(max)) late.put(queue, d, config.ackWaitMs);
        }
        if (closed) return [];
        if (deliveries.length > 0) queueInfo.invalidate(queue);
        const leases: JobLease[] = [];
        for (const d of deliveries) {
          const meta = readMeta(d.headers);
          if (!meta) {
            // Not a jetq job message: nobody can run it.
            await d.ack();
            continue;
          }
          const id = formatJobId({ queue, seq: d.streamSeq, token: meta.token });
          let released = 0;
          let revision = 0;
          let prior: JobRecord | undefined;
          if (d.deliveryCount > 1) {
            const stored = await records.get(id);
            if (stored && isTerminal(stored.record.state)) {
              await d.ack();
              continue;
            }
            prior = stored?.record;
            revision = stored?.revision ?? 0;
            released = stored?.record.released ?? 0;
          }
          const attempt = d.deliveryCount - released;
          const maxAttempts = meta.options.maxAttempts ?? config.maxAttempts;
          if (attempt > maxAttempts) {
            // The previous attempt was neither settled nor heartbeated in time.
            const record: JobRecord = {
              ...(prior ?? {}),
              state: "FAILED",
              queue,
              tenant: meta.tenant,
              createdAt: meta.createdAt,
              attempt: attempt - 1,
              progress: prior?.progress ?? live.get(id)?.progress ?? 0,
              finishedAt: Date.now(),
              error: {
                code: "ATTEMPTS_EXHAUSTED",
                message: `attempt ${attempt - 1} of ${maxAttempts} was not settled nor heartbeated within ${config.ackWaitMs} ms and no attempts remain`,
              },
            };
            const rev = await records.write(id, record, revision);
            await d.ack();
            if (rev !== undefined) {
              live.forget(id);
              events.publish(id, {
                type: "status",
                state: "FAILED",
                attempt: record.attempt,
                progress: record.progress,
                finishedAt: record.finishedAt!,
                error: record.error!,
                ...(record.startedAt !== undefined ? { startedAt: record.startedAt } : {}),
              });
            }
            continue;
          }
          let input: JsonValue = null;
          try {
            if (meta.inputRef) {
              const blob = await blobs.get(meta.inputRef);
              if (blob) input = decodeInput(blob);
              else logger?.warn({ id }, "jetq nats engine: the job's input is no longer in the object store");
            } else {
              input = decodeInput(d.data);
            }
          } catch (err) {
            if (!(err instanceof SyntaxError)) throw err;
          }
          leases.push(
            createLease(leaseContext, { id, queue, input, meta, attempt, released, config, delivery: d }),
          );
        }
        return leases;
      });
    },

    stats() {
      return { eventSubscriptions: events.subscriptions, openWatches: watches.open };
    },

    async close() {
      if (closed) return;
      closed = true;
      closing.abort();
      late.clear();
      clearInterval(timer);
      watches.closeAll(unavailable("the engine was closed while the job was watched; reconnect and watch again"));
      // Let generators observe the failure before the connection goes.
      await new Promise((r) => setImmediate(r));
      events.close();
      await nc.close().catch(() => undefined);
    },
  };
  return engine;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
