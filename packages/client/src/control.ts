/**
 * Steering jobs and queues (the job-control RPCs): listing queues and jobs,
 * Retry (the handle's, handle.ts), SubmitBatch, WatchJobs (watch.ts),
 * PauseQueue and ResumeQueue. Reads and the calls that are safe to repeat
 * (a pause, a batch whose items all carry keys) retry on transient errors
 * as every SDK call does.
 */
import {
  batchResultFromProto,
  jobFromProto,
  optionsToProto,
  queueInfoFromProto,
  queueStateFromProto,
  stateToProto,
  toValue,
} from "./convert.js";
import { jobHandle, scoped } from "./handle.js";
import { callOptions, randomKey, retrying, type Rpc } from "./rpc.js";
import { openScope, type ScopeOptions } from "./scope.js";
import type { BatchItem, BatchResult, Job, JobPage, JobState, QueueInfo, QueueState } from "./types.js";
import { watchJobs, type WatchJobsOptions } from "./watch.js";

export interface ListJobsOptions extends ScopeOptions {
  queue: string;
  /** The state to list: QUEUED in the order they will run, the others newest first; FAILED is the dead-letter view. */
  state: JobState;
  /** Jobs per page, 1 to 500; default 50 (the server's). */
  pageSize?: number;
  /** The nextCursor of the previous page; unset for the first page. */
  cursor?: string | undefined;
}

/** jobs(): every page of a listing; `timeoutMs` and `signal` bound the whole iteration. */
export type JobsOptions = Omit<ListJobsOptions, "cursor">;

export interface ControlMethods {
  /** Every queue the key may see, sorted by name: counts, paused, jobs ended in the last minute and hour. */
  listQueues(opts?: ScopeOptions): Promise<QueueInfo[]>;
  /** One page of a queue's jobs in one state; pass `nextCursor` back as `cursor` until it is undefined. */
  listJobs(opts: ListJobsOptions): Promise<JobPage>;
  /** Every job of a queue in one state, page after page (`for await`). */
  jobs(opts: JobsOptions): AsyncIterable<Job>;
  /** Runs a FAILED, CANCELLED or EXPIRED job again under the same id; JetqError FAILED_PRECONDITION otherwise. */
  retry(id: string, opts?: ScopeOptions): Promise<Job>;
  /** Submits up to 1,000 jobs in one call; each item's job or error, at its index. */
  submitBatch(queue: string, items: BatchItem[], opts?: ScopeOptions): Promise<BatchResult[]>;
  /** Stops every worker from starting the queue's jobs; submits are still accepted. */
  pauseQueue(queue: string, opts?: ScopeOptions): Promise<QueueState>;
  /** Lets workers start the queue's jobs again, in queue order. */
  resumeQueue(queue: string, opts?: ScopeOptions): Promise<QueueState>;
  /** Many jobs in one stream: each change of the jobs named by `ids`, or of the caller's jobs in `queue`. */
  watchJobs(opts: WatchJobsOptions): AsyncIterable<Job>;
}

export function controlMethods(rpc: Rpc): ControlMethods {
  const listJobs = (opts: ListJobsOptions) =>
    scoped("listJobs", opts, async (scope) => {
      const request = {
        queue: opts.queue,
        state: stateToProto(opts.state),
        pageSize: opts.pageSize ?? 0,
        cursor: opts.cursor ?? "",
      };
      const page = await retrying(scope, undefined, () => rpc.client.listJobs(request, callOptions(rpc, scope)));
      return { jobs: page.jobs.map(jobFromProto), nextCursor: page.nextCursor || undefined };
    });
  const setPaused = (what: "pauseQueue" | "resumeQueue", queue: string, opts: ScopeOptions) =>
    scoped(what, opts, async (scope) => {
      const res = await retrying(scope, undefined, () => rpc.client[what]({ queue }, callOptions(rpc, scope)));
      return queueStateFromProto(res);
    });
  return {
    listQueues: (opts = {}) =>
      scoped("listQueues", opts, async (scope) => {
        const res = await retrying(scope, undefined, () => rpc.client.listQueues({}, callOptions(rpc, scope)));
        return res.queues.map(queueInfoFromProto);
      }),
    listJobs,
    async *jobs(opts) {
      const { signal, timeoutMs, ...query } = opts;
      const scope = openScope("jobs", { signal, timeoutMs });
      try {
        let cursor: string | undefined;
        do {
          const page = await listJobs({ ...query, cursor, signal: scope.signal }).catch((err: unknown) => {
            throw scope.signal.aborted ? scope.error(undefined) : err;
          });
          yield* page.jobs;
          cursor = page.nextCursor;
        } while (cursor !== undefined);
      } finally {
        scope.dispose();
      }
    },
    retry: (id, opts) => jobHandle(rpc, checkedId("retry", id)).retry(opts),
    submitBatch: (queue, items, opts = {}) =>
      scoped("submitBatch", opts, async (scope) => {
        const jobs = items.map((item, i) => ({
          queue,
          input: inputOf(item, i),
          // Every item keyed: the batch may then be sent again after a lost answer.
          idempotencyKey: item.idempotencyKey ?? randomKey(),
          options: optionsToProto(item.options),
        }));
        const res = await retrying(scope, undefined, () => rpc.client.submitBatch({ jobs }, callOptions(rpc, scope)));
        return res.results.map(batchResultFromProto);
      }),
    pauseQueue: (queue, opts = {}) => setPaused("pauseQueue", queue, opts),
    resumeQueue: (queue, opts = {}) => setPaused("resumeQueue", queue, opts),
    watchJobs: (opts) => watchJobs(rpc, opts),
  };
}

/** The item's input as a Value; an input JSON cannot hold names its item. */
function inputOf(item: BatchItem, i: number) {
  try {
    return toValue(item.input);
  } catch (err) {
    throw new TypeError(`items[${i}].${(err as Error).message}`, { cause: err });
  }
}

/** As client.job(id): a plain-JS caller's missing id is a TypeError, not a call. */
export function checkedId(what: string, id: string): string {
  if (typeof id !== "string" || id === "") throw new TypeError(`${what}(id): id must be a non-empty string`);
  return id;
}
