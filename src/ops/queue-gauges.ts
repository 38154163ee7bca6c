/**
 * Waiting and running jobs per queue, read from the engine when Prometheus
 * scrapes (Engine.listQueues + queueCount), on the API process. Bounded:
 * at most maxQueues queues (by name), one collection in flight, and a
 * deadline, so a scrape answers at once when NATS is down or slow;
 * jetq_queue_jobs is then left out and jetq_queue_counts_up says 0.
 */
import { Gauge, type Registry } from "prom-client";
import type { Engine, QueueCounts } from "../engine/types.js";

export interface QueueGaugeOptions {
  engine: Engine;
  /** Queues read per scrape; default 100. */
  maxQueues?: number;
  /** How long a scrape waits for the counts; default 2000 ms. */
  timeoutMs?: number;
}

interface Snapshot {
  queues: number;
  counts: QueueCounts[];
}

export const DEFAULT_QUEUE_COUNT_TIMEOUT_MS = 2_000;

export function registerQueueGauges(registry: Registry, options: QueueGaugeOptions): void {
  const read = snapshots(options);
  const registers = [registry];
  new Gauge({
    name: "jetq_queue_jobs",
    help: "Jobs per queue by state (waiting: QUEUED, due or not; running), read at scrape time.",
    labelNames: ["queue", "state"],
    registers,
    async collect() {
      this.reset();
      for (const c of (await read())?.counts ?? []) {
        this.set({ queue: c.queue, state: "waiting" }, c.inQueue);
        this.set({ queue: c.queue, state: "running" }, c.running);
      }
    },
  });
  new Gauge({
    name: "jetq_queues",
    help: "Declared queues, as of the last read that succeeded; jetq_queue_jobs shows at most JETQ_METRICS_MAX_QUEUES of them.",
    registers,
    async collect() {
      // Kept from the last read when this one failed: a gauge without labels cannot be left out.
      const snapshot = await read();
      if (snapshot) this.set(snapshot.queues);
    },
  });
  new Gauge({
    name: "jetq_queue_counts_up",
    help: "1 when this scrape read the queue counts, 0 when the engine was not ready or too slow.",
    registers,
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
}

/** One read shared by the gauges of a scrape (and by scrapes meanwhile); undefined when it failed or ran late. */
function snapshots(options: QueueGaugeOptions): () => Promise<Snapshot | undefined> {
  const { engine } = options;
  const maxQueues = options.maxQueues ?? 100;
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUEUE_COUNT_TIMEOUT_MS;
  let inFlight: Promise<Snapshot> | undefined;
  return async () => {
    if (!engine.readiness().ready) return undefined;
    inFlight ??= (async () => {
      const names = (await engine.listQueues()).sort();
      // A queue that fails to answer is left out, not the whole scrape.
      const counts = await Promise.all(names.slice(0, maxQueues).map((q) => engine.queueCount(q).catch(() => null)));
      return { queues: names.length, counts: counts.filter((c) => c !== null) };
    })().finally(() => (inFlight = undefined));
    return withDeadline(inFlight, timeoutMs);
  };
}

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  try {
    return await Promise.race([work.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
