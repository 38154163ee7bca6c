/**
 * All settings come from the environment, parsed and validated once here, so
 * a typo stops the process at start with the variable's name instead of
 * surfacing later as odd behaviour.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  createKeyStore,
  parseApiKeysList,
  parseAuthFile,
  parseRateLimit,
  type ApiKeyInput,
  type RateLimit,
  type SecretGrants,
} from "./auth/index.js";
import { readSecretDeclarations } from "./handlers/http/secrets-config.js";
import type { SecretDeclaration } from "./handlers/http/index.js";
import { parseWebhookSecret } from "./webhooks/signing.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const LOG_FORMATS = ["json", "pretty"] as const;

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0", "yes", "no"], { error: 'must be "true" or "false"' }))
  .transform((v) => v === "true" || v === "1" || v === "yes");

const natsUrls = z
  .string()
  .trim()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  )
  .pipe(
    z
      .array(
        z.string().regex(/^((nats|tls|ws|wss):\/\/)?[^\s/]+(:\d+)?\/?$/, "each server must look like nats://host:4222"),
      )
      .min(1, "must name at least one server, e.g. nats://localhost:4222"),
  );

const rateLimit = z.string().transform((text, ctx): RateLimit | undefined => {
  if (text.trim().toLowerCase() === "off") return undefined;
  try {
    return parseRateLimit(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

const corsOrigins = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim().replace(/\/+$/, "").toLowerCase())
      .filter((s) => s !== ""),
  )
  .pipe(
    z.array(
      z
        .string()
        .regex(
          /^https?:\/\/[a-z0-9.-]+(:\d+)?$|^https?:\/\/\[[0-9a-f:]+\](:\d+)?$/,
          'each origin must look like "https://app.example.com" or "http://localhost:5173" (scheme, host, optional port; no path, no "*")',
        ),
    ),
  );

/** A comma-separated list of hosts, lower-cased, each matching `pattern` (else `message`). */
const hostList = (pattern: RegExp, message: string) =>
  z
    .string()
    .transform((v) =>
      v
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter((s) => s !== ""),
    )
    .pipe(z.array(z.string().regex(pattern, message)));

