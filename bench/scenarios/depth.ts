/**
 * Reads against a deep queue (no worker): GetStatus with its queue position
 * and QueueCount, one call at a time, at two depths; the cost must not grow
 * with the depth. The queue is filled by bench/fill-queue.ts (raw publishes in
 * jetq's message format).
 */
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { runChild } from "../child.js";
import { openClient } from "../client.js";
import type { FillArgs, FillResult } from "../fill-queue.js";
import { summarize, type Summary } from "../stats.js";
import { stateName } from "./jobs.js";

export interface DepthOptions {
  url: string;
  servers: string;
  /** Declared beforehand, nobody works on it. */
  queue: string;
  depths: [number, number];
  calls: number;
  fillWindow: number;
}

export interface DepthLevel {
  depth: number;
  fillPerSec: number;
  getStatus: Summary;
  queueCount: Summary;
  /** Position GetStatus reported for the last job (expected depth - 1). */
  lastPosition: number;
}

export interface DepthResult {
  levels: DepthLevel[];
  getStatusRatio: number;
  queueCountRatio: number;
}

export async function measureDepth(o: DepthOptions): Promise<DepthResult> {
  const client = openClient(o.url, "2");
  const levels: DepthLevel[] = [];
  let filled = 0;
  const ids: string[] = [];
  try {
    for (const depth of o.depths) {
      const fill = await runChild<FillResult>("fill-queue.ts", {
        servers: o.servers,
        queue: o.queue,
        count: depth - filled,
        window: o.fillWindow,
        samples: 1000,
      } satisfies FillArgs);
      filled = depth;
      ids.push(...fill.ids);
      const last = ids[ids.length - 1]!;
      // Warm-up (and a correctness check: the last job is at the back).
      const lastJob = await client.api.getStatus({ id: last });
      if (lastJob.state !== JobState.QUEUED) throw new Error(`depth job ${last} is ${stateName(lastJob.state)}`);
      for (let i = 0; i < 50; i++) {
        await client.api.getStatus({ id: ids[i % ids.length]! });
        await client.api.queueCount({ queue: o.queue });
      }
      const status: number[] = [];
      const count: number[] = [];
      for (let i = 0; i < o.calls; i++) {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        let t = performance.now();
        const job = await client.api.getStatus({ id });
        status.push(performance.now() - t);
        if (job.queuePosition === undefined) throw new Error(`GetStatus of ${id}: no queue_position`);
        t = performance.now();
        const qc = await client.api.queueCount({ queue: o.queue });
        count.push(performance.now() - t);
        if (qc.inQueue !== depth) throw new Error(`QueueCount says ${qc.inQueue} waiting, expected ${depth}`);
      }
      levels.push({
        depth,
        fillPerSec: fill.perSec,
        getStatus: summarize(status),
        queueCount: summarize(count),
        lastPosition: lastJob.queuePosition ?? -1,
      });
    }
  } finally {
    client.close();
  }
  const [small, big] = levels as [DepthLevel, DepthLevel];
  return {
    levels,
    getStatusRatio: big.getStatus.p50 / small.getStatus.p50,
    queueCountRatio: big.queueCount.p50 / small.queueCount.p50,
  };
}
