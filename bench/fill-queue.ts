/**
 * Fills a declared jetq queue fast: raw JetStream publishes of messages in
 * jetq's own format (the engine's encoding and ids), no Submit round trips.
 * Run as a child process (args: JSON in argv[2]); answers a sample of the ids.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { formatJobId, newToken } from "../src/engine/job-id.js";
import { encodeInput, metaHeaders } from "../src/engine/nats/job-message.js";
import { queueSubject } from "../src/engine/nats/layout.js";
import { childArgs, reply } from "./child.js";

export interface FillArgs {
  servers: string;
  queue: string;
  count: number;
  window: number;
  /** How many ids to answer, evenly spread, the last one included. */
  samples: number;
}

export interface FillResult {
  ids: string[];
  perSec: number;
}

async function main() {
  const a = childArgs<FillArgs>();
  const nc = await connect({ servers: a.servers.split(","), name: "bench-fill" });
  const js = jetstream(nc, { timeout: 30_000 });
  const subject = queueSubject(a.queue);
  const data = encodeInput({ n: 1, text: "a small job input for the bench" });
  const every = Math.max(1, Math.floor(a.count / a.samples));
  const ids: string[] = [];
  let inFlight = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const start = performance.now();
  for (let i = 0; i < a.count; i++) {
    while (inFlight >= a.window) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
    const token = newToken();
    const keep = i % every === 0 || i === a.count - 1;
    inFlight++;
    js.publish(subject, data, { headers: metaHeaders({ token, createdAt: Date.now(), tenant: "", options: {} }) }).then(
      (ack) => {
        if (keep) ids.push(formatJobId({ queue: a.queue, seq: ack.seq, token }));
        inFlight--;
        wake?.();
      },
      (err: unknown) => {
        failure ??= err;
        inFlight--;
        wake?.();
      },
    );
  }
  while (inFlight > 0) await new Promise<void>((r) => (wake = r));
  if (failure) throw failure;
  const ms = performance.now() - start;
  await nc.drain();
  ids.sort();
  const result: FillResult = { ids, perSec: (a.count * 1000) / ms };
  reply(result);
}

await main();
