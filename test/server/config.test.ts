import { expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config.js";

it("has defaults for everything", () => {
  expect(parseConfig({})).toEqual({
    port: 8080,
    host: "0.0.0.0",
    natsServers: undefined,
    logLevel: "info",
    concurrency: 16,
    ackWaitMs: 30_000,
    maxAttempts: 1,
    maxLostLeases: 5,
    shutdownGraceMs: 10_000,
    storage: "file",
    replicas: 1,
    retentionMs: 86_400_000,
    workers: true,
    readMaxBytes: 17 * 1024 * 1024,
    maxPayloadBytes: 16 * 1024 * 1024,
    secrets: [],
    httpLanes: { concurrency: 1, perTenant: 20, scanMs: 2_000 },
    logBounds: { maxLines: 1_000, maxLineBytes: 4096, maxBytes: 256 * 1024 },
    progressIntervalMs: 100,
    streamCaps: { perKey: 1_000, perConnection: 2_500 },
    maxInputValues: 100_000,
    connectFastPath: true,
    webhookAllowedHosts: [],
    metrics: true,
    metricsMaxQueues: 100,
    ui: true,
  });
});

it("JETQ_UI=false turns the dashboard off; a bad value is named", () => {
  expect(parseConfig({ JETQ_UI: "false" }).ui).toBe(false);
  expect(() => parseConfig({ JETQ_UI: "off" })).toThrow('JETQ_UI="off"');
});

it("reads the webhook settings; a malformed JETQ_WEBHOOK_SECRET stops start-up without showing it", () => {
  const key = Buffer.alloc(24, 3);
  const c = parseConfig({
    JETQ_WEBHOOK_SECRET: `whsec_${key.toString("base64")}`,
    JETQ_WEBHOOK_ALLOWED_HOSTS: "127.0.0.1, Hooks.Internal,[::1]",
    JETQ_WEBHOOK_RETRY_BASE_MS: "200",
  });
  expect(c.webhooks).toEqual({ key, retryBaseMs: 200 });
  expect(c.webhookAllowedHosts).toEqual(["127.0.0.1", "hooks.internal", "[::1]"]);
  expect(parseConfig({}).webhooks).toBeUndefined();
  let message = "";
  try {
    parseConfig({ JETQ_WEBHOOK_SECRET: "hunter2-not-a-secret" });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toContain('JETQ_WEBHOOK_SECRET (value not shown): must start with "whsec_"');
  expect(message).not.toContain("hunter2");
  expect(() => parseConfig({ JETQ_WEBHOOK_ALLOWED_HOSTS: "*.example.com" })).toThrow("JETQ_WEBHOOK_ALLOWED_HOSTS");
});

it("JETQ_METRICS=false turns /metrics off; JETQ_METRICS_MAX_QUEUES bounds the queue labels, and a bad value is named", () => {
  expect(parseConfig({ JETQ_METRICS: "false" }).metrics).toBe(false);
  expect(parseConfig({ JETQ_METRICS_MAX_QUEUES: "7" }).metricsMaxQueues).toBe(7);
  expect(() => parseConfig({ JETQ_METRICS: "maybe" })).toThrow('JETQ_METRICS="maybe"');
  expect(() => parseConfig({ JETQ_METRICS_MAX_QUEUES: "0" })).toThrow(
    'JETQ_METRICS_MAX_QUEUES="0": must be at least 1',
  );
});

it("JETQ_CONNECT_FAST_PATH=false sends every call through connect-es", () => {
  expect(parseConfig({ JETQ_CONNECT_FAST_PATH: "false" }).connectFastPath).toBe(false);
  expect(() => parseConfig({ JETQ_CONNECT_FAST_PATH: "off" })).toThrow('JETQ_CONNECT_FAST_PATH="off"');
});

it("reads the log, progress and stream limits, and names a bad one", () => {
  const c = parseConfig({
    JETQ_LOG_MAX_LINES: "50",
    JETQ_LOG_MAX_LINE_BYTES: "512",
    JETQ_LOG_MAX_BYTES: "65536",
    JETQ_PROGRESS_INTERVAL_MS: "0",
    JETQ_MAX_STREAMS_PER_KEY: "10",
    JETQ_MAX_STREAMS_PER_CONNECTION: "20",
  });
  expect(c.logBounds).toEqual({ maxLines: 50, maxLineBytes: 512, maxBytes: 65536 });
  expect(c.progressIntervalMs).toBe(0);
  expect(c.streamCaps).toEqual({ perKey: 10, perConnection: 20 });
  expect(() => parseConfig({ JETQ_LOG_MAX_LINES: "0" })).toThrow('JETQ_LOG_MAX_LINES="0": must be at least 1');
  expect(() => parseConfig({ JETQ_MAX_STREAMS_PER_KEY: "lots" })).toThrow(
    'JETQ_MAX_STREAMS_PER_KEY="lots": must be a whole number',
  );
});

it("collects JETQ_SECRET_<NAME> variables as secrets and the http handler's hosts", () => {
  const c = parseConfig({
    JETQ_SECRET_CLIENT_SECRET: "sk-1",
    JETQ_SECRET_: "ignored: no name",
    JETQ_HTTP_ALLOWED_HOSTS: "api.example.com, *.example.org,127.0.0.1:8443",
  });
  expect(c.secrets).toEqual([{ name: "CLIENT_SECRET", value: "sk-1" }]);
  expect(c.httpAllowedHosts).toEqual(["api.example.com", "*.example.org", "127.0.0.1:8443"]);
  expect(() => parseConfig({ JETQ_HTTP_ALLOWED_HOSTS: "https://api.example.com/v1" })).toThrow(
    /JETQ_HTTP_ALLOWED_HOSTS/,
  );
});

it("parses every variable, empty ones counting as unset", () => {
  const c = parseConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    NATS_URL: "nats://a:4222, nats://b:4222",
    JETQ_LOG_LEVEL: "DEBUG",
    JETQ_CONCURRENCY: "4",
    JETQ_ACK_WAIT_MS: "5000",
    JETQ_MAX_ATTEMPTS: "3",
    JETQ_MAX_LOST_LEASES: "0",
    JETQ_SHUTDOWN_GRACE_MS: "0",
    JETQ_STORAGE: "memory",
    JETQ_REPLICAS: "3",
    JETQ_RETENTION_MS: "60000",
    JETQ_WORKERS: "false",
    JETQ_READ_MAX_BYTES: "",
  });
  expect(c).toMatchObject({
    port: 0,
    host: "127.0.0.1",
    natsServers: ["nats://a:4222", "nats://b:4222"],
    logLevel: "debug",
    concurrency: 4,
    ackWaitMs: 5000,
    maxAttempts: 3,
    maxLostLeases: 0,
    shutdownGraceMs: 0,
    storage: "memory",
    replicas: 3,
    retentionMs: 60000,
    workers: false,
    readMaxBytes: 17 * 1024 * 1024,
  });
});

