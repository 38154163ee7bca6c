/**
 * The JetStream storage driver: wires the modules of this folder into the
 * driver contract (../driver/types.ts). docs/ARCHITECTURE.md §5-6 is the
 * map; each module holds one part.
 */
import { setMaxListeners } from "node:events";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { queueNotFound, unavailable } from "../errors.js";
import { jobIdParts } from "../job-id.js";
import { isTerminal, type JobStatus } from "../types.js";
import type { Driver } from "../driver/types.js";
import { createBlobStore } from "./blobs.js";
import { cancelJob } from "./cancel.js";
import { createCancelSignals } from "./cancel-signals.js";
import { closeConnection, openConnection, watchLink, watchReconnects, withinTimeout } from "./connection.js";
import { guard, isConsumerNotFound, isStreamNotFound, isUnavailable, toEngineError } from "./errors.js";
import { createEventHub, type JobEvent } from "./events.js";
import { createFetcher } from "./fetcher.js";
import { createIdempotencyStore } from "./idempotency.js";
import { createLateDeliveries } from "./late-deliveries.js";
import { createLiveJobs, createRecentJobs, type TerminalInfo } from "./live.js";
import { createLogStore } from "./logs.js";
import { createQueueConfigStore } from "./queue-config.js";
import { createQueueInfoCache } from "./queue-info.js";
import { createLeftoverSweeper } from "./leftovers.js";
import { createRecordStore } from "./records.js";
import { readResult } from "./result.js";
import { ensureQueue, ensureShared, type LayoutOptions } from "./setup.js";
import { createStateDeriver } from "./state.js";
import { createSubmitter } from "./submit.js";
import { retainedLines, type LogBounds } from "../log-bounds.js";
import type { SettingNamer } from "../settings.js";
import type { NatsEngineOptions } from "./options.js";
import { watchNatsReadiness } from "./readiness.js";
import { createWatches } from "./watch.js";

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
/** How long this process remembers the jobs it submitted (see live.ts). */
const RECENT_MAX_AGE_MS = 60_000;
/** Longest close() waits for pull requests the server still holds. */
const CLOSE_DRAIN_MS = 1_500;
/** How long close waits for the server to confirm it read the last writes. */
const CLOSE_FLUSH_MS = 1_000;

/** The engine's options, resolved by engine.ts. */
export interface NatsDriverOptions extends Omit<
  NatsEngineOptions,
  "logBounds" | "settingNames" | "progressIntervalMs"
> {
  logBounds: LogBounds;
  settingName: SettingNamer;
}

