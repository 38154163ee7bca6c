/**
 * How many jobs of a queue COMPLETED and FAILED recently, for ListQueues
 * (docs/ARCHITECTURE.md §5 "The job index"): empty messages in the limits
 * stream JETQ_COUNTS (max_age one hour and a bucket), on
 * `jetq.cnt.<queue>.<c|f>.<10 s bucket>` for one job and
 * `jetq.cnt.<queue>.<c|f>.<10 s bucket>.<w>` for w jobs (w a power of two).
 * A process counts the jobs that finish while its previous count of the
 * same subject is in flight together, a batch of n as one message per bit
 * of n, so a busy queue pays a message per batch, not per job. One stream
 * info request with a subject filter answers the message count per
 * subject, so reading costs the same whatever the number of jobs: at most
 * 2 × 361 buckets of up to 9 weights per queue.
 */
import { RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { FinishedCounts } from "../types.js";
import { isStreamNotFound } from "./errors.js";
import { COUNTS_STREAM } from "./layout.js";
import { ensureStream, type LayoutOptions } from "./setup.js";

/** Width of a count bucket: a window counts every bucket that ends inside it (up to this much more). */
export const COUNT_BUCKET_MS = 10_000;
const KEPT_MS = 3_600_000 + COUNT_BUCKET_MS;

export interface FinishCounts {
  /** Counts the job; resolves once stored. */
  add(queue: string, state: "COMPLETED" | "FAILED", finishedAt: number): Promise<void>;
  /** Jobs of the queue finished in buckets ending after each `since`. */
  read(queue: string, since: readonly number[]): Promise<FinishedCounts[]>;
}

const EMPTY = new Uint8Array(0);
/** Jobs one batch counts at most (its weights 1 … 256 are the bits of its size). */
const MAX_BATCH = 511;

/** The messages that count n jobs on `subject`: one per bit of n, weighted by the bit. */
export function weightedSubjects(subject: string, n: number): string[] {
  const out: string[] = [];
  for (let w = 1; w <= n; w *= 2) if (n & w) out.push(w === 1 ? subject : `${subject}.${w}`);
  return out;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Counts for one subject, one batch in flight at a time (like the index's chains). */
class CountBatcher {
  private waiting: Waiter[] = [];
  private running = false;

  constructor(
    private readonly subject: string,
    private readonly publish: (subject: string) => Promise<unknown>,
    private readonly done: () => void,
  ) {}

  add(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      try {
        await Promise.all(weightedSubjects(this.subject, batch.length).map((s) => this.publish(s)));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.running = false;
    this.done();
  }
}

export function createFinishCounts(js: JetStreamClient, jsm: JetStreamManager, layout: LayoutOptions): FinishCounts {
  let ready: Promise<void> | undefined;
  const ensure = () =>
    (ready ??= ensureStream(jsm, {
      name: COUNTS_STREAM,
      subjects: ["jetq.cnt.>"],
      retention: RetentionPolicy.Limits,
      max_age: nanos(KEPT_MS),
      storage: layout.storage === "memory" ? StorageType.Memory : StorageType.File,
      num_replicas: layout.replicas,
    }).catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));
  const publish = (subject: string) => js.publish(subject, EMPTY, { timeout: layout.requestTimeoutMs });
  // One batcher per subject while it has counts to send: a bucket's subject is used for 10 s only.
  const batchers = new Map<string, CountBatcher>();
  return {
    async add(queue, state, finishedAt) {
      await ensure();
      const bucket = Math.floor(finishedAt / COUNT_BUCKET_MS);
      const subject = `jetq.cnt.${queue}.${state === "COMPLETED" ? "c" : "f"}.${bucket}`;
      let b = batchers.get(subject);
      if (!b) batchers.set(subject, (b = new CountBatcher(subject, publish, () => batchers.delete(subject))));
      await b.add();
    },
    async read(queue, since) {
      const out = since.map(() => ({ completed: 0, failed: 0 }));
      let subjects: Record<string, number> | undefined;
      try {
        const info = await jsm.streams.info(COUNTS_STREAM, { subjects_filter: `jetq.cnt.${queue}.>` });
        subjects = info.state.subjects;
      } catch (err) {
        if (isStreamNotFound(err)) return out;
        throw err;
      }
      const prefix = `jetq.cnt.${queue}.`.length;
      for (const [subject, n] of Object.entries(subjects ?? {})) {
        const [kind, bucket, weight] = subject.slice(prefix).split(".");
        const end = (Number(bucket) + 1) * COUNT_BUCKET_MS;
        const jobs = n * (weight === undefined ? 1 : Number(weight) || 0);
        since.forEach((t, i) => {
          if (end <= t) return;
          if (kind === "c") out[i]!.completed += jobs;
          else if (kind === "f") out[i]!.failed += jobs;
        });
      }
      return out;
    },
  };
}
