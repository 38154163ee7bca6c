/**
 * What every SDK operation shares: the generated client, the headers of
 * each call (the API key), and retries of calls that are safe to repeat.
 */
import { Code, type CallOptions, type Client } from "@connectrpc/connect";
import { toJetqError, type JetqError } from "./errors.js";
import type { QueueService } from "./gen/jetq/v1/queue_pb.js";
import { backoffMs, sleep, type Scope } from "./scope.js";

export interface Rpc {
  readonly client: Client<typeof QueueService>;
  readonly headers: Record<string, string>;
  /** GetStatus interval when streams cannot be used. */
  readonly pollIntervalMs: number;
}

/**
 * Codes after which the same call may work again: the server or a proxy
 * in between was unreachable, restarting (its streams end CANCELED on
 * shutdown) or slow. fetch's network errors arrive as UNKNOWN.
 */
const TRANSIENT = new Set([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
  Code.Canceled,
  Code.DeadlineExceeded,
]);

/** The server's stream caps (JETQ_MAX_STREAMS_PER_KEY / _PER_CONNECTION). */
function isStreamCap(e: JetqError): boolean {
  return e.code === Code.ResourceExhausted && e.rawMessage.startsWith("too many open streams");
}

/** A rate limit says when to come back; other RESOURCE_EXHAUSTED (input too large) never passes on a retry. */
function rateLimitWaitMs(e: JetqError): number | undefined {
  if (e.code !== Code.ResourceExhausted) return undefined;
  const ms = Number(e.metadata.get("retry-after-ms") ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const s = Number(e.metadata.get("retry-after") ?? Number.NaN);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** How long to wait before trying again after retry n (from 1), or undefined when a retry cannot help. */
export function retryDelayMs(e: JetqError, n: number): number | undefined {
  if (TRANSIENT.has(e.code) || isStreamCap(e)) return backoffMs(n);
  const wait = rateLimitWaitMs(e);
  return wait === undefined ? undefined : Math.max(wait, backoffMs(1));
}

/** Streams are refused (a proxy without them, the stream caps): poll instead. */
export function streamsRefused(e: JetqError): boolean {
  return e.code === Code.Unimplemented || isStreamCap(e);
}

/**
 * Fields every StreamStatus and SubmitAndStream request carries besides the
 * id (or the job) and include_logs: the terminal message then carries the
 * output, so "submit and wait" is one call. outputOf() (outcome.ts) falls
 * back to GetResult when a server too old to know include_output leaves it out.
 */
export const STREAM_FIELDS = { includeOutput: true } as const;

/** Unary calls made inside a long operation retry this often before giving up. */
const UNARY_ATTEMPTS = 4;

export function callOptions(rpc: Rpc, scope: Scope): CallOptions {
  return { signal: scope.signal, headers: rpc.headers };
}

/**
 * A call that is safe to repeat (a read, or a write with an idempotency
 * key), retried with backoff on transient errors; errors as JetqError.
 */
export async function retrying<T>(scope: Scope, jobId: string | undefined, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let delay: number | undefined;
    try {
      return await call();
    } catch (err) {
      if (scope.signal.aborted) throw scope.error(jobId);
      const e = toJetqError(err, jobId);
      delay = retryDelayMs(e, attempt);
      if (delay === undefined || attempt >= UNARY_ATTEMPTS) throw e;
    }
    try {
      await sleep(delay, scope.signal);
    } catch {
      throw scope.error(jobId);
    }
  }
}

/** An idempotency key for callers that gave none, so a retried submit cannot make a second job. */
export function randomKey(): string {
  const c = globalThis.crypto;
  // randomUUID needs a secure context in browsers; getRandomValues does not.
  if (typeof c.randomUUID === "function") return `sdk-${c.randomUUID()}`;
  const bytes = c.getRandomValues(new Uint8Array(16));
  return `sdk-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
