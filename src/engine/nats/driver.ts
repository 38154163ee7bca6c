/**
 * The JetStream storage driver: serves the driver contract
 * (../driver/types.ts) from the parts wired in wiring.ts.
 * docs/ARCHITECTURE.md §5-6 is the map; each module holds one part.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { JobEventListener } from "../job-events.js";
import { setMaxListeners } from "node:events";
import { queueNotFound, unavailable } from "../errors.js";
import { retainedLines, type LogBounds } from "../log-bounds.js";
import type { SettingNamer } from "../settings.js";
import type {
  EngineStats,
  FinishedCounts,
  JobResult,
  JobStatus,
  LogEntry,
  QueueConfig,
  QueueCounts,
  ReadOptions,
  Readiness,
  WatchOptions,
} from "../types.js";
import type {
  Driver,
  DriverCancelOutcome,
  DriverDelivery,
  Inserted,
  JobRef,
  ListPage,
  ListQuery,
  NewJob,
} from "../driver/types.js";
import type { WebhookOutbox } from "../webhook-outbox.js";
import { cancelJob } from "./cancel.js";
import { connectJetStream } from "./connect.js";
import { closeConnection, watchReconnects, withinTimeout } from "./connection.js";
import { guard, isConsumerNotFound, isStreamNotFound, toEngineError } from "./errors.js";
import { liveJobsPage } from "./list-live.js";
import { createLeftoverSweeper, type LeftoverSweeper } from "./leftovers.js";
import type { NatsEngineOptions } from "./options.js";
import { watchNatsReadiness } from "./readiness.js";
import { readInput } from "./job-input.js";
import { readResult } from "./result.js";
import { retryJob } from "./retry.js";
import { eachBounded } from "./each-bounded.js";
import { ensureQueue, type LayoutOptions } from "./setup.js";
import { wireParts, type Parts } from "./wiring.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Submits of one SubmitBatch in flight at once. */
const BATCH_IN_FLIGHT = 64;
/**
 * Watches of QUEUED jobs refresh their position from the shared per-queue
 * snapshot every tick; every watch is re-derived (safety net for lost core
 * events) every ALL_REDERIVE_EVERY ticks and after each reconnect.
 */
