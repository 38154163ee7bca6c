/**
 * The parts of the JetStream driver, wired together once at open: the
 * stores, what this process learns from live events, the readers (status
 * derivation, watches) and the worker side (pulls, late deliveries).
 * driver.ts serves the driver contract from them.
 */
import type { Logger } from "pino";
import { jobIdParts, parseJobId } from "../job-id.js";
import { DelayedJobs } from "./delayed.js";
import type { LogBounds } from "../log-bounds.js";
import type { PositionPacerOptions } from "../position-pacer.js";
import type { SettingNamer } from "../settings.js";
import { isTerminal } from "../types.js";
import { createBlobStore } from "./blobs.js";
import { createCancelSignals } from "./cancel-signals.js";
import type { Connected } from "./connect.js";
import { watchLink } from "./connection.js";
import type { DeliveryContext } from "./delivery-context.js";
import { createEventHub, type JobEvent } from "./events.js";
import { createFetcher, type Fetcher } from "./fetcher.js";
import { createIdempotencyStore } from "./idempotency.js";
import { createJobIndex } from "./job-index.js";
import { createLateDeliveries } from "./late-deliveries.js";
import { createLiveJobs, createRecentJobs, type LiveJobs, type RecentJobs, type TerminalInfo } from "./live.js";
import { createLogStore } from "./logs.js";
import { createQueueConfigStore } from "./queue-config.js";
import { createLevelFigures } from "./level-figures.js";
import { createPriorityLevels, type PriorityLevels } from "./priority-levels.js";
import { createQueueInfoCache, levelKey, type QueueInfoCache } from "./queue-info.js";
import { createQueueWatchHub, noticingSubmits } from "./queue-watch.js";
import { createPauseFlags } from "./pause-flags.js";
import { createRecordStore } from "./records.js";
import type { LayoutOptions } from "./setup.js";
import { createStateDeriver } from "./state.js";
import { createSubmitter } from "./submit.js";
import { createWatches } from "./watch.js";
import { createNatsWebhookOutbox } from "./webhook-outbox.js";

/** How long this process remembers the jobs it submitted (see live.ts). */
const RECENT_MAX_AGE_MS = 60_000;

export interface WiringOptions {
  layout: LayoutOptions;
  logBounds: LogBounds;
  settingName: SettingNamer;
  positionUpdates?: PositionPacerOptions;
  logger?: Logger;
}

export type Parts = ReturnType<typeof wireParts>;

