/**
 * startServer: the QueueService on one plaintext port, for Connect (JSON and
 * binary, GET for side-effect-free RPCs), gRPC and gRPC-Web, over HTTP/1.1
 * and h2c.
 */
import { setMaxListeners } from "node:events";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { file_grpc_health_v1_health, Health } from "../../gen/grpc/health/v1/health_pb.js";
import * as reflection from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionAlpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_jetq_v1_queue, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { createKeyStore, createRateLimiter, type ApiKeyInput, type RateLimit } from "../auth/index.js";
import type { KeyStore } from "../auth/key-store.js";
import { authenticate } from "./authenticate.js";
import type { Engine, Readiness } from "../engine/types.js";
import { silentLogger } from "../logger.js";
import type { InputValidators } from "../service/input-validators.js";
import type { LaneRegistry } from "../handlers/http/lanes.js";
import type { WebhookSubmitCheck } from "../webhooks/submit-check.js";
import { createQueueService, STATUS_STREAM_ENDS } from "../service/queue-service.js";
import { guardBinaryDecoding } from "./connect/decode-guard.js";
import { createAuthGate, passesAuthGate } from "./connect/auth-gate.js";
import { createAuthInterceptor } from "./auth-interceptor.js";
import { withCors } from "./cors.js";
import { createDrainInterceptor } from "./drain.js";
import { createHealthService } from "./health.js";
import { createLoggingInterceptor } from "./interceptors.js";
import { createMetricsInterceptor } from "./metrics-interceptor.js";
import { answerMetrics } from "./metrics-endpoint.js";
import { createMetrics, type JetqMetrics } from "../ops/metrics.js";
import { createConnectFastPath } from "./connect/fast-path.js";
import { createListener } from "./listener.js";
import { createReflectionServices } from "./reflection.js";
import { drainOversizedBodies } from "./connect/oversized.js";
import { DEFAULT_MAX_INPUT_VALUES } from "./input-values.js";
import { callContextValues, withRequestIds } from "./request-id.js";
import { createStreamCapInterceptor, DEFAULT_STREAM_CAPS, type StreamCaps } from "./stream-caps.js";
import { answerProbe, type ProbeResponse } from "./probes.js";
import { definedOnly } from "../util/defined-only.js";
import { createRestHandler } from "./rest/handler.js";
import { defaultAssetsDir, loadAssets } from "./ui/assets.js";
import { createUiHandler } from "./ui/ui-handler.js";
import { DEFAULT_SSE_KEEP_ALIVE_MS } from "./rest/status-stream.js";

export interface ServerOptions {
  engine: Engine;
  /** 0 = any free port; default 8080. */
  port?: number;
  /** Default "0.0.0.0". */
  host?: string;
  logger?: Logger;
  /** Largest request message accepted; default 16 MiB + 1 MiB for the envelope. */
  readMaxBytes?: number;
  /** How long close() lets in-flight unary calls finish before cutting connections; default 5000. */
  closeGraceMs?: number;
  /** API keys; none (the default) = every caller may call every RPC, as tenant "". */
  apiKeys?: readonly ApiKeyInput[];
  /** Default per-key rate limit (keys may override it); unset = no limit. */
  rateLimit?: RateLimit;
  /** Origins browsers may call from (CORS); unset or empty = no CORS headers. */
  corsOrigins?: readonly string[];
  /** Open streams per API key and per connection (defaults: stream-caps.ts). */
  streamCaps?: Partial<StreamCaps>;
  /** Most JSON values a job input may hold; default 100,000 (input-values.ts). */
  maxInputValues?: number;
  /** Submit-time input checks by queue (e.g. the built-in `http` queue's). */
  inputValidators?: InputValidators;
  /** Caller-named http queues made on first Submit (handlers/http/lanes.ts); unset = refused. */
  lanes?: LaneRegistry;
  /** Submit's check of a job's webhook_url (webhooks/submit-check.ts); unset = webhook_url is refused. */
  webhookCheck?: WebhookSubmitCheck;
  /** Serve the common Connect calls on the fast path (connect/fast-path.ts); default true. */
  connectFastPath?: boolean;
  /** Keep-alive comment on an idle REST event stream every this many ms; default 15,000 (rest/status-stream.ts). */
  sseKeepAliveMs?: number;
  /**
   * GET /metrics (ops/metrics.ts). Unset: this server's own registry, with
   * job series of `engine` and its queue gauges. Given: that registry (the
   * server observes `engine` with it too, and leaves closing it to the
   * caller). false: no /metrics, no RPC series.
   */
  metrics?: JetqMetrics | false;
  /**
   * The web dashboard at /ui/ (ui/ui-handler.ts), and GET / redirecting to
   * it. Default true: the files `npm run build` made (packages/dashboard/dist).
   * { dir }: the built files from there. false: neither.
   */
  ui?: boolean | { dir: string };
}

