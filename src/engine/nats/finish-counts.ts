/**
 * How many jobs of a queue COMPLETED and FAILED recently, for ListQueues
 * (docs/ARCHITECTURE.md §5 "The job index"): each such job stores one empty
 * message on `jetq.cnt.<queue>.<c|f>.<10 s bucket>` in the limits stream
 * JETQ_COUNTS (max_age one hour and a bucket). One stream info request with
 * a subject filter answers the count per bucket, so reading costs the same
 * whatever the number of jobs: at most 2 × 361 buckets per queue.
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
  return {
    async add(queue, state, finishedAt) {
      await ensure();
      const bucket = Math.floor(finishedAt / COUNT_BUCKET_MS);
      const subject = `jetq.cnt.${queue}.${state === "COMPLETED" ? "c" : "f"}.${bucket}`;
      await js.publish(subject, EMPTY, { timeout: layout.requestTimeoutMs });
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
        const [kind, bucket] = subject.slice(prefix).split(".");
        const end = (Number(bucket) + 1) * COUNT_BUCKET_MS;
        since.forEach((t, i) => {
          if (end <= t) return;
          if (kind === "c") out[i]!.completed += n;
          else if (kind === "f") out[i]!.failed += n;
        });
      }
      return out;
    },
  };
}
