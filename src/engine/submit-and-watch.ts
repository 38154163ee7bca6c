/**
 * submitAndWatch for any engine: submit, then watch the job as its
 * submitter. The watch opens with the job's current status, most often the
 * very status submit answered: that one is left out, so each change reaches
 * the caller once.
 */
import { sameStatus } from "./core/status-change.js";
import { isTerminal, type JobStatus } from "./types.js";

/**
 * `complete`: fills in what the watch's statuses lack (the engine core sets
 * the priority), here rather than in one more async iterator per message.
 */
export async function* submitThenWatch(
  submit: () => Promise<JobStatus>,
  watch: (submitted: JobStatus) => AsyncIterable<JobStatus>,
  complete?: (status: JobStatus, submitted: JobStatus) => void,
): AsyncGenerator<JobStatus, void, undefined> {
  const submitted = await submit();
  yield submitted;
  if (isTerminal(submitted.state)) return;
  let first = true;
  for await (const status of watch(submitted)) {
    complete?.(status, submitted);
    const repeat = first && sameStatus(status, submitted);
    first = false;
    if (!repeat) yield status;
  }
}