const QUEUED_REDERIVE_MS = 1_000;
const ALL_REDERIVE_EVERY = 10;
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
  const layout: LayoutOptions = {
    logLinesPerJob: retainedLines(options.logBounds),
    storage: options.storage ?? "file",
    replicas: options.replicas ?? 1,
    retentionMs: options.retentionMs ?? DAY_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
  };
  const conn = await connectJetStream(options, layout, options.logger);
  const parts = wireParts(conn, {
    layout,
    logBounds: options.logBounds,
    settingName: options.settingName,
    ...(options.positionUpdates ? { positionUpdates: options.positionUpdates } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return new NatsDriver(parts, layout, options);
}

class NatsDriver implements Driver {
  readonly kind = "nats" as const;
  private closed = false;
  private readonly closing = new AbortController();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly leftovers: LeftoverSweeper;
  private readonly readinessWatch: ReturnType<typeof watchNatsReadiness>;
  private readonly timeout: number;

  constructor(
    private readonly p: Parts,
    private readonly layout: LayoutOptions,
    private readonly options: NatsDriverOptions,
  ) {
    this.timeout = layout.requestTimeoutMs;
    // Every pending fetch listens to it: many queues × workers are not a leak.
    setMaxListeners(0, this.closing.signal);
    this.readinessWatch = watchNatsReadiness({
      nc: p.nc,
      probe: () => p.jsm.getAccountInfo(),
      probeIntervalMs: options.readinessProbeMs ?? 5_000,
      timeoutMs: this.timeout,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    let tick = 0;
    this.timer = setInterval(() => {
      tick++;
      p.watches.rederive(tick % ALL_REDERIVE_EVERY === 0 ? "all" : "positions");
    }, QUEUED_REDERIVE_MS);
    this.timer.unref();
    this.leftovers = createLeftoverSweeper(p.jsm, p.records, () => this.closed, options.logger, p.levels);
    watchReconnects(p.nc, () => {
      p.watches.rederive("all");
      this.leftovers.reconnected();
    });
  }

  setEventSink(sink: JobEventListener): void {
    this.p.fetcher.setEventSink(sink);
  }

  readiness(): Readiness {
    return this.readinessWatch.state.get();
  }

  onReadinessChange(listener: (readiness: Readiness) => void): () => void {
    return this.readinessWatch.state.subscribe(listener);
  }

  async declareQueue(queue: string, config: QueueConfig): Promise<void> {
    this.assertOpen();
    const { p, layout } = this;
    const declaring = async () => {
      await ensureQueue(p.jsm, queue, config, layout);
      await p.queueConfigs.put(queue, config);
      // Its priority levels' consumers take the declared ack wait too.
      await p.levels.declared(queue, config);
    };
    // Several requests that may each take a while on a cluster: no total bound.
    await guard(`declaring queue "${queue}"`, () => p.link.whileConnected(declaring()));
    this.leftovers.watch(queue);
  }

  async insert(job: NewJob): Promise<Inserted> {
    this.assertOpen();
    return guard(`submitting to queue "${job.queue}"`, () => this.p.submit(job));
  }

  async read(ref: JobRef, options: ReadOptions): Promise<JobStatus> {
    this.assertOpen();
    return this.call(`reading job "${ref.id}"`, () => this.p.deriver.status(ref, options));
  }

  watch(ref: JobRef, options: WatchOptions, inserted?: JobStatus): AsyncIterable<JobStatus> {
    this.assertOpen();
    const { events, deriver, watches } = this.p;
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
  }

  async readResult(ref: JobRef, options: ReadOptions): Promise<JobResult> {
    this.assertOpen();
    const { deriver, blobs, recent } = this.p;
    const { layout } = this;
    const settingName = this.options.settingName;
    return this.call(`reading the result of job "${ref.id}"`, () =>
      readResult({ deriver, blobs, retentionMs: layout.retentionMs, settingName, recent }, ref, options),
    );
  }

  async readInput(ref: JobRef, options: ReadOptions): Promise<JsonValue | undefined> {
    this.assertOpen();
    const { p } = this;
    const queueDeclared = async (queue: string) => (await p.queueConfigs.get(queue)) !== undefined;
    return this.call(`reading the input of job "${ref.id}"`, () => readInput({ ...p, queueDeclared }, ref, options));
  }

  async cancel(ref: JobRef, options: ReadOptions): Promise<DriverCancelOutcome> {
    this.assertOpen();
    return this.call(`cancelling job "${ref.id}"`, () => cancelJob(this.p, ref, options));
  }

  async count(queue: string): Promise<QueueCounts> {
    this.assertOpen();
    const { counts } = this.p;
    return this.call(`counting queue "${queue}"`, async () => {
      try {
        // Every priority level's waiting and running jobs (level-figures.ts).
        return { queue, ...(await counts(queue)) };
      } catch (err) {
        if (isStreamNotFound(err) || isConsumerNotFound(err)) throw queueNotFound(queue);
        throw err;
      }
    });
  }

  async fetch(queue: string, max: number, expiresMs: number, signal?: AbortSignal): Promise<DriverDelivery[]> {
    if (this.closed) return [];
    const { queueConfigs, signals, fetcher } = this.p;
    return guard(`fetching from queue "${queue}"`, async () => {
      const config = await queueConfigs.get(queue);
      if (!config) throw queueNotFound(queue);
      signals.start();
      const both = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
      const deliveries = await fetcher.fetch(queue, config, max, expiresMs, both);
      // Closed meanwhile: the deliveries are redelivered after ack_wait.
      return this.closed ? [] : deliveries;
    });
  }

  async listQueues(): Promise<string[]> {
    this.assertOpen();
    return this.call("listing the queues", () => this.p.queueConfigs.names());
  }

  async queueConfig(queue: string): Promise<QueueConfig | undefined> {
    this.assertOpen();
    return this.call(`reading the config of queue "${queue}"`, () => this.p.queueConfigs.get(queue));
  }

  async appendLog(ref: JobRef, entry: LogEntry): Promise<void> {
    this.assertOpen();
    const { deriver, logs } = this.p;
    // A line for a job that exists (NOT_FOUND otherwise), stored in its log stream like a worker's.
    await this.call(`reading job "${ref.id}"`, () => deriver.status(ref, {}));
    await logs.append(ref.id, entry);
  }

  get webhooks(): WebhookOutbox {
    return this.p.webhooks;
  }

  // -- job control: lists (ListQueues, ListJobs) --
  async listJobs(query: ListQuery): Promise<ListPage> {
    this.assertOpen();
    const { p } = this;
    return this.call(`listing ${query.state} jobs of queue "${query.queue}"`, async () => {
      if (!(await p.queueConfigs.get(query.queue))) throw queueNotFound(query.queue);
      if (query.state === "QUEUED" || query.state === "RUNNING") return liveJobsPage(p, query);
      return p.index.page(query);
    });
  }

  async finishedCounts(queue: string, since: readonly number[]): Promise<FinishedCounts[]> {
    this.assertOpen();
    return this.call(`counting finished jobs of queue "${queue}"`, () => this.p.index.counts.read(queue, since));
  }
  // -- end lists --

  // -- job control: retry and delayed jobs --
  async delayedCount(queue: string): Promise<number> {
    this.assertOpen();
    return this.call(`counting the delayed jobs of queue "${queue}"`, () => this.p.delayed.count(queue));
  }

  async retry(ref: JobRef, options: ReadOptions): Promise<JobStatus> {
    this.assertOpen();
    const { p } = this;
    const deps = { ...p, requestTimeoutMs: this.timeout };
    return this.call(`retrying job "${ref.id}"`, () => retryJob(deps, ref, options));
  }
  // -- end retry and delayed jobs --

  // -- job control: priority --
  // -- end priority --

  // -- job control: batches, WatchJobs, pause --
  async insertBatch(jobs: NewJob[]): Promise<Array<Inserted | { error: unknown }>> {
    // Many publishes in flight on the one connection (its writes coalesce), bounded.
    return eachBounded(jobs, BATCH_IN_FLIGHT, (job) => this.insert(job));
  }

  watchQueue(queue: string, onJob: (id: string) => void): () => void {
    return this.p.queueWatch.listen(queue, onJob);
  }

  async setPaused(queue: string, paused: boolean): Promise<void> {
    this.assertOpen();
    const { queueConfigs, pauseFlags } = this.p;
    await this.call(`${paused ? "pausing" : "resuming"} queue "${queue}"`, async () => {
      if (!(await queueConfigs.get(queue))) throw queueNotFound(queue);
      await pauseFlags.set(queue, paused);
    });
  }

  async paused(queue: string): Promise<boolean> {
    this.assertOpen();
    const { queueConfigs, pauseFlags } = this.p;
    return this.call(`reading whether queue "${queue}" is paused`, async () => {
      if (!(await queueConfigs.get(queue))) throw queueNotFound(queue);
      return pauseFlags.get(queue);
    });
  }
  // -- end batches, WatchJobs, pause --

  stats(): EngineStats {
    return { eventSubscriptions: this.p.events.subscriptions, openWatches: this.p.watches.open };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { p } = this;
    this.readinessWatch.close();
    this.closing.abort();
    clearInterval(this.timer);
    p.watches.closeAll(unavailable("the engine was closed while the job was watched; reconnect and watch again"));
    // Pull requests the server still holds could be handed a job after we
    // are gone (2.9 does not drop them with the connection), and it would
    // wait a whole ack_wait: listen until they expire, a bounded while, and
    // hand back whatever arrives.
    const drained = new Promise<void>((r) => setTimeout(r, CLOSE_DRAIN_MS).unref());
    await Promise.race([Promise.all([...p.outstanding]), drained]);
    await p.late.clear();
    await this.leftovers.idle();
    await p.delayed.close();
    p.events.close();
    p.levels.close();
    p.queueWatch.close();
    p.pauseFlags.close();
    // The acks and events of the last moments must reach the server.
    await closeConnection(p.nc, CLOSE_FLUSH_MS);
  }

  private assertOpen(): void {
    if (this.closed) throw unavailable("the engine is closed");
    this.p.link.assertConnected();
  }

  /**
   * A client call: UNAVAILABLE at once if the connection drops under it, and
   * once it has taken a request timeout in all (several requests that each
   * wait out their timeout, say during a cluster failover, would otherwise
   * outlast the client's deadline). fetch waits out its pull instead.
   */
  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { timeout } = this;
    return guard(what, () =>
      this.p.link.whileConnected(
        withinTimeout(fn(), timeout, () => unavailable(`NATS did not answer in ${timeout} ms: ${what} failed; retry`)),
        what,
      ),
    );
  }
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
