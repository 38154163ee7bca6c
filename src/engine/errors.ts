/**
 * Errors the engines throw. They are ConnectErrors so the code a client sees is
 * decided where the failure is understood, and the service passes them through.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export const invalidArgument = (message: string) =>
  new ConnectError(message, Code.InvalidArgument);
export const notFound = (message: string) =>
  new ConnectError(message, Code.NotFound);
export const failedPrecondition = (message: string) =>
  new ConnectError(message, Code.FailedPrecondition);
export const resourceExhausted = (message: string) =>
  new ConnectError(message, Code.ResourceExhausted);
export const unavailable = (message: string, cause?: unknown) =>
  new ConnectError(message, Code.Unavailable, undefined, undefined, cause);

export const jobNotFound = (id: string) => notFound(`job "${id}" not found`);
export const queueNotFound = (queue: string) =>
  notFound(
    `queue "${queue}" not found: no worker or configuration declares it`,
  );

// ------------------------------------------------------------ policies
// One wording for both engines (the conformance suite compares them).

/** "24h", "90m", "5s", "1500 ms": how retention and limits read in messages. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms} ms`;
}

/** A job that existed but is gone: its terminal record outlived the retention. */
export const jobExpiredNotFound = (id: string, retentionMs: number) =>
  notFound(
    `job "${id}" not found: it may have expired after the retention of ${formatDuration(retentionMs)} (JETQ_RETENTION_MS); finished jobs and their results are kept that long`,
  );

/** UTF-8 size of a JSON text, cheaply when it is clearly under the limit. */
export function payloadBytes(json: string, limit: number): number {
  return json.length * 3 <= limit ? json.length : Buffer.byteLength(json);
}

export const inputTooLarge = (bytes: number, limit: number) =>
  resourceExhausted(
    `input: ${bytes} bytes is over the limit of ${limit} bytes (JETQ_MAX_PAYLOAD_BYTES); store large data elsewhere and pass a reference`,
  );

/** The job error of an attempt whose output is over the payload limit. */
export const outputTooLarge = (bytes: number, limit: number) => ({
  code: "OUTPUT_TOO_LARGE",
  message: `the job's output is ${bytes} bytes, over the limit of ${limit} bytes (JETQ_MAX_PAYLOAD_BYTES); store large results elsewhere and return a reference`,
});
