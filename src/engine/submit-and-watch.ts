/**
 * submitAndWatch for any engine: submit, then watch the job as its
 * submitter. The watch opens with the job's current status, most often the
 * very status submit answered: that one is left out, so each change reaches
 * the caller once.
 */
import { isTerminal, type JobStatus, type LogEntry } from "./types.js";

export async function* submitThenWatch(
  submit: () => Promise<JobStatus>,
  watch: (submitted: JobStatus) => AsyncIterable<JobStatus>,
): AsyncGenerator<JobStatus, void, undefined> {
  const submitted = await submit();
  yield submitted;
  if (isTerminal(submitted.state)) return;
  let first = true;
  for await (const status of watch(submitted)) {
    const repeat = first && sameStatus(status, submitted);
    first = false;
    if (!repeat) yield status;
  }
}

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