export interface RunningServer {
  /** http://127.0.0.1:<port> (or the host given, when it is not a wildcard). */
  readonly url: string;
  readonly port: number;
  /** Calls the Connect fast path (connect/fast-path.ts) took, for tests and diagnostics. */
  readonly fastPathCalls: number;
  /**
   * Starts the shutdown without closing anything: readiness fails at once
   * (/readyz 503, health NOT_SERVING) and, on the embedded engine, Submits
   * are refused UNAVAILABLE; everything else is served until close().
   */
  drain(): void;
  /** drain(), then ends open streams with UNAVAILABLE and closes the listener. */
  close(): Promise<void>;
}

export const DEFAULT_READ_MAX_BYTES = 17 * 1024 * 1024;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? silentLogger();
  const host = options.host ?? "0.0.0.0";
  // Aborting it aborts every handler context, which ends open StreamStatus
  // streams with this error: clients see UNAVAILABLE and know to retry.
  const shutdown = new AbortController();
  // connect-es links every call it serves (gRPC streams too) to it.
  setMaxListeners(0, shutdown.signal);

  const health = createHealthService([QueueService.typeName], options.engine);
  let draining = false;
  // A job accepted now would die with this process on the embedded engine;
  // JetStream keeps it for the other instances.
  const refuseSubmits = () => draining && options.engine.kind === "memory";
  const keys = createKeyStore(options.apiKeys ?? []);
  const auth = createAuthInterceptor({ keys, rateLimit: options.rateLimit, limiter: createRateLimiter(), logger });
  const metrics = metricsOf(options);
  const routerOptions = routerOptionsOf(options, {
    keys,
    auth,
    logger,
    refuseSubmits,
    shutdown: shutdown.signal,
    metrics: metrics?.metrics,
  });
  const queueService = createQueueService(options.engine, {
    logger,
    inputValidators: options.inputValidators,
    lanes: options.lanes,
    webhookCheck: options.webhookCheck,
  });
  const routes = (router: ConnectRouter) => {
    router.service(QueueService, queueService);
    router.service(Health, health.service);
    serveReflection(router);
    guardBinaryDecoding(router, {
      ...routerOptions,
      admitted: (service, header) => passesAuthGate(keys, service, header),
    });
  };
  const handler = connectNodeAdapter({
    routes,
    ...routerOptions,
    fallback: (req, res) => answerMetrics(req, res, metrics?.metrics) || answerOtherPaths(req, res, health.readiness),
  });

  const fastPath = fastPathFor(queueService, routerOptions, keys);
  const pagesAndRest = pagesAndRestOf(options, keys, queueService, routerOptions, logger);
  let fastPathCalls = 0;
  const serve: typeof handler = (req, res) => {
    if (pagesAndRest(req, res)) return;
    if (options.connectFastPath !== false && fastPath(req, res)) fastPathCalls += 1;
    else handler(req, res);
  };

  const readMaxBytes = routerOptions.readMaxBytes;
  const listener = createListener({
    // The request id first: every answer (CORS refusals and oversized bodies too) echoes it.
    handler: withRequestIds(withCors(drainOversizedBodies(serve, 4 * readMaxBytes), options.corsOrigins)),
    logger,
  });
  const port = await listener.listen(options.port ?? 8080, host);
  const url = urlOf(host, port);

  const drain = () => {
    if (draining) return;
    draining = true;
    health.drain();
    logDrain(logger, refuseSubmits());
  };
  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    get fastPathCalls() {
      return fastPathCalls;
    },
    drain,
    close() {
      closed ??= (async () => {
        drain();
        health.close();
        shutdown.abort(new ConnectError("server is shutting down; retry on another instance", Code.Unavailable));
        await listener.close(options.closeGraceMs ?? 5_000);
        if (metrics?.owned) metrics.metrics.close();
      })();
      return closed;
    },
  };
}

/** REST and SSE (rest/): the same service through the same interceptors, on its own paths. */
function restHandlerOf(
  options: ServerOptions,
  keys: KeyStore,
  impl: ReturnType<typeof createQueueService>,
  routerOptions: ReturnType<typeof routerOptionsOf>,
) {
  return createRestHandler({
    impl,
    interceptors: routerOptions.interceptors,
    contextValues: callContextValues,
    shutdownSignal: routerOptions.shutdownSignal,
    readMaxBytes: routerOptions.readMaxBytes,
    maxInputValues: routerOptions.maxInputValues,
    keepAliveMs: options.sseKeepAliveMs ?? DEFAULT_SSE_KEEP_ALIVE_MS,
    ...(keys.enabled ? { authenticate: (authorization: string | undefined) => authenticate(keys, authorization) } : {}),
  });
}

/** The dashboard's paths (when on), then REST's: true when one of them answered. */
function pagesAndRestOf(
  options: ServerOptions,
  keys: KeyStore,
  impl: ReturnType<typeof createQueueService>,
  routerOptions: ReturnType<typeof routerOptionsOf>,
  logger: Logger,
): ReturnType<typeof restHandlerOf> {
  const rest = restHandlerOf(options, keys, impl, routerOptions);
  const ui = uiHandlerOf(options, keys, logger);
  return ui ? (req, res) => ui(req, res) || rest(req, res) : rest;
}

