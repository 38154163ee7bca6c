/**
 * "Did the visible status change": one rule for every watch, so a stream
 * sends a change once and never a status the client cannot tell apart from
 * the last one.
 */
import type { JobStatus, LogEntry } from "../types.js";

/** Whether a client would see a difference (logs change by appending; their oldest may go at the bound). */
export function sameStatus(a: JobStatus, b: JobStatus): boolean {
  return (
    a.state === b.state &&
    a.queuePosition === b.queuePosition &&
    a.attempt === b.attempt &&
    a.progress === b.progress &&
    a.startedAt === b.startedAt &&
    a.finishedAt === b.finishedAt &&
    a.error?.code === b.error?.code &&
    a.error?.message === b.error?.message &&
    (a.logs?.length ?? 0) === (b.logs?.length ?? 0) &&
    sameEntry(a.logs?.at(-1), b.logs?.at(-1))
  );
}

function sameEntry(a: LogEntry | undefined, b: LogEntry | undefined): boolean {
  return a === b || (a?.timestamp === b?.timestamp && a?.message === b?.message && a?.source === b?.source);
}
