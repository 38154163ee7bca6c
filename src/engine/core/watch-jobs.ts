/**
 * WatchJobs in the core: many jobs in one stream, over the driver's
 * one-job watch (Driver.watch). For ids, each job's current status, then
 * every change, ending when all are terminal. For a queue, the driver names
 * the jobs of the queue that are submitted or change (Driver.watchQueue,
 * any process) and each is followed from then on. A change is sent once:
 * the same status of a job twice (a job named again after it ended) is
 * dropped by the one change rule (status-change.ts).
 */
import { setMaxListeners } from "node:events";
import { EngineError, invalidArgument, unavailable } from "../errors.js";
import { jobIdParts, parseJobId } from "../job-id.js";
import { assertQueueName } from "../queue-name.js";
import type { Driver, JobRef } from "../driver/types.js";
import { isTerminal, MAX_WATCH_IDS, type JobStatus, type WatchJobsTarget, type WatchOptions } from "../types.js";
import { createQueuedIterator, type QueuedIterator } from "./queued-iterator.js";
import { sameStatus } from "./status-change.js";

/** Finished jobs whose last status a queue watch remembers, to drop a repeat of it. */
const DONE_REMEMBERED = 10_000;

/** The target checked: parsed ids (each once) or a queue name. */
export type CheckedTarget = { refs: JobRef[] } | { queue: string };

/** INVALID_ARGUMENT naming `ids`, `ids[i]` or `queue` when the target is not exactly one valid list or queue. */
export function checkTarget(target: WatchJobsTarget): CheckedTarget {
  if ("ids" in target) {
    const { ids } = target;
    if (ids.length === 0) throw invalidArgument("ids: name at least one job id (or watch a queue instead)");
    if (ids.length > MAX_WATCH_IDS) {
      throw invalidArgument(`ids: ${ids.length} ids is over the limit of ${MAX_WATCH_IDS} per watch`);
    }
    const seen = new Set<string>();
    const refs: JobRef[] = [];
    ids.forEach((id, i) => {
      const parts = parseJobId(id, `ids[${i}]`);
      if (!seen.has(id)) refs.push({ id, ...parts });
      seen.add(id);
    });
    return { refs };
  }
  assertQueueName(target.queue, "queue");
  return { queue: target.queue };
}

/** The engine's closing signal: every open WatchJobs listens to it. */
export function closingController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

/** `closing`: aborted when the engine closes; the watch then fails UNAVAILABLE, as a one-job watch does. */
export function watchJobs(
  driver: Driver,
  target: CheckedTarget,
  options: WatchOptions,
  closing: AbortSignal,
): AsyncIterable<JobStatus> {
  return "refs" in target
    ? watchIds(new Follower(driver, options, closing, true), target.refs)
    : watchQueue(new Follower(driver, options, closing, false), driver, target.queue);
}

async function* watchIds(f: Follower, refs: JobRef[]): AsyncGenerator<JobStatus> {
  try {
    // Every job's first status (or the first failure, by index) before anything is sent.
    const firsts = await Promise.allSettled(refs.map((ref) => f.follow(ref)));
    const failed = firsts.findIndex((r) => r.status === "rejected");
    if (failed >= 0) throw namedAt(failed, (firsts[failed] as PromiseRejectedResult).reason);
    yield* f.statuses();
  } finally {
    f.close();
  }
}

async function* watchQueue(f: Follower, driver: Driver, queue: string): AsyncGenerator<JobStatus> {
  const stop = driver.watchQueue(queue, (id) => f.followNamed(id));
  try {
    await driver.paused(queue); // NOT_FOUND for a queue nobody declared
    yield* f.statuses();
  } finally {
    stop();
    f.close();
  }
}

/** The failure of ids[i]'s watch, naming the item. */
function namedAt(i: number, err: unknown): unknown {
  if (!(err instanceof EngineError)) return err;
  return new EngineError(err.code, `ids[${i}]: ${err.message}`, { cause: err });
}

/** Follows jobs with one driver watch each, merging what they send into one queue. */
class Follower {
  private readonly out: QueuedIterator<JobStatus>;
  private readonly stop = new AbortController();
  /** The last status sent of each followed job (and of recently finished ones). */
  private readonly last = new Map<string, JobStatus>();
  private readonly following = new Set<string>();
  /** Jobs a queue watch found it may not see (other tenants'): not read again for each of their events. */
  private readonly hidden = new Set<string>();