it("names every bad variable and what it allows", () => {
  let error: unknown;
  try {
    parseConfig({
      PORT: "70000",
      JETQ_STORAGE: "disk",
      JETQ_WORKERS: "maybe",
      JETQ_CONCURRENCY: "1.5",
      JETQ_MAX_LOST_LEASES: "101",
    });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  expect(message).toContain('PORT="70000": must be at most 65535');
  expect(message).toContain('JETQ_STORAGE="disk": must be "file" or "memory"');
  expect(message).toContain('JETQ_WORKERS="maybe": must be "true" or "false"');
  expect(message).toContain('JETQ_CONCURRENCY="1.5": must be a whole number');
  expect(message).toContain('JETQ_MAX_LOST_LEASES="101": must be at most 100');
});

it("reads the lanes' settings and refuses a lane concurrency of 0", () => {
  const config = parseConfig({
    JETQ_HTTP_LANE_CONCURRENCY: "2",
    JETQ_HTTP_LANES_PER_TENANT: "0",
    JETQ_HTTP_LANE_SCAN_MS: "500",
  });
  expect(config.httpLanes).toEqual({ concurrency: 2, perTenant: 0, scanMs: 500 });
  expect(parseConfig({}).httpLanes.scanMs).toBe(2_000);
  expect(() => parseConfig({ JETQ_HTTP_LANE_CONCURRENCY: "0" })).toThrow(/JETQ_HTTP_LANE_CONCURRENCY/);
  expect(() => parseConfig({ JETQ_HTTP_LANE_SCAN_MS: "10" })).toThrow(/JETQ_HTTP_LANE_SCAN_MS/);
});
