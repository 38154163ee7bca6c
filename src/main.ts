/**
 * `npm start`: the API server plus in-process workers for the built-in
 * handlers, on NATS JetStream when NATS_URL is set, else on the embedded engine.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import type { Logger } from "pino";
import { loadConfigOrExit, type Config } from "./config.js";
import { createMemoryEngine } from "./engine/memory/index.js";
import { createNatsEngine } from "./engine/nats/index.js";
import type { Engine } from "./engine/types.js";
import { builtinHandlers } from "./handlers/index.js";
import { createHttpHandler, createHttpSubmitCheck } from "./handlers/http/index.js";
import { logHttpSecrets } from "./handlers/http/log-config.js";
import type { InputValidators } from "./service/input-validators.js";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./server/server.js";
import { createWorker, type QueueRegistration, type Worker } from "./worker/index.js";

/** The first log line says where jobs live: a user must never think in-memory jobs are durable. */
export async function openEngine(config: Config, logger: Logger): Promise<Engine> {
  if (config.natsServers) {
    const servers = config.natsServers.join(",");
    logger.info(
      { engine: "nats", servers: config.natsServers, storage: config.storage, replicas: config.replicas },
      `engine: NATS JetStream at ${servers}`,
    );
    return createNatsEngine({
      servers: config.natsServers,
      storage: config.storage,
      replicas: config.replicas,
      retentionMs: config.retentionMs,
      maxPayloadBytes: config.maxPayloadBytes,
      logBounds: config.logBounds,
      progressIntervalMs: config.progressIntervalMs,
      name: "jetq",
      logger: logger.child({ component: "engine" }),
    });
  }
  logger.info(
    { engine: "memory" },
    "engine: embedded (NATS_URL not set): jobs live in memory only and are lost when the process stops; set NATS_URL=nats://host:4222 for NATS JetStream",
  );
  return createMemoryEngine({
    retentionMs: config.retentionMs,
    maxPayloadBytes: config.maxPayloadBytes,
    logBounds: config.logBounds,
    progressIntervalMs: config.progressIntervalMs,
    logger: logger.child({ component: "engine" }),
  });
}

/**
 * The built-in handlers, declared with the queue defaults from the environment:
 * `echo` always, `http` once JETQ_HTTP_ALLOWED_HOSTS names where it may go.
 */
export function builtinQueues(config: Config): Record<string, QueueRegistration> {
  const handlers = { ...builtinHandlers };
  if (config.httpAllowedHosts && config.httpAllowedHosts.length > 0) {
    handlers.http = createHttpHandler({ allowedHosts: config.httpAllowedHosts, secrets: config.secrets });
  }
  return Object.fromEntries(
    Object.entries(handlers).map(([queue, handler]) => [
      queue,
      {
        handler,
        config: { ackWaitMs: config.ackWaitMs, maxAttempts: config.maxAttempts, maxLostLeases: config.maxLostLeases },
      },
    ]),
  );
}

/**
 * Submit-time input checks of the built-in queues, so an API process without
 * workers refuses bad input too. The http queue's is always on: unconfigured,
 * it refuses every http job (it could not check secret grants).
 */
export function builtinInputValidators(config: Config): InputValidators {
  const http = createHttpSubmitCheck({
    allowedHosts: config.httpAllowedHosts ?? [],
    secrets: config.secrets,
    grants: config.tenantSecrets,
  });
  return new Map([["http", http]]);
}

/**
 * A log line at start says who may call: an open server must never pass for
 * a protected one. Names keys by name and tenant only, never by value.
 */
export function logAuth(config: Config, logger: Logger): void {
  const keys = config.apiKeys ?? [];
  if (keys.length === 0) {
    logger.warn(
      { auth: "none" },
      "auth: no API keys configured (JETQ_API_KEYS / JETQ_AUTH_FILE): anyone who reaches this port may submit, read and cancel every job",
    );
    return;
  }
  const tenants = [...new Set(keys.map((k) => k.tenant))];
  logger.info(
    {
      auth: "api-keys",
      keys: keys.map((k, i) => ({ name: k.name ?? `key-${i + 1}`, tenant: k.tenant, role: k.role ?? "submitter" })),
      rateLimit: config.rateLimit,
      corsOrigins: config.corsOrigins,
    },
    `auth: ${keys.length} API key(s) for ${tenants.length} tenant(s); every RPC but health checks needs Authorization: Bearer <key>`,
  );
  // Guessable keys defeat the rest; say which (by name), never what they are.
  const weak = keys.flatMap((k, i) => (k.key !== undefined && k.key.length < MIN_STRONG_KEY_LENGTH ? [k.name ?? `key-${i + 1}`] : []));
  if (weak.length > 0) {
    logger.warn(
      { keys: weak },
      `auth: ${weak.length} API key(s) shorter than ${MIN_STRONG_KEY_LENGTH} characters can be guessed; use random keys, e.g. \`openssl rand -hex 32\``,
    );
  }
}

const MIN_STRONG_KEY_LENGTH = 24;

/** SIGTERM / SIGINT run `stop` once; a second signal exits at once. */
export function onShutdownSignal(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without waiting");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.logLevel });
  let engine: Engine;
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

  let worker: Worker | undefined;
  let server: RunningServer | undefined;
  // The order matters (README "Shutdown"): first stop looking ready, so
  // balancers send new calls elsewhere (and, on the embedded engine, refuse
  // new jobs, which would die with us); then give running jobs their grace;
  // then end open streams and close the listener; then the engine.
  const stop = async () => {
    server?.drain();
    await worker?.stop({ graceMs: config.shutdownGraceMs });
    await server?.close();
    await engine.close();
  };
  onShutdownSignal(logger, stop);

  try {
    if (config.workers) {
      worker = createWorker({
        engine,
        queues: builtinQueues(config),
        concurrency: config.concurrency,
        logger,
      });
      await worker.start();
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
      inputValidators: builtinInputValidators(config),
    });
  } catch (err) {
    logger.fatal({ err }, "could not start");
    await stop().catch(() => undefined);
    process.exit(1);
  }
  logger.info({ url: server.url, port: server.port }, `jetq listening on ${server.url} (HTTP/1.1 and h2c; Connect, gRPC, gRPC-Web)`);
}

// Imported by worker-main.ts for the helpers above: run only as the entry point.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  await main();
}
