/**
 * The worker runtime (docs/ARCHITECTURE.md §8): per queue a pull loop
 * (pull-loop.ts) that pulls exactly as many jobs as it has free slots, hands
 * each to the executor (run-job.ts: heartbeats, a cancel / timeout /
 * shutdown signal) and settles it exactly once (settle.ts); stop() drains
 * and hands back what is left (shutdown.ts).
 */
import { silentLogger } from "../logger.js";
import type { JobRuntime } from "./job-scope.js";
import { createPullHold } from "./pull-hold.js";
import { pullLoop } from "./pull-loop.js";
import { queueRuntime, queueRuntimes, type QueueRuntime } from "./queue-runtime.js";
import { stopWorker, type WorkerStopState } from "./shutdown.js";
import type { Worker, WorkerOptions } from "./types.js";

const DEFAULT_FETCH_EXPIRES_MS = 2_000;

export function createWorker(options: WorkerOptions): Worker {
  const engine = options.engine;
  const logger = (options.logger ?? silentLogger()).child({ component: "worker" });
  const queues = queueRuntimes(options);
  const graceOver = new AbortController();
  const runtime: JobRuntime = { logger, hold: createPullHold(), graceOver: graceOver.signal };
  const state: WorkerStopState = {
    queues,
    logger,
    draining: new AbortController(),
    cutPulls: new AbortController(),
    graceOver,
    loops: [],
    handingBack: new Set(),
  };
  let started = false;
  const loopOptions = {
    engine,
    logger,
    fetchExpiresMs: options.fetchExpiresMs ?? DEFAULT_FETCH_EXPIRES_MS,
    draining: state.draining.signal,
    cutPulls: state.cutPulls.signal,
    handingBack: state.handingBack,
    runtime,
  };
  const startLoop = (q: QueueRuntime) =>
    pullLoop(q, loopOptions).catch((err: unknown) => logger.error({ err, queue: q.name }, "pull loop ended"));
  let stopped: Promise<void> | undefined;

  return {
    get running() {
      return queues.reduce((n, q) => n + q.active.size, 0);
    },

    async start() {
      if (started) throw new Error("worker already started");
      started = true;
      for (const q of queues) await engine.declareQueue(q.name, q.config);
      state.loops = queues.map(startLoop);
      logger.info({ queues: queues.map((q) => ({ name: q.name, concurrency: q.concurrency })) }, "worker started");
    },

    async addQueue(name, registration) {
      if (state.draining.signal.aborted) throw new Error(`worker is stopping: cannot serve queue "${name}"`);
      if (queues.some((q) => q.name === name)) return;
      const q = queueRuntime(name, registration, options.concurrency);
      // Listed at once, so a second addQueue of the same name is a no-op.
      queues.push(q);
      if (!started) return;
      await engine.declareQueue(q.name, q.config);
      if (state.draining.signal.aborted) return;
      state.loops.push(startLoop(q));
      logger.info({ queue: q.name, concurrency: q.concurrency }, "worker serves a new queue");
    },

    stop(stopOptions = {}) {
      stopped ??= stopWorker(state, stopOptions.graceMs);
      return stopped;
    },
  };
}
