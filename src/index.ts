/**
 * jetq's public API. Everything a consumer may rely on is listed here by
 * name; anything else is internal and may change.
 */

// Engines
export { createNatsEngine } from "./engine/nats/index.js";
export type { NatsEngineOptions } from "./engine/nats/index.js";
export { createMemoryEngine } from "./engine/memory/index.js";
export type { MemoryEngineOptions } from "./engine/memory/index.js";
export { DEFAULT_QUEUE_CONFIG, isTerminal } from "./engine/types.js";
export { EngineError, isEngineError } from "./engine/errors.js";
export type { EngineErrorCode } from "./engine/errors.js";
export type { EngineSetting, SettingNames } from "./engine/settings.js";
export type {
  CancelOutcome,
  Engine,
  EngineStats,
  FailOptions,
  FetchOptions,
  JobError,
  JobLease,
  JobOptions,
  JobResult,
  JobState,
  JobStatus,
  LogEntry,
  LogLevel,
  QueueConfig,
  QueueCounts,
  Readiness,
  ReadOptions,
  SubmitInput,
  TraceContext,
  WatchOptions,
} from "./engine/types.js";

// Server
export { startServer } from "./server/server.js";
export type { RunningServer, ServerOptions } from "./server/server.js";

// Metrics (README "Operations")
export { createMetrics } from "./ops/metrics.js";
export type { JetqMetrics, MetricsOptions } from "./ops/metrics.js";

// Workers and handlers
export { createWorker, PermanentError } from "./worker/index.js";
export type { Handler, JobContext, QueueRegistration, Worker, WorkerOptions } from "./worker/index.js";
export { echo, builtinHandlers } from "./handlers/index.js";
export { createHttpHandler, createHttpSubmitCheck } from "./handlers/http/index.js";
export type { HttpHandlerOptions, HttpSubmitCheckOptions, SecretDeclaration } from "./handlers/http/index.js";
export type { InputValidator, InputValidators } from "./service/input-validators.js";
export type { ApiKeyInput, RateLimit, Role } from "./auth/index.js";

// Testing
export { startTestServer } from "./testing.js";
export type { TestServer, TestServerOptions } from "./testing.js";

// The contract: service descriptor and message schemas
export {
  QueueService,
  JobState as JobStateProto,
  LogLevel as LogLevelProto,
  JobSchema,
  JobErrorSchema,
  LogEntrySchema,
  JobOptionsSchema,
  SubmitRequestSchema,
  SubmitAndStreamRequestSchema,
  GetStatusRequestSchema,
  StreamStatusRequestSchema,
  GetResultRequestSchema,
  GetResultResponseSchema,
  CancelRequestSchema,
  CancelResponseSchema,
  QueueCountRequestSchema,
  QueueCountResponseSchema,
} from "../gen/jetq/v1/queue_pb.js";
export type {
  Job,
  JobError as JobErrorMessage,
  LogEntry as LogEntryMessage,
  JobOptions as JobOptionsMessage,
  SubmitRequest,
  SubmitAndStreamRequest,
  GetStatusRequest,
  StreamStatusRequest,
  GetResultRequest,
  GetResultResponse,
  CancelRequest,
  CancelResponse,
  QueueCountRequest,
  QueueCountResponse,
} from "../gen/jetq/v1/queue_pb.js";
