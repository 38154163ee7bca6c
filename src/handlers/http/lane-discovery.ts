/**
 * Lanes made by any API process are served by every worker that has the
 * `http` handler: a worker looks for new lane queues among the declared
 * queues every few seconds (and once at start, so lanes with jobs waiting
 * from before a restart are served at once) and starts serving each.
 */
import type { Logger } from "pino";
import type { Engine } from "../../engine/types.js";
import type { QueueRegistration, Worker } from "../../worker/index.js";
import { isLaneQueue } from "./lanes.js";

export interface LaneDiscoveryOptions {
  engine: Engine;
  worker: Worker;
  /** How a lane is served: the http handler, JETQ_HTTP_LANE_CONCURRENCY at once. */
  registration: QueueRegistration;
  intervalMs: number;
  logger?: Logger;
}

export interface LaneDiscovery {
  /** Looks once now (tests, and the server after it made a lane). */
  scan(): Promise<void>;
  stop(): void;
}

export function discoverLanes(o: LaneDiscoveryOptions): LaneDiscovery {
  const served = new Set<string>();
  let running: Promise<void> | undefined;
  const look = async () => {
    const lanes = (await o.engine.listQueues()).filter((q) => isLaneQueue(q) && !served.has(q));
    for (const lane of lanes) {
      await o.worker.addQueue(lane, o.registration);
      served.add(lane);
    }
  };
  const scan = () =>
    (running ??= look()
      .catch((err: unknown) => o.logger?.warn({ err }, "could not look for new lanes; trying again"))
      .finally(() => (running = undefined)));
  void scan();
  const timer = setInterval(() => void scan(), o.intervalMs);
  timer.unref();
  return { scan, stop: () => clearInterval(timer) };
}
