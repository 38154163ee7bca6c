import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { Engine, LogLevel, QueueConfig } from "../engine/types.js";

/** Runs one attempt of a job: the resolved value is the job's output. */
export type Handler = (input: JsonValue, ctx: JobContext) => Promise<JsonValue> | JsonValue;

export interface JobContext {
  readonly id: string;
  readonly queue: string;
  /** From 1. */
  readonly attempt: number;
  /**
   * The trace id of the trace the job carries (the submitting call's, W3C
   * hex), for log correlation; undefined when it was submitted without one.
   * With tracing on, the handler's active span is the job's `jetq.run` span.
   */
  readonly traceId?: string;
  /** Aborts on cancel, on the job's timeout, and on worker shutdown past its grace. */
  readonly signal: AbortSignal;
  log(level: LogLevel, message: string): void;
  /** fraction in 0..1 (clamped). */
  progress(fraction: number): void;
}

export interface QueueRegistration {
  handler: Handler;
  /** Handlers of this queue running at once in this worker; default WorkerOptions.concurrency. */
  concurrency?: number;
  /** Queue defaults declared when the worker starts. */
  config?: Partial<QueueConfig>;
}

export interface WorkerOptions {
  engine: Engine;
  queues: Record<string, Handler | QueueRegistration>;
  /** Default per queue: 16. */
  concurrency?: number;
  logger?: Logger;
  /** How long one pull waits for jobs; default 2000 (short, so a lost pull recovers fast). */
  fetchExpiresMs?: number;
}

export interface Worker {
  /** Declares the queues, then pulls. */
  start(): Promise<void>;
  /** Stops pulling, lets running jobs finish within graceMs (default 10000), aborts and releases the rest. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /**
   * Serves one more queue (declared, then pulled), also while running: how
   * lanes made at runtime are served. A queue already served is left as it is.
   * Throws after stop() began.
   */
  addQueue(name: string, registration: Handler | QueueRegistration): Promise<void>;
  /** Jobs this worker holds right now. */
  readonly running: number;
}
