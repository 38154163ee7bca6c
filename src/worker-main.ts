/**
 * `npm run worker`: workers only, for the built-in handlers, scaled apart
 * from the API. Needs NATS JetStream: an embedded engine would be private to
 * this process, so no API server could ever hand it a job.
 */
import { loadConfigOrExit } from "./config.js";
import type { Engine } from "./engine/types.js";
import { createLogger } from "./logger.js";
import { startProbeServer, type ProbeServer } from "./server/probe-server.js";
import {
  builtinQueues,
  laneDiscovery,
  logHttpSecrets,
  observeJobs,
  onShutdownSignal,
  openEngine,
  startWebhooksOf,
} from "./startup.js";
import type { Webhooks } from "./webhooks/index.js";
import type { LaneDiscovery } from "./handlers/http/lane-discovery.js";
import { startTracing, type InstalledTracing } from "./tracing/index.js";
import { createWorker, type Worker } from "./worker/index.js";

const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, name: "jetq-worker", format: config.logFormat });
if (!config.natsServers) {
  logger.fatal(
    "NATS_URL is not set: a worker-only process needs NATS JetStream (e.g. NATS_URL=nats://localhost:4222), " +
      "because the embedded engine lives inside one process. For a single process with the API and workers, run `npm start`.",
  );
  process.exit(1);
}

let engine: Engine;
let tracing: InstalledTracing | undefined;
try {
  engine = await openEngine(config, logger);
  logHttpSecrets(config, logger);
} catch (err) {
  logger.fatal({ err }, "could not connect to NATS");
  process.exit(1);
}
try {
  tracing = await startTracing(process.env, "jetq-worker", logger);
} catch (err) {
  logger.fatal({ err }, "could not start tracing");
  await engine.close().catch(() => undefined);
  process.exit(1);
}
const metrics = observeJobs(config, engine, logger, "worker");
let worker: Worker | undefined;
let lanes: LaneDiscovery | undefined;
let probes: ProbeServer | undefined;
let webhooks: Webhooks | undefined;
let stopping = false;
onShutdownSignal(logger, async () => {
  stopping = true;
  lanes?.stop();
  await worker?.stop({ graceMs: config.shutdownGraceMs });
  await webhooks?.stop();
  await engine.close();
  await probes?.close();
  await tracing?.shutdown();
});
try {
  // Before the worker: a port in use stops the process before it takes a job.
  if (config.probePort !== undefined) {
    probes = await startProbeServer(
      config.probePort,
      config.host,
      () => (stopping ? { ready: false, reason: "worker is shutting down" } : engine.readiness()),
      metrics,
    );
    const paths = metrics ? "/healthz, /readyz and /metrics" : "/healthz and /readyz";
    logger.info({ port: probes.port }, `probes: GET ${paths} on port ${probes.port}`);
  }
  webhooks = startWebhooksOf(config, engine, logger);
  const queues = builtinQueues(config);
  worker = createWorker({ engine, queues, concurrency: config.concurrency, logger });
  await worker.start();
  lanes = laneDiscovery(config, engine, queues, worker, logger);
} catch (err) {
  logger.fatal({ err }, "could not start the worker");
  await engine.close().catch(() => undefined);
  process.exit(1);
}