const EnvSchema = z.object({
  PORT: int(0, 65535).default(8080),
  HOST: z.string().trim().min(1, "must not be empty").default("0.0.0.0"),
  NATS_URL: natsUrls.optional(),
  JETQ_LOG_LEVEL: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }))
    .default("info"),
  // Unset: pretty on a terminal, JSON lines otherwise (logger.ts).
  JETQ_LOG_FORMAT: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(", ")}` }))
    .optional(),
  JETQ_CONCURRENCY: int(1, 10_000).default(16),
  // Caller-named http queues (lanes): requests of one lane at once per worker, and lanes per tenant.
  JETQ_HTTP_LANE_CONCURRENCY: int(1, 10_000).default(1),
  JETQ_HTTP_LANES_PER_TENANT: int(0, 10_000).default(20),
  JETQ_HTTP_LANE_SCAN_MS: int(100, 60 * 60 * 1000).default(2_000),
  JETQ_ACK_WAIT_MS: int(1_000, 24 * 60 * 60 * 1000).default(30_000),
  JETQ_MAX_ATTEMPTS: int(1, 100).default(1),
  JETQ_MAX_LOST_LEASES: int(0, 100).default(5),
  JETQ_SHUTDOWN_GRACE_MS: int(0, 60 * 60 * 1000).default(10_000),
  JETQ_STORAGE: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(["file", "memory"], { error: 'must be "file" or "memory"' }))
    .default("file"),
  JETQ_REPLICAS: int(1, 5).default(1),
  JETQ_RETENTION_MS: int(1_000, 365 * 24 * 60 * 60 * 1000).default(86_400_000),
  JETQ_WORKERS: bool.default(true),
  // Worker-only processes: a port for /healthz and /readyz; unset = none.
  JETQ_PROBE_PORT: int(1, 65535).optional(),
  // Largest job input and output; larger inputs are RESOURCE_EXHAUSTED at Submit.
  JETQ_MAX_PAYLOAD_BYTES: int(1024, 256 * 1024 * 1024).default(16 * 1024 * 1024),
  // Unset: JETQ_MAX_PAYLOAD_BYTES plus room for the rest of the request.
  JETQ_READ_MAX_BYTES: int(1024, 1024 * 1024 * 1024).optional(),
  JETQ_HTTP_ALLOWED_HOSTS: hostList(
    /^(\*\.)?[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:]+\](:\d+)?$/,
    'each host must look like "api.example.com", "*.example.com" or "host:port"',
  ).optional(),
  JETQ_RATE_LIMIT: rateLimit.optional(),
  JETQ_CORS_ORIGINS: corsOrigins.optional(),
  // What one attempt of a job may log, and how often its progress is announced.
  JETQ_LOG_MAX_LINES: int(1, 1_000_000).default(1_000),
  JETQ_LOG_MAX_LINE_BYTES: int(64, 1024 * 1024).default(4 * 1024),
  JETQ_LOG_MAX_BYTES: int(64, 64 * 1024 * 1024).default(256 * 1024),
  JETQ_PROGRESS_INTERVAL_MS: int(0, 60_000).default(100),
  // Open StreamStatus/SubmitAndStream (and health Watch) streams.
  JETQ_MAX_STREAMS_PER_KEY: int(1, 1_000_000).default(1_000),
  JETQ_MAX_STREAMS_PER_CONNECTION: int(1, 1_000_000).default(2_500),
  // JSON values in one job input, counted before decoding (decoding costs per value).
  JETQ_MAX_INPUT_VALUES: int(1, 100_000_000).default(100_000),
  // false: every call goes through connect-es (to measure the fast path, or to rule it out).
  JETQ_CONNECT_FAST_PATH: bool.default(true),
  // GET /metrics (Prometheus) on the API port and the worker's probe port.
  JETQ_METRICS: bool.default(true),
  // Queues named in metric labels and read for the queue gauges; the rest share queue="_other".
  JETQ_METRICS_MAX_QUEUES: int(1, 10_000).default(100),
  JETQ_UI: bool.default(true), // the web dashboard at /ui/ (and GET / redirecting to it)
  // Webhooks (the secret, JETQ_WEBHOOK_SECRET, is read apart: its value must never be printed).
  JETQ_WEBHOOK_ALLOWED_HOSTS: hostList(
    /^[a-z0-9.-]+$|^\[?[0-9a-f:.]+\]?$/,
    'each entry must be a host name or an IP address, e.g. "hooks.internal" or "10.0.0.5" (no port, no "*")',
  ).default([]),
  JETQ_WEBHOOK_RETRY_BASE_MS: int(1, 60 * 60 * 1000).default(5_000),
});

export interface Config {
  port: number;
  host: string;
  /** Unset: the embedded engine. */
  natsServers?: string[];
  logLevel: (typeof LOG_LEVELS)[number];
  /** JETQ_LOG_FORMAT; unset = pretty when stdout is a terminal, else JSON. */
  logFormat?: (typeof LOG_FORMATS)[number];
  concurrency: number;
  ackWaitMs: number;
  maxAttempts: number;
  /** Lost leases (crashed workers) a job survives unless it says otherwise. */
  maxLostLeases: number;
  shutdownGraceMs: number;
  storage: "file" | "memory";
  replicas: number;
  retentionMs: number;
  /** Run in-process workers for the built-in handlers. */
  workers: boolean;
  /** `npm run worker`: where it serves /healthz and /readyz; unset = no probe port. */
  probePort?: number;
  /** Largest request the server reads. */
  readMaxBytes: number;
  /** Largest job input and output (JSON bytes). */
  maxPayloadBytes: number;
  /** Hosts the built-in `http` handler may call; unset: the `http` queue is not served. */
  httpAllowedHosts?: string[];
  /** JETQ_HTTP_LANE_CONCURRENCY, JETQ_HTTP_LANES_PER_TENANT, JETQ_HTTP_LANE_SCAN_MS (handlers/http/lanes.ts). */
  httpLanes: { concurrency: number; perTenant: number; scanMs: number };
  /**
   * JETQ_SECRETS (names and URL prefixes) with values from JETQ_SECRET_<NAME>;
   * a JETQ_SECRET_<NAME> alone may go to every allowed host. Values: never log.
   */
  secrets: SecretDeclaration[];
  /** JETQ_TENANT_SECRETS: the secrets each tenant's keys may use; unset = none (with keys). */
  tenantSecrets?: SecretGrants;
  /** JETQ_API_KEYS and JETQ_AUTH_FILE together; unset = the server runs open. Never log. */
  apiKeys?: ApiKeyInput[];
  /** JETQ_RATE_LIMIT: default per-key limit; unset = none. */
  rateLimit?: RateLimit;
  /** JETQ_CORS_ORIGINS; unset = no CORS headers. */
  corsOrigins?: string[];
  /** JETQ_LOG_MAX_LINES, JETQ_LOG_MAX_LINE_BYTES, JETQ_LOG_MAX_BYTES. */
  logBounds: { maxLines: number; maxLineBytes: number; maxBytes: number };
  progressIntervalMs: number;
  /** JETQ_MAX_STREAMS_PER_KEY, JETQ_MAX_STREAMS_PER_CONNECTION. */
  streamCaps: { perKey: number; perConnection: number };
  /** JETQ_MAX_INPUT_VALUES. */
  maxInputValues: number;
  /** JETQ_CONNECT_FAST_PATH. */
  connectFastPath: boolean;
  /** JETQ_WEBHOOK_*: unset without JETQ_WEBHOOK_SECRET (no webhooks are sent, webhook_url is refused). */
  webhooks?: WebhookConfig;
  /** JETQ_WEBHOOK_ALLOWED_HOSTS, also without the secret (Submit's check names them). */
  webhookAllowedHosts: string[];
  /** JETQ_METRICS: serve GET /metrics. */
  metrics: boolean;
  /** JETQ_METRICS_MAX_QUEUES. */
  metricsMaxQueues: number;
  /** JETQ_UI: serve the dashboard at /ui/. */
  ui: boolean;
}

export interface WebhookConfig {
  /** The key bytes of JETQ_WEBHOOK_SECRET. Never log. */
  key: Buffer;
  retryBaseMs: number;
}

/** JETQ_WEBHOOK_SECRET: whsec_ + base64; problems never show the value. */
function readWebhookKey(env: NodeJS.ProcessEnv): { key?: Buffer; problems: string[] } {
  const secret = env.JETQ_WEBHOOK_SECRET;
  if (secret === undefined || secret.trim() === "") return { problems: [] };
  try {
    return { key: parseWebhookSecret(secret), problems: [] };
  } catch (err) {
    return { problems: [`  JETQ_WEBHOOK_SECRET (value not shown): ${(err as Error).message}`] };
  }
}

/**
 * API keys from JETQ_API_KEYS and the file JETQ_AUTH_FILE names. Problems
 * are reported by variable and entry position: a key never appears in them.
 */
function readApiKeys(env: NodeJS.ProcessEnv): { keys?: ApiKeyInput[]; problems: string[] } {
  const problems: string[] = [];
  const keys: ApiKeyInput[] = [];
  const list = env.JETQ_API_KEYS;
  if (list !== undefined && list.trim() !== "") {
    try {
      const fromEnv = parseApiKeysList(list);
      createKeyStore(fromEnv);
      keys.push(...fromEnv);
    } catch (err) {
      problems.push(`  JETQ_API_KEYS (value not shown): ${(err as Error).message}`);
    }
  }
  const file = env.JETQ_AUTH_FILE?.trim();
  if (file) {
    try {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new Error(`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
          cause: err,
        });
      }
      const fromFile = parseAuthFile(text);
      createKeyStore(fromFile);
      keys.push(...fromFile);
    } catch (err) {
      problems.push(`  JETQ_AUTH_FILE=${JSON.stringify(file)}: ${(err as Error).message}`);
    }
  }
  if (problems.length === 0 && keys.length > 0) {
    try {
      createKeyStore(keys);
    } catch (err) {
      problems.push(`  JETQ_API_KEYS and JETQ_AUTH_FILE together: ${(err as Error).message}`);
    }
  }
  return { keys: keys.length > 0 ? keys : undefined, problems };
}

