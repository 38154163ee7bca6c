/**
 * What starting jetq takes, shared by the entry points (main.ts: `npm start`,
 * worker-main.ts: `npm run worker`): the engine the configuration names, the
 * built-in queues, the start-up log lines, the shutdown signals.
 */
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { createMemoryEngine } from "./engine/memory/index.js";
import { createNatsEngine } from "./engine/nats/index.js";
import type { SettingNames } from "./engine/settings.js";
import type { Engine } from "./engine/types.js";
import { builtinHandlers } from "./handlers/index.js";
import { createHttpHandler, createHttpSubmitCheck } from "./handlers/http/index.js";
import type { InputValidators } from "./service/input-validators.js";
import { createLaneRegistry, type LaneRegistry } from "./handlers/http/lanes.js";
import { discoverLanes, type LaneDiscovery } from "./handlers/http/lane-discovery.js";
import type { QueueRegistration, Worker } from "./worker/index.js";
import { DEFAULT_WEBHOOK_POLICY, startWebhooks, webhookSubmitCheck, type Webhooks } from "./webhooks/index.js";
import type { WebhookSubmitCheck } from "./webhooks/submit-check.js";
import { createMetrics, type JetqMetrics } from "./ops/metrics.js";
import { logFinishedJobs } from "./ops/job-log-line.js";

export { logHttpSecrets } from "./handlers/http/log-config.js";

/**
 * How people running jetq know the engine's settings: the variables
 * config.ts reads them from, so a message about a limit says what to change.
 */
export const ENGINE_SETTING_NAMES: SettingNames = {
  retentionMs: "JETQ_RETENTION_MS",
  maxPayloadBytes: "JETQ_MAX_PAYLOAD_BYTES",
  "logBounds.maxLines": "JETQ_LOG_MAX_LINES",
  "logBounds.maxBytes": "JETQ_LOG_MAX_BYTES",
  "logBounds.maxLineBytes": "JETQ_LOG_MAX_LINE_BYTES",
};

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
      settingNames: ENGINE_SETTING_NAMES,
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
    settingNames: ENGINE_SETTING_NAMES,
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
    Object.entries(handlers).map(([queue, handler]) => [queue, { handler, config: builtinQueueConfig(config) }]),
  );
}

/** The queue defaults of the built-in queues (and lanes), from the environment. */
function builtinQueueConfig(config: Config) {
  return { ackWaitMs: config.ackWaitMs, maxAttempts: config.maxAttempts, maxLostLeases: config.maxLostLeases };
}

/**
 * Lanes (caller-named http queues, handlers/http/lanes.ts) for the API: with
 * the `http` queue configured. This process's worker, if it runs one, serves
 * a lane from its first Submit; every worker with the http handler finds
 * lanes on its own too (laneDiscovery), JETQ_HTTP_LANE_CONCURRENCY at once.
 */
export function httpLanes(
  config: Config,
  engine: Engine,
  queues: Record<string, QueueRegistration>,
  worker: () => Worker | undefined,
): LaneRegistry | undefined {
  // An API-only process has no http handler (no secret values), but its lanes are served by the workers that do.
  if (!config.httpAllowedHosts || config.httpAllowedHosts.length === 0) return undefined;
  const http = queues.http;
  const registration = http ? laneRegistration(config, http) : undefined;
  return createLaneRegistry({
    declare: (queue, queueConfig) => engine.declareQueue(queue, queueConfig),
    config: builtinQueueConfig(config),
    perTenant: config.httpLanes.perTenant,
    onCreated: (queue) => (registration ? worker()?.addQueue(queue, registration) : undefined),
  });
}

function laneRegistration(config: Config, http: QueueRegistration): QueueRegistration {
  return { ...http, concurrency: config.httpLanes.concurrency };
}

/** A worker with the `http` handler serves every lane any API process made (handlers/http/lane-discovery.ts). */
export function laneDiscovery(
  config: Config,
  engine: Engine,
  queues: Record<string, QueueRegistration>,
  worker: Worker,
  logger?: Logger,
): LaneDiscovery | undefined {
  const http = queues.http;
  if (!http) return undefined;
  const registration = laneRegistration(config, http);
  return discoverLanes({
    engine,
    worker,
    registration,
    intervalMs: config.httpLanes.scanMs,
    ...(logger ? { logger } : {}),
  });
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
 * Webhooks (README "Webhooks"): every process with an engine enqueues the
 * webhooks of the jobs it ends and delivers due ones, once
 * JETQ_WEBHOOK_SECRET is set; without it none are sent, and one log line
 * says so.
 */
export function startWebhooksOf(config: Config, engine: Engine, logger: Logger): Webhooks | undefined {
  if (!config.webhooks) {
    logger.info("webhooks: off (JETQ_WEBHOOK_SECRET not set): Submits with a webhook_url are refused");
    return undefined;
  }
  const allowed = config.webhookAllowedHosts;
  logger.info(
    { allowedHosts: allowed, retryBaseMs: config.webhooks.retryBaseMs },
    `webhooks: on, signed with JETQ_WEBHOOK_SECRET; ${allowed.length} private host(s) allowed`,
  );
  return startWebhooks({
    engine,
    key: config.webhooks.key,
    allowedHosts: allowed,
    policy: { ...DEFAULT_WEBHOOK_POLICY, retryBaseMs: config.webhooks.retryBaseMs },
    logger: logger.child({ component: "webhooks" }),
  });
}

/** Submit's check of a job's webhook_url: refused while webhooks are off. */
export function webhookCheckOf(config: Config): WebhookSubmitCheck {
  return webhookSubmitCheck(config.webhooks !== undefined, config.webhookAllowedHosts);
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
  const weak = keys.flatMap((k, i) =>
    k.key !== undefined && k.key.length < MIN_STRONG_KEY_LENGTH ? [k.name ?? `key-${i + 1}`] : [],
  );
  if (weak.length > 0) {
    logger.warn(
      { keys: weak },
      `auth: ${weak.length} API key(s) shorter than ${MIN_STRONG_KEY_LENGTH} characters can be guessed; use random keys, e.g. \`openssl rand -hex 32\``,
    );
  }
}

const MIN_STRONG_KEY_LENGTH = 24;

/**
 * What operators watch (README "Operations"): one info line per job this
 * process ends, and, unless JETQ_METRICS=false, this process's metrics:
 * with the queue gauges on the API process; on a worker-only one without,
 * and only when its probe port can serve them.
 */
export function observeJobs(
  config: Config,
  engine: Engine,
  logger: Logger,
  role: "api" | "worker",
): JetqMetrics | undefined {
  logFinishedJobs(engine, logger);
  if (!config.metrics || (role === "worker" && config.probePort === undefined)) return undefined;
  const api = role === "api";
  const maxQueues = config.metricsMaxQueues;
  const metrics = createMetrics({ maxQueues, ...(api ? { queueCounts: { engine } } : {}) });
  metrics.observe(engine);
  return metrics;
}

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
