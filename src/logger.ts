/**
 * The one way jetq makes loggers: pino, JSON lines on stdout, so the output
 * goes straight into any log pipeline; on a terminal (or with
 * JETQ_LOG_FORMAT=pretty) the same lines printed for people by pino-pretty.
 */
import { createRequire } from "node:module";
import { pino, type Logger, type LevelWithSilent } from "pino";
import type PinoPretty from "pino-pretty";

export type { Logger };

export type LogFormat = "json" | "pretty";

export interface LoggerOptions {
  level?: LevelWithSilent;
  name?: string;
  /** Default: pretty when stdout is a terminal, else JSON. */
  format?: LogFormat;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = { name: options.name ?? "jetq", level: options.level ?? "info" };
  const format = options.format ?? (process.stdout.isTTY ? "pretty" : "json");
  if (format === "json") return pino(settings);
  // Loaded only when used (a JSON process never loads it); pretty-printing in
  // this thread, synchronously, so nothing is lost when the process exits.
  const pretty = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty;
  return pino(
    settings,
    pretty({
      colorize: process.stdout.isTTY === true,
      translateTime: "SYS:HH:MM:ss.l",
      ignore: "pid,hostname",
      sync: true,
    }),
  );
}

/** A logger that drops everything: the default for library callers. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
