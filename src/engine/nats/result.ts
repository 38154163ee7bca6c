/**
 * GetResult: only a terminal record has one; a large output is read back
 * from the object store. A job this process submitted whose COMPLETED event
 * carried its output (events.ts) is answered from memory: a terminal state
 * never changes, and its event is published after its record is written.
 */
import { failedPrecondition, jobExpiredNotFound } from "../errors.js";
import { settingNamer, type SettingNamer } from "../settings.js";
import { isTerminal, type JobResult, type JobState, type ReadOptions } from "../types.js";
import type { BlobStore } from "./blobs.js";
import { decodeInput } from "./job-message.js";
import type { RecentJobs } from "./live.js";
import type { JobRef, StateDeriver } from "./state.js";

const unfinished = (id: string, state: JobState) =>
  failedPrecondition(`job "${id}" is ${state}; its result exists once it has finished (watch it or poll GetStatus)`);

export async function readResult(
  deps: {
    deriver: StateDeriver;
    blobs: BlobStore;
    retentionMs: number;
    settingName?: SettingNamer;
    recent?: RecentJobs;
  },
  ref: JobRef,
  options?: ReadOptions,
): Promise<JobResult> {
  const { id } = ref;
  const known = deps.recent?.output(id);
  if (known && (options?.tenant === undefined || options.tenant === deps.recent?.get(id)?.meta.tenant)) {
    return { id, state: "COMPLETED", output: known.value };
  }
  const found = await deps.deriver.inspect(ref);
  if (found.kind === "none") throw await deps.deriver.notFound(ref, options);
  const tenant = found.kind === "record" ? found.stored.record.tenant : found.meta.tenant;
  if (options?.tenant !== undefined && options.tenant !== tenant) throw await deps.deriver.notFound(ref, options);
  if (found.kind === "message") throw unfinished(id, found.status.state);
  const r = found.stored.record;
  if (!isTerminal(r.state)) throw unfinished(id, r.state);
  const result: JobResult = { id, state: r.state };
  if (r.state === "COMPLETED") {
    if (r.outputRef) {
      const blob = await deps.blobs.get(r.outputRef);
      if (!blob) throw jobExpiredNotFound(id, deps.retentionMs, (deps.settingName ?? settingNamer())("retentionMs"));
      result.output = decodeInput(blob);
    } else {
      result.output = r.output ?? null;
    }
  }
  if (r.error) result.error = r.error;
  return result;
}
