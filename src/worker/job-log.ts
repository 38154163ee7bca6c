/**
 * A job's logger: pino's child() serializes its bindings when it is made,
 * which every job paid although most log nothing at the active level. The
 * child is made on the first line that is actually written.
 */
import type { Logger } from "pino";

type Level = "debug" | "info" | "warn" | "error";

export class JobLog {
  private child: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    /** Read when the first line is written: later changes (the attempt begin() numbers) still show. */
    private readonly bindings: Record<string, unknown>,
  ) {}

  debug(obj: object | string, msg?: string): void {
    this.write("debug", obj, msg);
  }

  info(obj: object | string, msg?: string): void {
    this.write("info", obj, msg);
  }

  warn(obj: object | string, msg?: string): void {
    this.write("warn", obj, msg);
  }

  error(obj: object | string, msg?: string): void {
    this.write("error", obj, msg);
  }

  private at(level: Level): Logger | undefined {
    if (!this.parent.isLevelEnabled(level)) return undefined;
    return (this.child ??= this.parent.child(this.bindings));
  }

  private write(level: Level, obj: object | string, msg?: string): void {
    const log = this.at(level);
    if (!log) return;
    if (typeof obj === "string") log[level](obj);
    else log[level](obj, msg);
  }
}
