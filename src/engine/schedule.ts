/**
 * Delayed jobs (run_at / delay), one rule for every engine and the service:
 * at most one of the two, a delay over 0 and at most a year, a run time at
 * most a year ahead; a run time already past runs at once (no delay at all);
 * a start deadline before the run time could never be met. The core stores
 * the result as options.runAt (epoch ms) and nothing else.
 */
import { invalidArgument } from "./errors.js";
import type { JobOptions } from "./types.js";

/** The longest delay and the furthest run time ahead: a year, leap years included. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;

/** How the caller spells the fields, for the errors (the service passes the proto's names). */
export interface ScheduleFieldNames {
  runAt: string;
  delay: string;
  startDeadline: string;
}

export const ENGINE_FIELD_NAMES: ScheduleFieldNames = {
  runAt: "options.runAt",
  delay: "options.delayMs",
  startDeadline: "options.startDeadline",
};

/**
 * The time the job may first run, or undefined to run at once. Throws
 * INVALID_ARGUMENT naming the field for what can never be right.
 */
export function scheduledTime(
  options: Pick<JobOptions, "runAt" | "delayMs" | "startDeadline">,
  now: number,
  names: ScheduleFieldNames = ENGINE_FIELD_NAMES,
): number | undefined {
  const { runAt, delayMs, startDeadline } = options;
  if (runAt !== undefined && delayMs !== undefined) {
    throw invalidArgument(`${names.runAt} and ${names.delay}: set at most one of them`);
  }
  let at: number | undefined;
  if (delayMs !== undefined) {
    if (!(typeof delayMs === "number" && delayMs > 0)) {
      throw invalidArgument(`${names.delay}: ${String(delayMs)} ms must be greater than zero`);
    }
    if (delayMs > MAX_SCHEDULE_AHEAD_MS) {
      throw invalidArgument(`${names.delay}: ${delayMs} ms is over the limit of a year (${MAX_SCHEDULE_AHEAD_MS} ms)`);
    }
    at = now + delayMs;
  } else if (runAt !== undefined) {
    if (!(typeof runAt === "number" && Number.isFinite(runAt))) {
      throw invalidArgument(`${names.runAt}: ${String(runAt)} is not a time`);
    }
    if (runAt > now + MAX_SCHEDULE_AHEAD_MS) {
      throw invalidArgument(
        `${names.runAt}: ${new Date(runAt).toISOString()} is more than a year ahead (server time ${new Date(now).toISOString()})`,
      );
    }
    // A time already past: the job is due now, as if no time were set.
    if (runAt > now) at = runAt;
  }
  if (at !== undefined && startDeadline !== undefined && startDeadline < at) {
    throw invalidArgument(
      `${names.startDeadline}: ${new Date(startDeadline).toISOString()} is before the job's run time ` +
        `${new Date(at).toISOString()}: it could never start in time`,
    );
  }
  return at;
}

/** The job's options with the schedule checked and stored as runAt only. */
export function withSchedule(checked: JobOptions, asked: JobOptions, now: number): JobOptions {
  const at = scheduledTime(
    {
      ...(asked.runAt !== undefined ? { runAt: asked.runAt } : {}),
      ...(asked.delayMs !== undefined ? { delayMs: asked.delayMs } : {}),
      ...(checked.startDeadline !== undefined ? { startDeadline: checked.startDeadline } : {}),
    },
    now,
  );
  return at === undefined ? checked : { ...checked, runAt: at };
}
