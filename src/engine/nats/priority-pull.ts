/**
 * One fetch from a queue with several priority levels (priority-levels.ts):
 * highest first, and never a higher-priority job kept waiting by a pull on
 * a lower level.
 *
 * 1. What is waiting now: a plain `no_wait` pull per level, highest first,
 *    each for the slots still free (the server answers each at once). A
 *    worker that frees a slot thus takes the highest waiting job, at the
 *    cost of one round trip per level that holds nothing.
 * 2. Nothing waits anywhere: one waiting pull per level, all at once; the
 *    first level that delivers ends the others, whose requests are dropped
 *    server-side (`releaseOnAbort`, pull.ts), so no job of another level is
 *    handed to a pull nobody reads. A job arriving on any level while the
 *    worker waits is delivered at once.
 *
 * A queue whose only level is the default one never comes here (fetcher.ts
 * pulls as it always did).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Delivery } from "./delivery.js";
import { CONSUMER, priorityOfStream, streamName } from "./layout.js";
import { pullBatch } from "./pull.js";

export interface LevelsPull {
  queue: string;
  /** The queue's levels, highest first. */
  levels: number[];
  max: number;
  expiresMs: number;
  signal: AbortSignal;
  ackTimeoutMs: number;
  onLate(d: Delivery): void;
  onOutstanding(serverOver: Promise<void>): void;
}

/** Highest priority first, then oldest. */
export function byPriority(a: Delivery, b: Delivery): number {
  return priorityOfStream(b.stream) - priorityOfStream(a.stream) || a.streamSeq - b.streamSeq;
}

export async function pullByPriority(nc: NatsConnection, req: LevelsPull): Promise<Delivery[]> {
  const common = {
    consumer: CONSUMER,
    ackTimeoutMs: req.ackTimeoutMs,
    onLate: req.onLate,
    onOutstanding: req.onOutstanding,
  };
  const got: Delivery[] = [];
  for (const priority of req.levels) {
    if (got.length >= req.max || req.signal.aborted) break;
    const stream = streamName(req.queue, priority);
    const batch = req.max - got.length;
    got.push(...(await pullBatch(nc, { ...common, stream, batch, expiresMs: 0, immediate: true, signal: req.signal })));
  }
  if (got.length > 0 || req.signal.aborted || !(req.expiresMs > 0)) return got;
  const stop = new AbortController();
  const signal = AbortSignal.any([req.signal, stop.signal]);
  const waits = req.levels.map(async (priority) => {
    const stream = streamName(req.queue, priority);
    const ds = await pullBatch(nc, {
      ...common,
      stream,
      batch: req.max,
      expiresMs: req.expiresMs,
      signal,
      releaseOnAbort: true,
    });
    if (ds.length > 0) stop.abort();
    return ds;
  });
  // A level whose pull fails (its consumer gone) must not leave the others' deliveries unread.
  const settled = await Promise.allSettled(
    waits.map((w) => w.catch((err: unknown) => (stop.abort(), Promise.reject(err)))),
  );
  const out = settled.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
  const failed = settled.find((r) => r.status === "rejected");
  if (out.length === 0 && failed) throw failed.reason;
  return out.sort(byPriority);
}
