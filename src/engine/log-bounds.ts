/**
 * How much a job's handler may write, the same numbers on every engine:
 * each attempt keeps at most maxLines lines and maxBytes bytes (each line cut
 * to maxLineBytes); past that its lines are dropped and counted, and "jetq"
 * lines in the job say so. A job keeps its newest retainedLines() lines, and
 * a read returns their newest maxBytes (tailWithin). Progress events are
 * paced (progress-pacing.ts): unbounded writers cannot grow the heap, stall
 * the event loop or flood watchers.
 */
import { invalidArgument } from "./errors.js";
import type { SettingNamer } from "./settings.js";
import type { LogEntry, LogLevel } from "./types.js";
import { definedOnly } from "../util/defined-only.js";

export interface LogBounds {
  /** Lines one attempt keeps (JETQ_LOG_MAX_LINES). */
  maxLines: number;
  /** Longest line kept whole, in UTF-8 bytes (JETQ_LOG_MAX_LINE_BYTES). */
  maxLineBytes: number;
  /** Bytes of lines one attempt keeps, and the most one read returns (JETQ_LOG_MAX_BYTES). */
  maxBytes: number;
}

export const DEFAULT_LOG_BOUNDS: LogBounds = { maxLines: 1_000, maxLineBytes: 4 * 1024, maxBytes: 256 * 1024 };

/** The "jetq" lines an attempt may add: the limit was reached, and at its end how much was dropped. */
const NOTICE_LINES = 2;
const NOTICE_BYTES = 1024;

/** Lines a job keeps in all (its newest): one attempt's lines and its notices. */
export const retainedLines = (b: LogBounds) => b.maxLines + NOTICE_LINES;

export function logBoundsOf(partial: Partial<LogBounds> = {}): LogBounds {
  const b = { ...DEFAULT_LOG_BOUNDS, ...definedOnly(partial) };
  for (const [field, min] of [
    ["maxLines", 1],
    ["maxLineBytes", 64],
    ["maxBytes", 64],
  ] as const) {
    const v = b[field];
    if (!Number.isInteger(v) || v < min)
      throw invalidArgument(`logBounds.${field}: ${v} must be a whole number of at least ${min}`);
  }
  return b;
}

/**
 * The line cut to at most maxBytes UTF-8 bytes (never inside a character),
 * marked as cut; `setting` is how the reader knows maxLineBytes.
 */
export function cutLine(message: string, maxBytes: number, setting: string): string {
  if (message.length * 3 <= maxBytes) return message;
  const bytes = Buffer.byteLength(message);
  if (bytes <= maxBytes) return message;
  const mark = ` …[jetq: line cut, ${bytes} bytes over the limit of ${maxBytes} (${setting})]`;
  const room = Math.max(0, maxBytes - Buffer.byteLength(mark));
  let kept = Buffer.from(message).subarray(0, room).toString("utf8");
  // A character split at the cut decodes to U+FFFD: drop it.
  if (kept.endsWith("\uFFFD") && !message.startsWith(kept)) kept = kept.slice(0, -1);
  return kept + mark;
}

const bytesLabel = (n: number) => (n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`);

/**
 * Counts what one attempt writes. admit() answers the entries to store for
 * a handler line: the line (cut if long), nothing once over the limit, and
 * the "limit reached" notice with the first line dropped. finish() answers
 * the closing notice (once) when lines were dropped.
 */
export interface LogMeter {
  admit(level: LogLevel, message: string, now: number): LogEntry[];
  finish(now: number): LogEntry | undefined;
  readonly dropped: number;
}

export function createLogMeter(bounds: LogBounds, settingName: SettingNamer): LogMeter {
  let lines = 0;
  let bytes = 0;
  let dropped = 0;
  let droppedChars = 0;
  let finished = false;
  const notice = (message: string, now: number): LogEntry => ({
    message,
    level: "warn",
    source: "jetq",
    timestamp: now,
  });
  const limits = `${bounds.maxLines} lines or ${bytesLabel(bounds.maxBytes)} per attempt (${settingName("logBounds.maxLines")}, ${settingName("logBounds.maxBytes")})`;
  const lineSetting = settingName("logBounds.maxLineBytes");
  return {
    get dropped() {
      return dropped;
    },
    admit(level, message, now) {
      if (dropped > 0) {
        dropped++;
        // Characters, not bytes: a dropped line must cost next to nothing.
        droppedChars += message.length;
        return [];
      }
      const line = cutLine(message, bounds.maxLineBytes, lineSetting);
      const size = Buffer.byteLength(line);
      if (lines < bounds.maxLines && bytes + size <= bounds.maxBytes) {
        lines++;
        bytes += size;
        return [{ message: line, level, source: "handler", timestamp: now }];
      }
      dropped = 1;
      droppedChars = message.length;
      return [notice(`log limit reached: this attempt's later lines are dropped (the limit is ${limits})`, now)];
    },
    finish(now) {
      if (dropped === 0 || finished) return undefined;
      finished = true;
      return notice(
        `${dropped} log lines (${droppedChars} characters) of this attempt were dropped: over ${limits}`,
        now,
      );
    },
  };
}

/** Whether lines and bytes are over what a job keeps (it keeps at least its newest line). */
export function overRetained(lines: number, bytes: number, b: LogBounds): boolean {
  return lines > retainedLines(b) || (lines > 1 && bytes > b.maxBytes + NOTICE_BYTES);
}

/** The newest entries within what a job keeps: what one read returns. */
export function tailWithin(entries: readonly LogEntry[], bounds: LogBounds): LogEntry[] {
  let bytes = 0;
  for (const e of entries) bytes += Buffer.byteLength(e.message);
  let from = 0;
  while (overRetained(entries.length - from, bytes, bounds)) bytes -= Buffer.byteLength(entries[from++]!.message);
  return from === 0 ? [...entries] : entries.slice(from);
}
