/**
 * ListJobs of the JetStream driver for jobs not finished, read from the
 * queue's own stream (it holds exactly the waiting and running jobs): the
 * queue snapshot says which sequences are there (first_seq to last_seq less
 * the interior deletes) and which were delivered. QUEUED walks them up in
 * queue order, RUNNING walks the delivered ones down (newest first); each
 * candidate's message names the job (token, tenant) and its state is
 * derived as a status read derives it. A page looks at a bounded number of
 * candidates (other tenants' jobs are skipped), so it may hold fewer jobs
 * than asked while next is set.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { isEngineError } from "../errors.js";
import { parseJobId } from "../job-id.js";
import { messageJobId } from "./relocation.js";
import type { ListPage, ListQuery } from "../driver/types.js";
import type { JobStatus } from "../types.js";
import { isMessageNotFound } from "./errors.js";
import { readMeta } from "./job-message.js";
import { queueSubject, streamName } from "./layout.js";
import { type QueueInfoCache, type QueueSnapshot } from "./queue-info.js";
import type { StateDeriver } from "./state.js";

/** Candidates a page may look at beyond its size. */
const SCAN_FACTOR = 4;

export interface LiveListDeps {
  jsm: JetStreamManager;
  queueInfo: QueueInfoCache;
  deriver: StateDeriver;
}

/** Up to n sequences present in the snapshot, from `from` going `step` (+1 up, -1 down), not past `to`. */
function present(snap: QueueSnapshot, gone: Set<number>, from: number, to: number, step: 1 | -1, n: number): number[] {
  const out: number[] = [];
  for (let seq = from; out.length < n && (step > 0 ? seq <= to : seq >= to); seq += step) {
    if (seq >= snap.firstSeq && seq <= snap.lastSeq && !gone.has(seq)) out.push(seq);
  }
  return out;
}

async function statusAt(deps: LiveListDeps, query: ListQuery, seq: number): Promise<JobStatus | undefined> {
  let m;
  try {
    m = await deps.jsm.direct.getMessage(streamName(query.queue), { seq });
  } catch (err) {
    if (isMessageNotFound(err)) return undefined;
    throw err;
  }
  if (!m || m.subject !== queueSubject(query.queue)) return undefined;
  const meta = readMeta(m.header);
  if (!meta || (query.tenant !== undefined && meta.tenant !== query.tenant)) return undefined;
  // A retried or due delayed job's message names its job (relocation.ts).
  const id = messageJobId(query.queue, seq, m.header, meta.token);
  const ref = { id, ...parseJobId(id) };
  try {
    const status = await deps.deriver.status(ref, query.tenant !== undefined ? { tenant: query.tenant } : {});
    return status.state === query.state ? status : undefined;
  } catch (err) {
    // Settled and gone past its retention meanwhile.
    if (isEngineError(err, "not_found")) return undefined;
    throw err;
  }
}

export async function liveJobsPage(deps: LiveListDeps, query: ListQuery): Promise<ListPage> {
  const snap = await deps.queueInfo.get(query.queue);
  const up = query.state === "QUEUED";
  const after = query.after?.[0];
  let from = up
    ? Math.max(snap.firstSeq, (after ?? 0) + 1)
    : Math.min(snap.delivered, after === undefined ? Infinity : after - 1);
  const to = up ? snap.lastSeq : snap.firstSeq;
  const gone = new Set(snap.deleted);
  const jobs: JobStatus[] = [];
  let budget = query.limit * SCAN_FACTOR;
  let last: number | undefined;
  let more = true;
  while (jobs.length < query.limit && budget > 0) {
    const want = Math.min(query.limit - jobs.length, budget);
    const seqs = present(snap, gone, from, to, up ? 1 : -1, want);
    if (seqs.length < want) more = false;
    if (seqs.length === 0) break;
    budget -= seqs.length;
    last = seqs[seqs.length - 1]!;
    from = last + (up ? 1 : -1);
    for (const s of await Promise.all(seqs.map((seq) => statusAt(deps, query, seq)))) if (s) jobs.push(s);
    if (!more) break;
  }
  if (more && last !== undefined && present(snap, gone, from, to, up ? 1 : -1, 1).length === 0) more = false;
  return more && last !== undefined ? { jobs, next: [last] } : { jobs };
}
