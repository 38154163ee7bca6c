/**
 * Errors the engines throw: an EngineError with a code of the engine's own,
 * a message for whoever called, and the cause. The layer that serves a
 * protocol (src/service/ for Connect) maps the code to its own.
 */

/** What went wrong, in engine terms; a caller decides what to do from this alone. */
export type EngineErrorCode =
  /** The request is malformed: a bad queue name, job id or option. Retrying cannot help. */
  | "invalid_argument"
  /** The job or queue does not exist (or the caller may not see it). */
  | "not_found"
  /** The job is not in a state that allows it (a result of a job still running). */
  | "failed_precondition"
  /** A limit is reached: a payload over the size limit, too many values. */
  | "resource_exhausted"
  /** The backend cannot be reached or could not do it now; retrying may help. */
  | "unavailable";

export interface EngineErrorOptions {
  cause?: unknown;
}

export class EngineError extends Error {
  override name = "EngineError";
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options: EngineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when err is an EngineError, with `code` if given. */
export function isEngineError(err: unknown, code?: EngineErrorCode): err is EngineError {
  return err instanceof EngineError && (code === undefined || err.code === code);
}

export const invalidArgument = (message: string) => new EngineError("invalid_argument", message);
export const notFound = (message: string) => new EngineError("not_found", message);
export const failedPrecondition = (message: string) => new EngineError("failed_precondition", message);
export const resourceExhausted = (message: string) => new EngineError("resource_exhausted", message);
export const unavailable = (message: string, cause?: unknown) => new EngineError("unavailable", message, { cause });
export const jobNotFound = (id: string) => notFound(`job "${id}" not found`);
export const queueNotFound = (queue: string) =>
  notFound(`queue "${queue}" not found: no worker or configuration declares it`);

// ------------------------------------------------------------ policies
// One wording for both engines (the conformance suite compares them).

/** "24h", "90m", "5s", "1500 ms": how retention and limits read in messages. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms} ms`;
}

/**
 * A job that existed but is gone: its terminal record outlived the retention.
 * `setting` is how the reader knows the retention option (settings.ts).
 */
export const jobExpiredNotFound = (id: string, retentionMs: number, setting: string) =>
  notFound(
    `job "${id}" not found: it may have expired after the retention of ${formatDuration(retentionMs)} (${setting}); finished jobs and their results are kept that long`,
  );

/** UTF-8 size of a JSON text, cheaply when it is clearly under the limit. */
export function payloadBytes(json: string, limit: number): number {
  return json.length * 3 <= limit ? json.length : Buffer.byteLength(json);
}

/** `setting`: how the reader knows the payload limit option (settings.ts). */
export const inputTooLarge = (bytes: number, limit: number, setting: string) =>
  resourceExhausted(
    `input: ${bytes} bytes is over the limit of ${limit} bytes (${setting}); store large data elsewhere and pass a reference`,
  );

/** The job error of an attempt whose output is over the payload limit. */
export const outputTooLarge = (bytes: number, limit: number, setting: string) => ({
  code: "OUTPUT_TOO_LARGE",
  message: `the job's output is ${bytes} bytes, over the limit of ${limit} bytes (${setting}); store large results elsewhere and return a reference`,
});