export function wireParts(conn: Connected, o: WiringOptions) {
  const stores = wireStores(conn, o);
  const known = wireKnowledge(conn, o);
  const levels = createPriorityLevels(conn.nc, conn.jsm, stores.queueConfigs, o.layout, o.logger);
  const { waitingAbove, counts } = createLevelFigures(known.queueInfo, levels);
  const deriver = createStateDeriver({
    jsm: conn.jsm,
    records: stores.records,
    queueInfo: known.queueInfo,
    live: known.live,
    logs: stores.logs,
    queueDeclared: async (queue) => (await stores.queueConfigs.get(queue)) !== undefined,
    retentionMs: o.layout.retentionMs,
    settingName: o.settingName,
    recent: known.recent,
    waitingAbove,
  });
  const watches = createWatches(known.events, deriver, known.queueInfo, {
    positions: o.positionUpdates,
    logBounds: o.logBounds,
    waitingAbove,
  });
  const workers = wireWorkerSide(conn, o, stores, known, levels);
  const delayed = new DelayedJobs({
    ...conn,
    ...stores,
    events: known.events,
    queueInfo: known.queueInfo,
    queueDeclared: async (queue) => (await stores.queueConfigs.get(queue)) !== undefined,
    retentionMs: o.layout.retentionMs,
    status: (id) => deriver.status({ id, ...parseJobId(id) }),
    requestTimeoutMs: o.layout.requestTimeoutMs,
    levels,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  delayed.start();
  const submit = noticingSubmits(
    createSubmitter({
      ...conn,
      ...stores,
      queueInfo: known.queueInfo,
      deriver,
      maxPayload: () => maxPayload(conn),
      requestTimeoutMs: o.layout.requestTimeoutMs,
      recent: known.recent,
      link: stores.link,
      levels,
      waitingAbove,
      delayed,
    }),
    known.queueWatch,
  );
  return { ...conn, ...stores, ...known, ...workers, deriver, watches, submit, delayed, levels, counts };
}

const maxPayload = (conn: Connected) => conn.nc.info?.max_payload ?? 1024 * 1024;

function wireStores(conn: Connected, o: WiringOptions) {
  const { nc, js, jsm, shared } = conn;
  const onBackgroundError = (err: unknown) => o.logger?.warn({ err }, "jetq nats engine: background call failed");
  const records = createRecordStore(shared.jobs);
  return {
    link: watchLink(nc),
    records,
    blobs: createBlobStore(js, o.layout),
    queueConfigs: createQueueConfigStore(shared.queues),
    pauseFlags: createPauseFlags(shared.queues, nc),
    idempotency: createIdempotencyStore(shared.jobs),
    index: createJobIndex(js, jsm, records, o.layout),
    logs: createLogStore(nc, js, jsm, onBackgroundError, o.logBounds),
    webhooks: createNatsWebhookOutbox(conn, o.layout, o.logger),
  };
}

/** What this process knows of jobs without asking: from its own calls and the live events of all. */
function wireKnowledge(conn: Connected, o: WiringOptions) {
  const queueInfo = createQueueInfoCache(conn.jsm);
  const live = createLiveJobs();
  // Kept well under the retention: a terminal status remembered here must
  // not outlive the record it stands for.
  const recent = createRecentJobs(Math.min(RECENT_MAX_AGE_MS, o.layout.retentionMs / 4));
  const signals = createCancelSignals(conn.nc);
  const queueWatch = createQueueWatchHub(conn.nc);
  const learn = learnFromEvents({ queueInfo, live, recent, signals });
  const events = createEventHub(conn.nc, (id, ev) => {
    learn(id, ev);
    queueWatch.tap(id, ev);
  });
  events.start();
  return { queueInfo, live, recent, signals, events, queueWatch };
}

/** What live events tell this process about running and finished jobs, kept for its status reads. */
function learnFromEvents(k: {
  queueInfo: QueueInfoCache;
  live: LiveJobs;
  recent: RecentJobs;
  signals: { noteFinished(id: string): void; reopened(id: string): void };
}) {
  return (id: string, ev: JobEvent) => {
    if (ev.type === "progress") {
      if (k.live.get(id)) k.live.update(id, { progress: ev.progress });
      return;
    }
    if (ev.type !== "status") return;
    if (ev.state === "RUNNING") {
      // Whichever process runs it, a running job was delivered: Submits of
      // this process waiting for its position need no snapshot.
      const parts = jobIdParts(id);
      if (parts) k.queueInfo.noteDelivered(levelKey(parts.queue, parts.priority), parts.seq);
      const started = ev.startedAt !== undefined ? { startedAt: ev.startedAt } : {};
      k.live.update(id, { attempt: ev.attempt, progress: ev.progress, running: true, ...started });
    } else if (isTerminal(ev.state)) {
      k.live.forget(id);
      // A terminal status (published after its record was written) is final.
      // Only a cancel can finish a job before its first delivery begins.
      if (ev.state === "CANCELLED") k.signals.noteFinished(id);
      const info: TerminalInfo = { state: ev.state, attempt: ev.attempt, progress: ev.progress };
      if (ev.startedAt !== undefined) info.startedAt = ev.startedAt;
      if (ev.finishedAt !== undefined) info.finishedAt = ev.finishedAt;
      if (ev.error) info.error = ev.error;
      k.recent.finished(id, info);
      if (ev.output !== undefined) k.recent.completedWith(id, ev.output);
    } else {
      k.live.update(id, { running: false, attempt: ev.attempt });
      // QUEUED after a terminal status: a Retry; the final status remembered here is over.
      const known = k.recent.get(id);
      if (ev.state === "QUEUED") {
        if (known?.terminal) known.terminal = undefined;
        k.signals.reopened(id);
      }
    }
  };
}

function wireWorkerSide(
  conn: Connected,
  o: WiringOptions,
  stores: ReturnType<typeof wireStores>,
  known: ReturnType<typeof wireKnowledge>,
  levels: PriorityLevels,
) {
  const { queueInfo, recent, signals } = known;
  const deliveryContext: DeliveryContext = {
    ...stores,
    events: known.events,
    live: known.live,
    maxRecordBytes: Math.max(1024, maxPayload(conn) - 1024),
    touched: (queue: string) => queueInfo.invalidateQueue(queue),
    onCancel: signals.on,
    knownFinished: signals.finished,
    reopened: signals.reopened,
    undisclosed: (id: string) => {
      const r = recent.get(id);
      return r !== undefined && !r.disclosed && r.meta.msgId === undefined;
    },
    disclosureChecked: (id: string) => recent.get(id)?.disclosureChecked?.(),
    ...(o.logger ? { logger: o.logger } : {}),
  };
  // Late deliveries handed back count as releases, not attempts.
  const late = createLateDeliveries(async (queue, d) => {
    const config = await stores.queueConfigs.get(queue);
    if (config) await fetcher.handBack(queue, config, d);
    else await d.nak(0);
  });
  /** Pulls the server may still answer: close() waits for them, a bounded while. */
  const outstanding = new Set<Promise<void>>();
  const fetcher: Fetcher = createFetcher({
    outstanding: (p) => {
      outstanding.add(p);
      void p.then(() => outstanding.delete(p));
    },
    nc: conn.nc,
    ...stores,
    ...known,
    late,
    levels,
    requestTimeoutMs: o.layout.requestTimeoutMs,
    ...(o.logger ? { logger: o.logger } : {}),
    deliveryContext,
  });
  return { late, outstanding, fetcher };
}
