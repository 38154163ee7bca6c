/**
 * @jetq/client: submit JSON jobs to jetq, follow them to the end, get their
 * output. The generated Connect code for jetq.v1 is at
 * "@jetq/client/gen/jetq/v1/queue_pb.js" for calls the SDK does not cover.
 */
export { createJetqClient } from "./client.js";
export type { JetqClient, JetqClientOptions, SubscribeOptions } from "./client.js";
export type {
  CancelClientSecretRequest,
  ClientSecretCallbacks,
  ClientSecretError,
  ClientSecretMethods,
  ClientSecretPollOptions,
  ClientSecretRequest,
  ClientSecretRequestHandle,
  ClientSecretResponse,
} from "./client-secret.js";
export type { CallOpts, JobHandle, PollOpts, Poller, StatusOpts, StreamOpts, WaitOpts } from "./handle.js";
export type { ControlMethods, JobsOptions, ListJobsOptions } from "./control.js";
export type { WatchJobsOptions } from "./watch.js";
export { JetqError, JobError } from "./errors.js";
export { Code } from "@connectrpc/connect";
export { isTerminal } from "./types.js";
export type {
  BatchItem,
  BatchItemError,
  BatchResult,
  CancelResult,
  FinishedCounts,
  Job,
  JobAttempt,
  JobOptions,
  JobPage,
  JobOutput,
  JobResult,
  JobState,
  JsonValue,
  LogEntry,
  LogLevel,
  QueueCount,
  QueueInfo,
  QueueState,
  SubmitOptions,
} from "./types.js";
export type { ScopeOptions } from "./scope.js";