  constructor(
    private readonly driver: Driver,
    private readonly options: WatchOptions,
    private readonly closing: AbortSignal,
    /** Ids mode: the stream ends once every followed job ended. */
    private readonly endWhenAllDone: boolean,
  ) {
    this.out = createQueuedIterator<JobStatus>(options.signal);
    options.signal?.addEventListener("abort", this.close, { once: true });
    closing.addEventListener("abort", this.engineClosed, { once: true });
  }

  async *statuses(): AsyncGenerator<JobStatus> {
    for (;;) {
      const next = await this.out.next();
      if (next === undefined) return;
      yield next;
    }
  }

  /** Follows a job a queue watch was told of; quietly skips one the reader may not see. */
  followNamed(id: string): void {
    if (this.following.has(id) || this.hidden.has(id)) return;
    const parts = jobIdParts(id);
    if (!parts) return;
    this.follow({ id, ...parts }).catch((err: unknown) => {
      if (!(err instanceof EngineError && err.code === "not_found")) return this.out.fail(asError(err));
      this.hidden.add(id);
      if (this.hidden.size > DONE_REMEMBERED) this.hidden.delete(this.hidden.values().next().value!);
    });
  }

  /** Resolves once the job's first status is queued; rejects when its watch fails before. */
  follow(ref: JobRef): Promise<void> {
    this.following.add(ref.id);
    const { includeLogs, tenant } = this.options;
    let watch: AsyncIterable<JobStatus>;
    try {
      watch = this.driver.watch(ref, {
        signal: this.stop.signal,
        ...(includeLogs !== undefined ? { includeLogs } : {}),
        ...(tenant !== undefined ? { tenant } : {}),
      });
    } catch (err) {
      // Never thrown at the caller: a queue watch is told of jobs inside a driver's own call.
      this.following.delete(ref.id);
      return Promise.reject(asError(err));
    }
    return new Promise<void>((resolve, reject) => {
      let first = true;
      void (async () => {
        try {
          for await (const status of watch) {
            this.send(status);
            if (first) resolve();
            first = false;
          }
          this.ended(ref.id);
        } catch (err) {
          this.following.delete(ref.id);
          if (first) reject(asError(err));
          else this.out.fail(asError(err));
        }
      })();
    });
  }

  readonly close = (): void => {
    this.stop.abort();
    this.out.close();
    this.options.signal?.removeEventListener("abort", this.close);
    this.closing.removeEventListener("abort", this.engineClosed);
  };

  private readonly engineClosed = (): void => {
    this.out.fail(unavailable("the engine was closed while the jobs were watched; watch again to resume"));
  };

  private send(status: JobStatus): void {
    const last = this.last.get(status.id);
    if (last && sameStatus(last, status)) return;
    const ran = last && ranBetween(last, status);
    if (ran) this.push(ran);
    this.push(status);
  }

  private push(status: JobStatus): void {
    this.last.delete(status.id);
    this.last.set(status.id, status);
    this.out.push(status);
    if (isTerminal(status.state) && this.last.size > DONE_REMEMBERED) this.forgetOldestDone();
  }

  private ended(id: string): void {
    this.following.delete(id);
    if (this.stop.signal.aborted) return;
    if (this.endWhenAllDone && this.following.size === 0) this.out.end();
  }

  private forgetOldestDone(): void {
    for (const [id, status] of this.last) {
      if (this.last.size <= DONE_REMEMBERED) return;
      if (isTerminal(status.state) && !this.following.has(id)) this.last.delete(id);
    }
  }
}

/**
 * The RUNNING a job passed through between two statuses a watch saw (a
 * JetStream watch may derive a finished job from its record before the
 * RUNNING event is applied): told too, so each state a job went through is
 * sent, with the attempt and start the record keeps.
 */
function ranBetween(last: JobStatus, next: JobStatus): JobStatus | undefined {
  if (last.state !== "QUEUED" || !isTerminal(next.state) || next.startedAt === undefined) return undefined;
  const { id, queue, createdAt, attempt, startedAt } = next;
  return {
    id,
    queue,
    state: "RUNNING",
    attempt,
    progress: 0,
    createdAt,
    startedAt,
    ...(last.logs ? { logs: last.logs } : {}),
  };
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
