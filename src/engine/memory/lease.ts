/**
 * The JobLease a worker holds: a thin handle on one delivery. Every decision
 * (is this delivery still current? what state follows?) is the engine's, so
 * a stale lease can never change a job.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { FailOptions, JobError, JobLease, LogLevel } from "../types.js";
import type { Delivery } from "./job-record.js";

export interface LeaseHost {
  begin(d: Delivery): boolean;
  heartbeat(d: Delivery): void;
  log(d: Delivery, level: LogLevel, message: string): void;
  progress(d: Delivery, fraction: number): void;
  complete(d: Delivery, output: JsonValue): boolean;
  fail(d: Delivery, error: JobError, options: FailOptions): boolean;
  release(d: Delivery): void;
}

export function createLease(host: LeaseHost, d: Delivery): JobLease {
  const job = d.job;
  return {
    id: job.id,
    queue: job.queue.name,
    // Each delivery gets its own copy: a handler mutating its input cannot
    // change what a retry sees.
    input: structuredClone(job.input),
    attempt: d.attempt,
    createdAt: job.createdAt,
    options: { ...job.options },
    ackWaitMs: d.ackWaitMs,
    cancelled: d.cancel.signal,
    begin: async () => host.begin(d),
    heartbeat: async () => host.heartbeat(d),
    log: (level, message) => host.log(d, level, message),
    progress: (fraction) => host.progress(d, fraction),
    complete: async (output) => host.complete(d, output),
    fail: async (error, options = {}) => host.fail(d, error, options),
    release: async () => host.release(d),
  };
}
