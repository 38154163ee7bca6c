/**
 * What happened to jobs in this process, told to observers (metrics, the
 * per-job log line, webhooks, traces). The core emits what it decides:
 * submits, starts, retries, releases, a lease's outcome and a cancel; a
 * driver emits the terminal transitions it makes without a lease (the
 * embedded engine's expiry timer, a lease lost once too often) through the
 * sink the core hands it. So each transition is told once, by the process
 * that made it. docs/ARCHITECTURE.md §8.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { JobError, JobOptions } from "./types.js";

interface JobEventBase {
  queue: string;
  id: string;
  /** "" on a server without keys. */
  tenant: string;
}

/** A Submit stored a new job (not an idempotent repeat). */
export interface SubmittedEvent extends JobEventBase {
  kind: "submitted";
  createdAt: number;
  options: JobOptions;
}

/** An attempt began: the handler runs now. */
export interface StartedEvent extends JobEventBase {
  kind: "started";
  attempt: number;
  createdAt: number;
  startedAt: number;
  /** Leases of this job lost so far (a worker died or stalled): > 0 means a crash redelivery. */
  lostLeases: number;
}

/** A failed attempt will run again after delayMs. */
export interface RetriedEvent extends JobEventBase {
  kind: "retried";
  attempt: number;
  error: JobError;
  delayMs: number;
}

/** A worker handed the job back unfinished (shutdown); not an attempt. */
export interface ReleasedEvent extends JobEventBase {
  kind: "released";
  attempt: number;
}

export type TerminalJobState = "COMPLETED" | "FAILED" | "CANCELLED" | "EXPIRED";

/** The job reached a terminal state, by this process's write. */
export interface FinishedEvent extends JobEventBase {
  kind: "finished";
  state: TerminalJobState;
  attempt: number;
  createdAt: number;
  /** When the last attempt started; unset when none ran. */
  startedAt?: number;
  finishedAt: number;
  error?: JobError;
  /** Only when COMPLETED. */
  output?: JsonValue;
  /** The job's options when the writer knows them (a lease, a driver, a cancel). */
  options?: JobOptions;
}

export type JobEvent = SubmittedEvent | StartedEvent | RetriedEvent | ReleasedEvent | FinishedEvent;

export type JobEventListener = (event: JobEvent) => void;

/** Observers of one engine. A listener that throws is reported, never breaks the engine. */
export class JobEvents {
  private readonly listeners = new Set<JobEventListener>();
  private readonly onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.onListenerError = onListenerError;
  }

  observe(listener: JobEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get observed(): boolean {
    return this.listeners.size > 0;
  }

  emit = (event: JobEvent): void => {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  };
}
