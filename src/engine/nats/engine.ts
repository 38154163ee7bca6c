/**
 * The JetStream engine: the engine core over the JetStream driver (driver.ts).
 */
import { logBoundsOf } from "../log-bounds.js";
import { assertProgressInterval, DEFAULT_PROGRESS_INTERVAL_MS } from "../progress-pacing.js";
import { settingNamer } from "../settings.js";
import type { Engine } from "../types.js";
import { createEngine, maxPayloadBytesOf } from "../core/engine.js";
import { createNatsDriver } from "./driver.js";
import type { NatsEngineOptions } from "./options.js";

export type { NatsEngineOptions };

export async function createNatsEngine(options: NatsEngineOptions): Promise<Engine> {
  const logBounds = logBoundsOf(options.logBounds);
  const settingName = settingNamer(options.settingNames);
  const progressIntervalMs = assertProgressInterval(options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
  const maxPayloadBytes = maxPayloadBytesOf(options.maxPayloadBytes);
  const { settingNames: _names, progressIntervalMs: _interval, ...rest } = options;
  const driver = await createNatsDriver({ ...rest, logBounds, settingName });
  return createEngine(driver, { maxPayloadBytes, logBounds, settingName, progressIntervalMs });
}