export async function createNatsDriver(options: NatsDriverOptions): Promise<Driver> {
  const { logBounds, settingName } = options;
  const layout: LayoutOptions = {
    logLinesPerJob: retainedLines(logBounds),
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
        throw toEngineError(err, "setting up the JetStream layout");
      }
      logger?.warn({ err, attempt }, "jetq nats engine: JetStream not ready, retrying the setup");
      await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * attempt)));
    }
  }

  const link = watchLink(nc);
  const readiness = watchNatsReadiness({
    nc,
    probe: () => jsm.getAccountInfo(),
    probeIntervalMs: options.readinessProbeMs ?? 5_000,
    timeoutMs: timeout,
    ...(logger ? { logger } : {}),
  });
  const maxPayload = () => nc.info?.max_payload ?? 1024 * 1024;
  const records = createRecordStore(shared.jobs);
  const blobs = createBlobStore(js, layout);
  const queueConfigs = createQueueConfigStore(shared.queues);
  const idempotency = createIdempotencyStore(shared.jobs);
  const queueInfo = createQueueInfoCache(jsm);
  const live = createLiveJobs();
  // Kept well under the retention: a terminal status remembered here must
  // not outlive the record it stands for.
  const recent = createRecentJobs(Math.min(RECENT_MAX_AGE_MS, layout.retentionMs / 4));
  const onBackgroundError = (err: unknown) => logger?.warn({ err }, "jetq nats engine: background call failed");
  const logs = createLogStore(nc, js, jsm, onBackgroundError, logBounds);
  const signals = createCancelSignals(nc);
  /** A terminal status (published after its record was written) is final: remember it. */
  const noteTerminal = (id: string, ev: Extract<JobEvent, { type: "status" }>) => {
    // Only a cancel can finish a job before its first delivery begins (lease.ts).
    if (ev.state === "CANCELLED") signals.noteFinished(id);
    const info: TerminalInfo = { state: ev.state, attempt: ev.attempt, progress: ev.progress };
    if (ev.startedAt !== undefined) info.startedAt = ev.startedAt;
    if (ev.finishedAt !== undefined) info.finishedAt = ev.finishedAt;
    if (ev.error) info.error = ev.error;
    recent.finished(id, info);
  };
  const events = createEventHub(nc, (id, ev) => {
    // What live events tell us about running jobs (attempt, started_at) is kept
    // for status reads of this process.
    if (ev.type === "status") {
      if (ev.state === "RUNNING") {
        // Whichever process runs it, a running job was delivered: Submits of this
        // process waiting for its position need no snapshot.
        const parts = jobIdParts(id);
        if (parts) queueInfo.noteDelivered(parts.queue, parts.seq);
        live.update(id, {
          attempt: ev.attempt,
          progress: ev.progress,
          running: true,
          ...(ev.startedAt !== undefined ? { startedAt: ev.startedAt } : {}),
        });
      } else if (isTerminal(ev.state)) {
        live.forget(id);
        noteTerminal(id, ev);
      } else live.update(id, { running: false, attempt: ev.attempt });
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
    retentionMs: layout.retentionMs,
    settingName,
    recent,
  });
  const watches = createWatches(events, deriver, queueInfo, { positions: options.positionUpdates, logBounds });
  // Late deliveries handed back count as releases, not attempts.
  const late = createLateDeliveries(async (queue, d) => {
    const config = await queueConfigs.get(queue);
    if (config) await fetcher.handBack(queue, config, d);
    else await d.nak(0);
  });
  const outstanding = new Set<Promise<void>>();
  const fetcher = createFetcher({
    outstanding: (p) => {
      outstanding.add(p);
      void p.then(() => outstanding.delete(p));
    },
    nc,
    records,
    blobs,
    events,
    live,
    late,
    queueInfo,
    requestTimeoutMs: timeout,
    ...(logger ? { logger } : {}),
    deliveryContext: {
      link,
      records,
      events,
      live,
      logs,
      blobs,
      maxRecordBytes: Math.max(1024, maxPayload() - 1024),
      idempotency,
      touched: (queue: string) => void queueInfo.invalidate(queue),
      onCancel: signals.on,
      knownFinished: signals.finished,
      undisclosed: (id: string) => {
        const r = recent.get(id);
        return r !== undefined && !r.disclosed && r.meta.msgId === undefined;
      },
      disclosureChecked: (id: string) => recent.get(id)?.disclosureChecked?.(),
      ...(logger ? { logger } : {}),
    },
  });
  const submit = createSubmitter({
    js,
    jsm,
    blobs,
    idempotency,
    queueInfo,
    deriver,
    maxPayload,
    requestTimeoutMs: timeout,
    recent,
    link,
  });

  let closed = false;
  const closing = new AbortController();
  // Every pending fetch listens to it: many queues × workers are not a leak.
  setMaxListeners(0, closing.signal);

  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    watches.rederive(tick % ALL_REDERIVE_EVERY === 0 ? "all" : "positions");
  }, QUEUED_REDERIVE_MS);
  timer.unref();
  const leftovers = createLeftoverSweeper(jsm, records, () => closed, logger);
  watchReconnects(nc, () => {
    watches.rederive("all");
    leftovers.reconnected();
  });

  const assertOpen = () => {
    if (closed) throw unavailable("the engine is closed");
    link.assertConnected();
  };
  /**
   * A client call: UNAVAILABLE at once if the connection drops under it, and
   * once it has taken a request timeout in all (several requests that each
   * wait out their timeout, say during a cluster failover, would otherwise
   * outlast the client's deadline). fetch waits out its pull instead.
   */
  const call = <T>(what: string, fn: () => Promise<T>) =>
    guard(what, () =>
      link.whileConnected(
        withinTimeout(fn(), timeout, () => unavailable(`NATS did not answer in ${timeout} ms: ${what} failed; retry`)),
        what,
      ),
    );

  const driver: Driver = {
    kind: "nats",
    readiness: readiness.state.get,
    onReadinessChange: readiness.state.subscribe,

    async declareQueue(queue, config) {
      assertOpen();
      const declaring = async () => {
        await ensureQueue(jsm, queue, config, layout);
        await queueConfigs.put(queue, config);
      };
      // Several requests that may each take a while on a cluster: no total bound.
      await guard(`declaring queue "${queue}"`, () => link.whileConnected(declaring()));
      leftovers.watch(queue);
    },

    async insert(job) {
      assertOpen();
      return guard(`submitting to queue "${job.queue}"`, () => submit(job));
    },

    async read(ref, options) {
      assertOpen();
      return call(`reading job "${ref.id}"`, () => deriver.status(ref, options));
    },

    watch(ref, options, inserted): AsyncIterable<JobStatus> {
      assertOpen();
      // A job this process has just stored, with the event subscription up
      // all along (no disconnect since before its publish): this process
      // heard everything that happened to it, so its watch starts from what
      // it knows instead of a record read. Log lines are read from their
      // stream either way.
      const seed =
        inserted && !options.includeLogs
          ? () => (events.lastDisconnectAt < inserted.createdAt ? deriver.knownStatus(ref, inserted) : undefined)
          : undefined;
      return withEngineErrors(watches.watch(ref, options, seed), `watching job "${ref.id}"`);
    },

    async readResult(ref, options) {
      assertOpen();
      return call(`reading the result of job "${ref.id}"`, () =>
        readResult({ deriver, blobs, retentionMs: layout.retentionMs, settingName }, ref, options),
      );
    },

    async cancel(ref, options) {
      assertOpen();
      return call(`cancelling job "${ref.id}"`, () =>
        cancelJob({ jsm, deriver, records, signals, events, queueInfo, live, idempotency }, ref, options),
      );
    },

    async count(queue) {
      assertOpen();
      return call(`counting queue "${queue}"`, async () => {
        try {
          const snap = await queueInfo.get(queue);
          return { queue, inQueue: snap.numPending, running: snap.numAckPending };
        } catch (err) {
          if (isStreamNotFound(err) || isConsumerNotFound(err)) throw queueNotFound(queue);
          throw err;
        }
      });
    },

    async fetch(queue, max, expiresMs, signal) {
      if (closed) return [];
      return guard(`fetching from queue "${queue}"`, async () => {
        const config = await queueConfigs.get(queue);
        if (!config) throw queueNotFound(queue);
        signals.start();
        const both = signal ? AbortSignal.any([signal, closing.signal]) : closing.signal;
        const deliveries = await fetcher.fetch(queue, config, max, expiresMs, both);
        // Closed meanwhile: the deliveries are redelivered after ack_wait.
        return closed ? [] : deliveries;
      });
    },

    stats() {
      return { eventSubscriptions: events.subscriptions, openWatches: watches.open };
    },

    async close() {
      if (closed) return;
      closed = true;
      readiness.close();
      closing.abort();
      clearInterval(timer);
      watches.closeAll(unavailable("the engine was closed while the job was watched; reconnect and watch again"));
      // Pull requests the server still holds could be handed a job after we
      // are gone (2.9 does not drop them with the connection), and it would
      // wait a whole ack_wait: listen until they expire, a bounded while, and
      // hand back whatever arrives.
      const drained = new Promise<void>((r) => setTimeout(r, CLOSE_DRAIN_MS).unref());
      await Promise.race([Promise.all([...outstanding]), drained]);
      await late.clear();
      await leftovers.idle();
      events.close();
      // The acks and events of the last moments must reach the server.
      await closeConnection(nc, CLOSE_FLUSH_MS);
    },
  };
  return driver;
}

/** The iterable with its failures as the EngineErrors the contract promises. */
function withEngineErrors(inner: AsyncIterable<JobStatus>, what: string): AsyncIterable<JobStatus> {
  return {
    [Symbol.asyncIterator]() {
      const it = inner[Symbol.asyncIterator]();
      return {
        next: async () => {
          try {
            return await it.next();
          } catch (err) {
            throw toEngineError(err, what);
          }
        },
        return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
      };
    },
  };
}