/** Room for the rest of a Submit request beside its input (JSON escaping, options, key). */
const REQUEST_OVERHEAD_BYTES = 1024 * 1024;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Throws ConfigError listing every bad variable with what it allows.
 * Empty variables count as unset, as shells and compose files often leave them.
 */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") present[key] = value;
  }
  const parsed = EnvSchema.safeParse(present);
  const auth = readApiKeys(env);
  const secrets = readSecretDeclarations(env, parsed.data?.JETQ_HTTP_ALLOWED_HOSTS);
  auth.problems.push(...secrets.problems);
  const webhook = readWebhookKey(env);
  auth.problems.push(...webhook.problems);
  if (!parsed.success || auth.problems.length > 0) {
    const lines = (parsed.error?.issues ?? []).map((issue) => {
      const key = String(issue.path[0] ?? "?");
      return `  ${key}=${JSON.stringify(present[key] ?? "")}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${[...lines, ...auth.problems].join("\n")}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    natsServers: e.NATS_URL,
    logLevel: e.JETQ_LOG_LEVEL,
    logFormat: e.JETQ_LOG_FORMAT,
    concurrency: e.JETQ_CONCURRENCY,
    ackWaitMs: e.JETQ_ACK_WAIT_MS,
    maxAttempts: e.JETQ_MAX_ATTEMPTS,
    maxLostLeases: e.JETQ_MAX_LOST_LEASES,
    shutdownGraceMs: e.JETQ_SHUTDOWN_GRACE_MS,
    storage: e.JETQ_STORAGE,
    replicas: e.JETQ_REPLICAS,
    retentionMs: e.JETQ_RETENTION_MS,
    workers: e.JETQ_WORKERS,
    probePort: e.JETQ_PROBE_PORT,
    readMaxBytes: e.JETQ_READ_MAX_BYTES ?? e.JETQ_MAX_PAYLOAD_BYTES + REQUEST_OVERHEAD_BYTES,
    maxPayloadBytes: e.JETQ_MAX_PAYLOAD_BYTES,
    httpAllowedHosts: e.JETQ_HTTP_ALLOWED_HOSTS,
    httpLanes: {
      concurrency: e.JETQ_HTTP_LANE_CONCURRENCY,
      perTenant: e.JETQ_HTTP_LANES_PER_TENANT,
      scanMs: e.JETQ_HTTP_LANE_SCAN_MS,
    },
    secrets: secrets.declarations,
    tenantSecrets: secrets.grants,
    apiKeys: auth.keys,
    rateLimit: e.JETQ_RATE_LIMIT,
    corsOrigins: e.JETQ_CORS_ORIGINS && e.JETQ_CORS_ORIGINS.length > 0 ? e.JETQ_CORS_ORIGINS : undefined,
    logBounds: {
      maxLines: e.JETQ_LOG_MAX_LINES,
      maxLineBytes: e.JETQ_LOG_MAX_LINE_BYTES,
      maxBytes: e.JETQ_LOG_MAX_BYTES,
    },
    progressIntervalMs: e.JETQ_PROGRESS_INTERVAL_MS,
    streamCaps: { perKey: e.JETQ_MAX_STREAMS_PER_KEY, perConnection: e.JETQ_MAX_STREAMS_PER_CONNECTION },
    maxInputValues: e.JETQ_MAX_INPUT_VALUES,
    connectFastPath: e.JETQ_CONNECT_FAST_PATH,
    metrics: e.JETQ_METRICS,
    metricsMaxQueues: e.JETQ_METRICS_MAX_QUEUES,
    ui: e.JETQ_UI,
    ...(webhook.key ? { webhooks: { key: webhook.key, retryBaseMs: e.JETQ_WEBHOOK_RETRY_BASE_MS } } : {}),
    webhookAllowedHosts: e.JETQ_WEBHOOK_ALLOWED_HOSTS,
  };
}

/** For the entry points: a bad configuration ends the process with exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`jetq: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
