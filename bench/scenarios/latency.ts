/**
 * Latency of one job at a time: Submit, StreamStatus opened right after it,
 * until COMPLETED arrives (or one SubmitAndStream call); nothing else in flight.
 */
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { openJobsClients, type ClientKind } from "../client.js";
import { summarize, type Summary } from "../stats.js";
import { runJob, stateName, type Flow } from "./jobs.js";

export interface LatencyOptions {
  url: string;
  jobs: number;
  warmup: number;
  client: ClientKind;
  /** Default "two-call". */
  flow?: Flow;
  queue?: string;
}

export async function measureLatency(o: LatencyOptions): Promise<Summary> {
  const client = openJobsClients(o.client, o.url, "2", 1)[0]!;
  const queue = o.queue ?? "echo";
  try {
    const samples: number[] = [];
    for (let i = 0; i < o.warmup + o.jobs; i++) {
      const start = performance.now();
      const state = await runJob(client.api, queue, i, o.flow ?? "two-call");
      const ms = performance.now() - start;
      if (state !== JobState.COMPLETED) throw new Error(`latency job ended ${stateName(state)}`);
      if (i >= o.warmup) samples.push(ms);
    }
    return summarize(samples);
  } finally {
    client.close();
  }
}
