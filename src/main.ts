/**
 * `npm start`: the API server plus in-process workers for the built-in
 * handlers, on NATS JetStream when NATS_URL is set, else on the embedded
 * engine. Only starts things: what it shares with worker-main.ts is in startup.ts.
 */
import { loadConfigOrExit } from "./config.js";
import type { Engine } from "./engine/types.js";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./server/server.js";
import {
  builtinInputValidators,
  builtinQueues,
  httpLanes,
  laneDiscovery,
  logAuth,
  logHttpSecrets,
  observeJobs,
  onShutdownSignal,
  openEngine,
  startWebhooksOf,
  webhookCheckOf,
} from "./startup.js";
import type { Webhooks } from "./webhooks/index.js";
import { startTracing, type InstalledTracing } from "./tracing/index.js";
import { createWorker, type Worker } from "./worker/index.js";
import type { LaneDiscovery } from "./handlers/http/lane-discovery.js";

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  let engine: Engine;
  let tracing: InstalledTracing | undefined;
  try {
    engine = await openEngine(config, logger);
    // Right after the engine's line (which the design wants first): before
    // anything is served, the log says who may call.
    logAuth(config, logger);
    logHttpSecrets(config, logger);
  } catch (err) {
    logger.fatal({ err }, "could not open the engine");
    process.exit(1);
  }
  try {
    // Before anything that makes spans; nothing is loaded unless OTEL_* asks for it (README "Traces").
    tracing = await startTracing(process.env, "jetq", logger);
  } catch (err) {
    logger.fatal({ err }, "could not start tracing");
    await engine.close().catch(() => undefined);
    process.exit(1);
  }

  let worker: Worker | undefined;
  let lanes: LaneDiscovery | undefined;
  let server: RunningServer | undefined;
  let webhooks: Webhooks | undefined;
  // The order matters (README "Shutdown"): first stop looking ready, so
  // balancers send new calls elsewhere (and, on the embedded engine, refuse
  // new jobs, which would die with us); then give running jobs their grace;
  // then end open streams and close the listener; then the engine.
  const stop = async () => {
    server?.drain();
    lanes?.stop();
    await worker?.stop({ graceMs: config.shutdownGraceMs });
    await server?.close();
    await webhooks?.stop();
    await engine.close();
    await tracing?.shutdown();
  };
  onShutdownSignal(logger, stop);

  const metrics = observeJobs(config, engine, logger, "api");
  // Only with workers: the http handler needs the secrets' values, which an API-only process does not have.
  const queues = config.workers ? builtinQueues(config) : {};
  try {
    webhooks = startWebhooksOf(config, engine, logger);
    if (config.workers) {
      worker = createWorker({
        engine,
        queues,
        concurrency: config.concurrency,
        logger,
      });
      await worker.start();
      lanes = laneDiscovery(config, engine, queues, worker, logger);
    } else {
      logger.info("in-process workers disabled (JETQ_WORKERS=false): run `npm run worker` to process jobs");
    }
    server = await startServer({
      engine,
      port: config.port,
      host: config.host,
      logger,
      readMaxBytes: config.readMaxBytes,
      apiKeys: config.apiKeys,
      rateLimit: config.rateLimit,
      corsOrigins: config.corsOrigins,
      streamCaps: config.streamCaps,
      maxInputValues: config.maxInputValues,
      connectFastPath: config.connectFastPath,
      metrics: metrics ?? false,
      ui: config.ui,
      inputValidators: builtinInputValidators(config),
      lanes: httpLanes(config, engine, queues, () => worker),
      webhookCheck: webhookCheckOf(config),
    });
  } catch (err) {
    logger.fatal({ err }, "could not start");
    await stop().catch(() => undefined);
    process.exit(1);
  }
  logger.info(
    { url: server.url, port: server.port },
    `jetq listening on ${server.url} (HTTP/1.1 and h2c; Connect, gRPC, gRPC-Web)`,
  );
}

await main();
