/**
 * The embedded engine: the engine core over the memory driver (driver.ts),
 * with the same contract and semantics as the JetStream engine
 * (test/conformance/). Nothing survives the process.
 */
import type { Logger } from "pino";
import { invalidArgument } from "../errors.js";
import { logBoundsOf, type LogBounds } from "../log-bounds.js";
import type { PositionPacerOptions } from "../position-pacer.js";
import { assertProgressInterval, DEFAULT_PROGRESS_INTERVAL_MS } from "../progress-pacing.js";
import { settingNamer, type SettingNames } from "../settings.js";
import type { Engine } from "../types.js";
import { createEngine, MAX_PAYLOAD_BYTES, maxPayloadBytesOf } from "../core/engine.js";
import type { SeqSet } from "./order-stats.js";
import { MemoryDriver } from "./driver.js";

export { MAX_PAYLOAD_BYTES };

export interface MemoryEngineOptions {
  /** How long terminal jobs (and their logs) stay readable. Default 24h. */
  retentionMs?: number;
  /** Largest input and output (JSON bytes); default 16 MiB. */
  maxPayloadBytes?: number;
  logger?: Logger;
  /** How position-only updates of watches are paced (defaults: ../position-pacer.ts). */
  positionUpdates?: PositionPacerOptions;
  /** What a job's handler may log (defaults: ../log-bounds.ts). */
  logBounds?: Partial<LogBounds>;
  /** Least time between two progress events of one attempt; default 100. */
  progressIntervalMs?: number;
  /** How messages name the engine's settings (../settings.ts); default the options' own names. */
  settingNames?: SettingNames;
}

const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Internals exposed to this engine's own tests (complexity is asserted by counting). */
export interface MemoryEngineInternals {
  readySet(queue: string): Pick<SeqSet, "operations" | "size"> | undefined;
  timers(): { deadlines: number; retention: number };
}
const internals = new WeakMap<Engine, MemoryEngineInternals>();
export function memoryEngineInternals(engine: Engine): MemoryEngineInternals {
  const found = internals.get(engine);
  if (!found) throw new Error("not an embedded (memory) engine");
  return found;
}

export function createMemoryEngine(options: MemoryEngineOptions = {}): Engine {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  if (!(retentionMs >= 0)) throw invalidArgument(`retentionMs: ${retentionMs} must be zero or more`);
  const maxPayloadBytes = maxPayloadBytesOf(options.maxPayloadBytes);
  const logBounds = logBoundsOf(options.logBounds);
  const settingName = settingNamer(options.settingNames);
  const progressIntervalMs = assertProgressInterval(options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  const driver = new MemoryDriver({
    retentionMs,
    logBounds,
    settingName,
    ...(options.logger ? { logger: options.logger.child({ engine: "memory" }) } : {}),
    ...(options.positionUpdates ? { positionUpdates: options.positionUpdates } : {}),
  });
  const engine = createEngine(driver, { maxPayloadBytes, logBounds, settingName, progressIntervalMs });
  internals.set(engine, {
    readySet: (queue) => driver.store.queues.get(queue)?.ready,
    timers: () => ({ deadlines: driver.store.deadlines.size, retention: driver.store.retention.size }),
  });
  return engine;
}
