/**
 * The one way jetq makes loggers: pino, JSON lines on stdout, so the output
 * goes straight into any log pipeline.
 */
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({
    name: options.name ?? "jetq",
    level: options.level ?? "info",
  });
}

/** A logger that drops everything: the default for library callers. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
