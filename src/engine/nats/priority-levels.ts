/**
 * The priority levels of each queue (../core/priority.ts) on JetStream: the
 * default level is the queue's own stream `JETQ_Q_<queue>`; every other
 * level in use has a WorkQueue stream `JETQ_Q_<queue>_P<n>` and its own
 * `workers` consumer, made the first time a job asks for that level (by the
 * Submit that meets no stream, from any process, idempotently), so each
 * stream keeps the one-stream position formula and a queue that only ever
 * sees priority 5 costs exactly what it did before priorities existed.
 *
 * Which levels exist is read from JetStream itself (stream names filtered
 * by the levels' subjects) and cached per process for LEVELS_TTL_MS; a stale
 * answer is used while a refresh runs. The process that makes a level says
 * so on `jetq.levels.<queue>` (core NATS; one subscription per process,
 * opened on first use), so every process learns of it at once and a worker
 * waiting on the queue's other levels stops waiting and pulls again with the
 * new one (`grown`); the listing is the safety net for a lost message.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY } from "../job-id.js";
import type { QueueConfig } from "../types.js";
import { prioritySubjects, priorityOfStream, streamName } from "./layout.js";
import type { QueueConfigStore } from "./queue-config.js";
import { ensureQueue, type LayoutOptions } from "./setup.js";

/** How long a process trusts what it listed of a queue's levels (new ones are announced). */
export const LEVELS_TTL_MS = 2_000;
const ANNOUNCE_PREFIX = "jetq.levels.";

export interface PriorityLevels {
  /** The queue's levels with a stream, highest first; always holds 5. Cached (see above). */
  of(queue: string): Promise<number[]>;
  /** The levels other than 5 with a stream now (no cache). */
  list(queue: string): Promise<number[]>;
  /**
   * Makes the stream and consumer of a level, idempotently, with the
   * queue's declared config. False when the queue is not declared.
   */
  ensure(queue: string, priority: number): Promise<boolean>;
  /** After a declare: every level's consumer takes the new config (ack wait). */
  declared(queue: string, config: QueueConfig): Promise<void>;
  /** A level's stream answered that it is gone: ask again next time. */
  forget(queue: string): void;
  /** Aborts when the queue gains a level: a pull waiting on the others should start again. */
  grown(queue: string): AbortSignal;
  close(): void;
}

interface Entry {
  at: number;
  levels: number[];
  refreshing?: Promise<number[]>;
  grown: AbortController;
  /** Levels this process made or heard announced, and when. */
  added: Map<number, number>;
}

const sorted = (levels: Iterable<number>) => [...new Set([DEFAULT_PRIORITY, ...levels])].sort((a, b) => b - a);

export function createPriorityLevels(
  nc: NatsConnection,
  jsm: JetStreamManager,
  queueConfigs: QueueConfigStore,
  layout: LayoutOptions,
  logger?: Logger,
): PriorityLevels {
  return new NatsPriorityLevels(nc, jsm, queueConfigs, layout, logger);
}

class NatsPriorityLevels implements PriorityLevels {
  private readonly cache = new Map<string, Entry>();
  private announcements: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly queueConfigs: QueueConfigStore,
    private readonly layout: LayoutOptions,
    private readonly logger?: Logger,
  ) {}

  async of(queue: string): Promise<number[]> {
    const e = this.entry(queue);
    if (e.at === 0) return this.refresh(queue, e);
    if (Date.now() - e.at >= LEVELS_TTL_MS) void this.refresh(queue, e);
    return e.levels;
  }

  async list(queue: string): Promise<number[]> {
    const prefix = `${streamName(queue)}_P`;
    const out: number[] = [];
    for await (const name of this.jsm.streams.names(prioritySubjects(queue))) {
      if (name.startsWith(prefix)) out.push(priorityOfStream(name));
    }
    return out.filter((p) => p !== DEFAULT_PRIORITY);
  }

  async ensure(queue: string, priority: number): Promise<boolean> {
    const config = await this.queueConfigs.get(queue);
    if (!config) return false;
    await ensureQueue(this.jsm, queue, config, this.layout, priority);
    this.add(queue, priority);
    if (!this.nc.isClosed()) this.nc.publish(`${ANNOUNCE_PREFIX}${queue}`, String(priority));
    return true;
  }

  async declared(queue: string, config: QueueConfig): Promise<void> {
    const levels = await this.list(queue);
    await Promise.all(levels.map((p) => ensureQueue(this.jsm, queue, config, this.layout, p)));
    for (const p of levels) this.add(queue, p);
  }

  forget(queue: string): void {
    const e = this.cache.get(queue);
    if (e) e.at = 0;
  }

  grown(queue: string): AbortSignal {
    return this.entry(queue).grown.signal;
  }

  close(): void {
    this.announcements?.unsubscribe();
  }

  private entry(queue: string): Entry {
    this.listen();
    let e = this.cache.get(queue);
    if (!e) {
      e = { at: 0, levels: [DEFAULT_PRIORITY], grown: new AbortController(), added: new Map() };
      this.cache.set(queue, e);
    }
    return e;
  }

  private refresh(queue: string, e: Entry): Promise<number[]> {
    const startedAt = Date.now();
    e.refreshing ??= this.list(queue)
      .then((found) => {
        // A level announced while the listing ran may be missing from it.
        const announced = [...e.added].filter(([, at]) => at >= startedAt).map(([p]) => p);
        const next = sorted([...found, ...announced]);
        const grew = next.some((p) => !e.levels.includes(p));
        e.levels = next;
        e.at = Date.now();
        if (grew) grewNow(e);
        return e.levels;
      })
      .catch((err: unknown) => {
        // Keep what was known: a level missed for a moment only delays its jobs.
        this.logger?.debug({ err, queue }, "jetq nats engine: could not list the queue's priority streams");
        e.at = Date.now();
        return e.levels;
      })
      .finally(() => {
        e.refreshing = undefined;
      });
    return e.refreshing;
  }

  /** A level this process made, declared or heard announced. */
  private add(queue: string, priority: number): void {
    const e = this.cache.get(queue);
    if (!e) return;
    e.added.set(priority, Date.now());
    if (e.levels.includes(priority)) return;
    e.levels = sorted([...e.levels, priority]);
    grewNow(e);
  }

  /** Learns the levels other processes make, from the moment this process first asks. */
  private listen(): void {
    if (this.announcements || this.nc.isClosed()) return;
    this.announcements = this.nc.subscribe(`${ANNOUNCE_PREFIX}>`, {
      callback: (err, msg) => {
        if (err) return;
        const priority = Number(msg.string());
        const valid = Number.isInteger(priority) && priority >= MIN_PRIORITY && priority <= MAX_PRIORITY;
        if (valid && priority !== DEFAULT_PRIORITY) this.add(msg.subject.slice(ANNOUNCE_PREFIX.length), priority);
      },
    });
  }
}

/** Tells pulls waiting on the queue's other levels that there is one more. */
function grewNow(e: Entry): void {
  e.grown.abort();
  e.grown = new AbortController();
}