/** The dashboard's handler, or undefined when it is off. A missing build is said once, at start. */
function uiHandlerOf(options: ServerOptions, keys: KeyStore, logger: Logger) {
  if (options.ui === false) return undefined;
  const dir = typeof options.ui === "object" ? options.ui.dir : defaultAssetsDir();
  const assets = loadAssets(dir);
  if (assets.size === 0) {
    logger.warn({ dir }, "dashboard: no built files (run `npm run build`); /ui/ answers 503 until they exist");
  }
  return createUiHandler(assets, keys);
}

interface Shared {
  keys: KeyStore;
  auth: Interceptor;
  logger: Logger;
  refuseSubmits: () => boolean;
  shutdown: AbortSignal;
  metrics: JetqMetrics | undefined;
}

/** The server's metrics, observing its engine; owned: made here, so closed with the server. */
function metricsOf(options: ServerOptions): { metrics: JetqMetrics; owned: boolean } | undefined {
  if (options.metrics === false) return undefined;
  const owned = options.metrics === undefined;
  const metrics = options.metrics ?? createMetrics({ queueCounts: { engine: options.engine } });
  metrics.observe(options.engine);
  return { metrics, owned };
}

/** What connect-es's router and the Connect fast path are both set up with. */
function routerOptionsOf(options: ServerOptions, shared: Shared) {
  return {
    connect: true,
    grpc: true,
    grpcWeb: true,
    readMaxBytes: options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    maxInputValues: options.maxInputValues ?? DEFAULT_MAX_INPUT_VALUES,
    shutdownSignal: shared.shutdown,
    interceptors: [
      // First: calls the others refuse are counted too.
      ...(shared.metrics ? [createMetricsInterceptor(shared.metrics.rpc)] : []),
      createLoggingInterceptor(shared.logger),
      createDrainInterceptor(shared.refuseSubmits),
      shared.auth,
      createStreamCapInterceptor({ ...DEFAULT_STREAM_CAPS, ...definedOnly(options.streamCaps ?? {}) }),
    ],
    contextValues: callContextValues,
    // Callers without a valid key are refused before their body is read (connect/auth-gate.ts).
    requestGate: createAuthGate(shared.keys, shared.logger),
    acceptCompression: [compressionGzip, compressionBrotli],
    // JSON answers show zero values too ({"removed": false}, {"inQueue": 0}):
    // curl users should not have to know proto3 omits defaults.
    jsonOptions: { alwaysEmitImplicit: true },
  };
}

/**
 * Plain HTTP for probes that cannot speak gRPC (wget/curl healthchecks), and
 * a hint instead of an empty 404 for someone poking at the port.
 */
function answerOtherPaths(req: { url?: string }, res: ProbeResponse, readiness: () => Readiness): void {
  if (answerProbe(req, res, readiness)) return;
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
  res.end(
    "jetq: this port serves jetq.v1.QueueService over Connect, gRPC and gRPC-Web " +
      "(e.g. POST /jetq.v1.QueueService/Submit), REST and Server-Sent Events under /queue/ (GET /openapi.json), " +
      "grpc.health.v1.Health, GET /healthz (alive), GET /readyz (can serve), GET /metrics (Prometheus) " +
      "and the dashboard at GET /ui/ (unless JETQ_UI=false)\n",
  );
}

/** How this process reaches the server: a wildcard host is reached on 127.0.0.1. */
function urlOf(host: string, port: number): string {
  const wildcard = host === "0.0.0.0" || host === "::" || host === "";
  const urlHost = wildcard ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return `http://${urlHost}:${port}`;
}

function logDrain(logger: Logger, refusingSubmits: boolean): void {
  logger.info(
    { refusingSubmits },
    refusingSubmits
      ? "draining: not ready; Submits are refused (embedded engine)"
      : "draining: not ready; Submits are still accepted (JetStream keeps them)",
  );
}

/** gRPC server reflection of what this port serves (reflection.ts). */
function serveReflection(router: ConnectRouter): void {
  const reflected = createReflectionServices([file_jetq_v1_queue, file_grpc_health_v1_health]);
  router.service(reflection.ServerReflection, reflected.v1);
  router.service(reflectionAlpha.ServerReflection, reflected.v1alpha);
}

/**
 * The Connect fast path (connect/fast-path.ts) over the same service,
 * interceptors and limits as connect-es's routes.
 */
function fastPathFor(
  queueService: ReturnType<typeof createQueueService>,
  routerOptions: ReturnType<typeof routerOptionsOf>,
  keys: KeyStore,
) {
  return createConnectFastPath({
    service: QueueService,
    impl: queueService,
    interceptors: routerOptions.interceptors,
    readMaxBytes: routerOptions.readMaxBytes,
    jsonOptions: routerOptions.jsonOptions,
    shutdownSignal: routerOptions.shutdownSignal,
    contextValues: callContextValues,
    maxInputValues: routerOptions.maxInputValues,
    lastMessage: STATUS_STREAM_ENDS,
    // A caller without a valid key goes the way of the request gate (connect/auth-gate.ts): its body is never read.
    ...(keys.enabled ? { admit: (authorization: string | undefined) => authenticate(keys, authorization).ok } : {}),
  });
}
