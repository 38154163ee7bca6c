/**
 * ListJobs of the JetStream driver for jobs not finished, read from the
 * queue's own streams (they hold exactly the waiting and running jobs: the
 * default one and one per priority level in use, priority-levels.ts), highest
 * priority first: the order QUEUED jobs run in. In each stream the snapshot
 * says which sequences are there (first_seq to last_seq less the interior
 * deletes) and which were delivered. QUEUED walks them up in queue order,
 * RUNNING walks the delivered ones down (newest first); each candidate's
 * message names the job (token, tenant) and its state is derived as a
 * status read derives it. A page looks at a bounded number of candidates
 * (other tenants' jobs are skipped), so it may hold fewer jobs than asked
 * while next is set. The position is [priority, seq].
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { isEngineError } from "../errors.js";
import { DEFAULT_PRIORITY, parseJobId } from "../job-id.js";
import { messageJobId } from "./relocation.js";
import type { ListPage, ListQuery } from "../driver/types.js";
import type { JobStatus } from "../types.js";
import { isConsumerNotFound, isMessageNotFound, isStreamNotFound } from "./errors.js";
import { readMeta } from "./job-message.js";
import { queueSubject, streamName } from "./layout.js";
import type { PriorityLevels } from "./priority-levels.js";
import { levelKey, type QueueInfoCache, type QueueSnapshot } from "./queue-info.js";
import type { StateDeriver } from "./state.js";

/** Candidates a page may look at beyond its size. */
const SCAN_FACTOR = 4;

export interface LiveListDeps {
  jsm: JetStreamManager;
  queueInfo: QueueInfoCache;
  deriver: StateDeriver;
  levels?: Pick<PriorityLevels, "of">;
}

/** Up to n sequences present in the snapshot, from `from` going `step` (+1 up, -1 down), not past `to`. */
function present(snap: QueueSnapshot, gone: Set<number>, from: number, to: number, step: 1 | -1, n: number): number[] {
  const out: number[] = [];
  for (let seq = from; out.length < n && (step > 0 ? seq <= to : seq >= to); seq += step) {
    if (seq >= snap.firstSeq && seq <= snap.lastSeq && !gone.has(seq)) out.push(seq);
  }
  return out;
}

async function statusAt(
  deps: LiveListDeps,
  query: ListQuery,
  priority: number,
  seq: number,
): Promise<JobStatus | undefined> {
  let m;
  try {
    m = await deps.jsm.direct.getMessage(streamName(query.queue, priority), { seq });
  } catch (err) {
    if (isMessageNotFound(err)) return undefined;
    throw err;
  }
  if (!m || m.subject !== queueSubject(query.queue, priority)) return undefined;
  const meta = readMeta(m.header);
  if (!meta || (query.tenant !== undefined && meta.tenant !== query.tenant)) return undefined;
  // A retried or due delayed job's message names its job (relocation.ts).
  const id = messageJobId(query.queue, priority, seq, m.header, meta.token);
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

/** One level's page: up to limit jobs after `after` (a seq), and the seq to go on from when there may be more. */
async function levelPage(
  deps: LiveListDeps,
  query: ListQuery,
  priority: number,
  limit: number,
  after: number | undefined,
): Promise<{ jobs: JobStatus[]; next?: number }> {
  let snap: QueueSnapshot;
  try {
    snap = await deps.queueInfo.get(levelKey(query.queue, priority));
  } catch (err) {
    // A level's stream deleted by hand holds nothing; the default one's errors are the queue's.
    if (priority !== DEFAULT_PRIORITY && (isStreamNotFound(err) || isConsumerNotFound(err))) return { jobs: [] };
    throw err;
  }
  const up = query.state === "QUEUED";
  let from = up
    ? Math.max(snap.firstSeq, (after ?? 0) + 1)
    : Math.min(snap.delivered, after === undefined ? Infinity : after - 1);
  const to = up ? snap.lastSeq : snap.firstSeq;
  const gone = new Set(snap.deleted);
  const jobs: JobStatus[] = [];
  let budget = limit * SCAN_FACTOR;
  let last: number | undefined;
  let more = true;
  while (jobs.length < limit && budget > 0) {
    const want = Math.min(limit - jobs.length, budget);
    const seqs = present(snap, gone, from, to, up ? 1 : -1, want);
    if (seqs.length < want) more = false;
    if (seqs.length === 0) break;
    budget -= seqs.length;
    last = seqs[seqs.length - 1]!;
    from = last + (up ? 1 : -1);
    for (const s of await Promise.all(seqs.map((seq) => statusAt(deps, query, priority, seq)))) if (s) jobs.push(s);
    if (!more) break;
  }
  if (more && last !== undefined && present(snap, gone, from, to, up ? 1 : -1, 1).length === 0) more = false;
  return more && last !== undefined ? { jobs, next: last } : { jobs };
}

export async function liveJobsPage(deps: LiveListDeps, query: ListQuery): Promise<ListPage> {
  const levels = (await deps.levels?.of(query.queue)) ?? [DEFAULT_PRIORITY];
  // [priority, seq]; a position of one number is the default level's (made before levels were listed).
  const [atLevel, after] =
    query.after === undefined
      ? [undefined, undefined]
      : query.after.length === 1
        ? [DEFAULT_PRIORITY, query.after[0]]
        : [query.after[0], query.after[1]];
  const jobs: JobStatus[] = [];
  for (const [i, priority] of levels.entries()) {
    if (atLevel !== undefined && priority > atLevel) continue;
    const page = await levelPage(
      deps,
      query,
      priority,
      query.limit - jobs.length,
      priority === atLevel ? after : undefined,
    );
    jobs.push(...page.jobs);
    if (page.next !== undefined) return { jobs, next: [priority, page.next] };
    const lower = levels[i + 1];
    // This level is done and the page full: the next one starts from its beginning.
    if (jobs.length >= query.limit) {
      if (lower === undefined) return { jobs };
      return { jobs, next: [lower, query.state === "QUEUED" ? 0 : Number.MAX_SAFE_INTEGER] };
    }
  }
  return { jobs };
}
