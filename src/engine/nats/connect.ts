/**
 * Opening the JetStream driver's connection and its shared layout (the jobs
 * and queues buckets), retrying while a cluster that is starting has no
 * JetStream leader yet.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { openConnection } from "./connection.js";
import { isUnavailable, toEngineError } from "./errors.js";
import { ensureShared, type LayoutOptions } from "./setup.js";

/** How long opening waits for JetStream to become ready (a cluster electing its leader). */
const SETUP_PATIENCE_MS = 20_000;

export interface Connected {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  shared: Awaited<ReturnType<typeof ensureShared>>;
}

export async function connectJetStream(
  target: { servers: string | string[]; name?: string },
  layout: LayoutOptions,
  logger?: Logger,
): Promise<Connected> {
  const timeout = layout.requestTimeoutMs;
  const nc = await openConnection({ servers: target.servers, name: target.name, requestTimeoutMs: timeout });
  const deadline = Date.now() + Math.max(SETUP_PATIENCE_MS, 3 * timeout);
  for (let attempt = 1; ; attempt++) {
    try {
      const js = jetstream(nc, { timeout });
      const jsm = await jetstreamManager(nc, { timeout });
      return { nc, js, jsm, shared: await ensureShared(js, jsm, layout) };
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > deadline) {
        await nc.close().catch(() => undefined);
        throw toEngineError(err, "setting up the JetStream layout");
      }
      logger?.warn({ err, attempt }, "jetq nats engine: JetStream not ready, retrying the setup");
      await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * attempt)));
    }
  }
}
