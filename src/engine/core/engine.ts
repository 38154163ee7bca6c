/**
 * The engine core: the Engine interface, implemented once over any storage
 * driver (../driver/types.ts). What every call checks, and the rules of a
 * job, live here; the driver stores. docs/ARCHITECTURE.md §3.
 */
import { inputTooLarge, invalidArgument, payloadBytes, unavailable } from "../errors.js";
import { parseJobId } from "../job-id.js";
import { DEFAULT_LOG_BOUNDS, type LogBounds } from "../log-bounds.js";
import { DEFAULT_PROGRESS_INTERVAL_MS } from "../progress-pacing.js";
import { assertQueueName } from "../queue-name.js";
import { settingNamer, type SettingNamer } from "../settings.js";
import { submitThenWatch } from "../submit-and-watch.js";
import type { Engine, FetchOptions, JobStatus, SubmitInput, SubmitWatchOptions } from "../types.js";
import type { Driver, JobRef, NewJob } from "../driver/types.js";
import { createLease, type LeaseRules } from "./lease.js";
import { jobOptionsOf, queueConfigOf } from "./validate.js";

/** Largest input and output (JSON bytes) by default: the server's 16 MiB request limit. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface CoreOptions {
  /** Largest input and output (JSON bytes); default MAX_PAYLOAD_BYTES. */
  maxPayloadBytes?: number;
  logBounds?: LogBounds;
  /** Least time between two progress events of one attempt; default 100. */
  progressIntervalMs?: number;
  settingName?: SettingNamer;
}

/** The maxPayloadBytes option, checked (drivers that need it at setup call this too). */
export function maxPayloadBytesOf(value: number | undefined): number {
  const bytes = value ?? MAX_PAYLOAD_BYTES;
  if (!(bytes > 0)) throw invalidArgument(`maxPayloadBytes: ${bytes} must be greater than zero`);
  return bytes;
}

export function createEngine(driver: Driver, options: CoreOptions = {}): Engine {
  const rules: LeaseRules = {
    logBounds: options.logBounds ?? DEFAULT_LOG_BOUNDS,
    settingName: options.settingName ?? settingNamer(),
    progressIntervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    maxPayloadBytes: maxPayloadBytesOf(options.maxPayloadBytes),
  };
  let closed = false;

  const refOf = (id: string): JobRef => ({ id, ...parseJobId(id) });
  const assertOpen = () => {
    if (closed) throw unavailable("the engine is closed");
  };

  /** The job as the driver stores it: checked, its input encoded once. */
  const newJob = (input: SubmitInput): NewJob => {
    assertQueueName(input.queue);
    const jobOptions = jobOptionsOf(input.options);
    const inputJson = JSON.stringify(input.input ?? null) ?? "null";
    const bytes = payloadBytes(inputJson, rules.maxPayloadBytes);
    if (bytes > rules.maxPayloadBytes) {
      throw inputTooLarge(bytes, rules.maxPayloadBytes, rules.settingName("maxPayloadBytes"));
    }
    assertOpen();
    return {
      queue: input.queue,
      inputJson,
      tenant: input.tenant ?? "",
      options: jobOptions,
      ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
    };
  };

  const engine: Engine = {
    kind: driver.kind,
    readiness: () => driver.readiness(),
    onReadinessChange: (listener) => driver.onReadinessChange(listener),

    async declareQueue(queue, config) {
      assertQueueName(queue);
      const full = queueConfigOf(config);
      assertOpen();
      await driver.declareQueue(queue, full);
    },

    async submit(input) {
      return (await driver.insert(newJob(input))).status;
    },

    async getStatus(id, read = {}) {
      const ref = refOf(id);
      assertOpen();
      return driver.read(ref, read);
    },

    watch(id, watchOptions = {}) {
      const ref = refOf(id);
      assertOpen();
      return driver.watch(ref, watchOptions);
    },

    submitAndWatch(input: SubmitInput, watchOptions: SubmitWatchOptions = {}): AsyncIterable<JobStatus> {
      let fresh = false;
      return submitThenWatch(
        async () => {
          const inserted = await driver.insert(newJob(input));
          fresh = inserted.fresh;
          return inserted.status;
        },
        (queued) =>
          driver.watch(refOf(queued.id), { ...watchOptions, tenant: input.tenant ?? "" }, fresh ? queued : undefined),
      );
    },

    async getResult(id, read = {}) {
      const ref = refOf(id);
      assertOpen();
      return driver.readResult(ref, read);
    },

    async cancel(id, read = {}) {
      const ref = refOf(id);
      assertOpen();
      return driver.cancel(ref, read);
    },

    async queueCount(queue) {
      assertQueueName(queue);
      assertOpen();
      return driver.count(queue);
    },

    async fetch(queue: string, fetchOptions: FetchOptions) {
      assertQueueName(queue);
      const max = Math.floor(fetchOptions.max);
      // As a pending fetch when the engine closes: nothing more to hand out.
      if (closed || !(max >= 1) || fetchOptions.signal?.aborted) return [];
      const deliveries = await driver.fetch(queue, max, fetchOptions.expiresMs, fetchOptions.signal);
      return deliveries.map((d) => createLease(d, rules));
    },

    stats: () => driver.stats(),

    async close() {
      if (closed) return;
      closed = true;
      await driver.close();
    },
  };
  return engine;
}
