/** One registered queue as the worker runs it: its handler, its slots and the jobs in them. */
import { assertQueueName } from "../engine/queue-name.js";
import type { QueueConfig } from "../engine/types.js";
import type { ActiveJob } from "./active-job.js";
import type { Handler, QueueRegistration, WorkerOptions } from "./types.js";

const DEFAULT_CONCURRENCY = 16;

export interface QueueRuntime {
  readonly name: string;
  readonly handler: Handler;
  readonly concurrency: number;
  readonly config?: Partial<QueueConfig>;
  /** The jobs in its slots. */
  readonly active: Set<ActiveJob>;
  /** Resolves the pull loop's wait when a slot frees up. */
  wake?: () => void;
}

/** The worker's queues, checked: a bad queue name or concurrency throws, naming the queue. */
export function queueRuntimes(options: WorkerOptions): QueueRuntime[] {
  return Object.entries(options.queues).map(([name, reg]) => queueRuntime(name, reg, options.concurrency));
}

/** One queue's runtime; `defaultConcurrency` is WorkerOptions.concurrency. */
export function queueRuntime(
  name: string,
  reg: Handler | QueueRegistration,
  defaultConcurrency: number | undefined,
): QueueRuntime {
  assertQueueName(name, "queues");
  const r: QueueRegistration = typeof reg === "function" ? { handler: reg } : reg;
  const concurrency = r.concurrency ?? defaultConcurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency of queue "${name}" must be a whole number >= 1, got ${concurrency}`);
  }
  return { name, handler: r.handler, concurrency, config: r.config, active: new Set() };
}

/** Jobs in all the queues' slots. */
export function activeJobs(queues: QueueRuntime[]): ActiveJob[] {
  return queues.flatMap((q) => [...q.active]);
}
