/** What the JetStream engine is opened with. */
import type { Logger } from "pino";
import type { LogBounds } from "../log-bounds.js";
import type { PositionPacerOptions } from "../position-pacer.js";
import type { SettingNames } from "../settings.js";

export interface NatsEngineOptions {
  servers: string | string[];
  /** Stream and bucket storage; default "file". */
  storage?: "file" | "memory";
  /** Stream and bucket replicas; default 1. */
  replicas?: number;
  /** Connection name shown in the server's monitoring. */
  name?: string;
  logger?: Logger;
  /** How long terminal records and logs are kept; default 24h. */
  retentionMs?: number;
  /** Bound of every JetStream API call; default 5000. */
  requestTimeoutMs?: number;
  /** Largest input and output (JSON bytes); default 16 MiB. Over max_payload they go to the object store. */
  maxPayloadBytes?: number;
  /** How position-only updates of watches are paced (defaults: ../position-pacer.ts). */
  positionUpdates?: PositionPacerOptions;
  /** What a job's handler may log (defaults: ../log-bounds.ts); also the logs stream's lines per job. */
  logBounds?: Partial<LogBounds>;
  /** Least time between two progress events of one attempt; default 100. */
  progressIntervalMs?: number;
  /** How often readiness asks whether JetStream answers while it does; default 5000. */
  readinessProbeMs?: number;
  /** How messages name the engine's settings (../settings.ts); default the options' own names. */
  settingNames?: SettingNames;
}
