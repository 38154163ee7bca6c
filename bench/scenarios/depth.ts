/**
 * Reads against deep queues (no worker): GetStatus with its queue position
 * and QueueCount, one call at a time, on a shallow and a deep queue; the cost
 * must not grow with the depth. Calls to the two queues alternate, so load
 * from elsewhere on the machine hits both alike. The queues are filled by
 * bench/fill-queue.ts (raw publishes in jetq's message format).
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
  /** Two queues, declared beforehand, nobody works on them: [shallow, deep]. */
  queues: [string, string];
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

interface Filled {
  queue: string;
  depth: number;
  ids: string[];
  fillPerSec: number;
  lastPosition: number;
  status: number[];
  count: number[];
}

export async function measureDepth(o: DepthOptions): Promise<DepthResult> {
  const client = openClient(o.url, "2");
  const api = client.api;
  try {
    const filled: Filled[] = [];
    for (const [i, depth] of o.depths.entries()) {
      const queue = o.queues[i]!;
      const fill = await runChild<FillResult>("fill-queue.ts", {
        servers: o.servers,
        queue,
        count: depth,
        window: o.fillWindow,
        samples: 1000,
      } satisfies FillArgs);
      const last = fill.ids[fill.ids.length - 1]!;
      const lastJob = await api.getStatus({ id: last });
      if (lastJob.state !== JobState.QUEUED) throw new Error(`depth job ${last} is ${stateName(lastJob.state)}`);
      filled.push({
        queue,
        depth,
        ids: fill.ids,
        fillPerSec: fill.perSec,
        lastPosition: lastJob.queuePosition ?? -1,
        status: [],
        count: [],
      });
    }
    const one = async (f: Filled, record: boolean) => {
      const id = f.ids[Math.floor(Math.random() * f.ids.length)]!;
      let t = performance.now();
      const job = await api.getStatus({ id });
      if (record) f.status.push(performance.now() - t);
      if (job.queuePosition === undefined) throw new Error(`GetStatus of ${id}: no queue_position`);
      t = performance.now();
      const qc = await api.queueCount({ queue: f.queue });
      if (record) f.count.push(performance.now() - t);
      if (qc.inQueue !== f.depth)
        throw new Error(`QueueCount of ${f.queue} says ${qc.inQueue} waiting, expected ${f.depth}`);
    };
    for (let i = 0; i < 50 + o.calls; i++) {
      for (const f of filled) await one(f, i >= 50);
    }
    const levels = filled.map((f) => ({
      depth: f.depth,
      fillPerSec: f.fillPerSec,
      getStatus: summarize(f.status),
      queueCount: summarize(f.count),
      lastPosition: f.lastPosition,
    }));
    const [small, big] = levels as [DepthLevel, DepthLevel];
    return {
      levels,
      getStatusRatio: big.getStatus.p50 / small.getStatus.p50,
      queueCountRatio: big.queueCount.p50 / small.queueCount.p50,
    };
  } finally {
    client.close();
  }
}
