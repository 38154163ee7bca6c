/**
 * What every SDK operation shares: the generated client, the headers of
 * each call (the API key), and retries of calls that are safe to repeat.
 */
import { Code, type CallOptions, type Client } from "@connectrpc/connect";
import { toJetqError } from "./errors.js";
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
 * shutdown) or overloaded. fetch's network errors arrive as UNKNOWN.
 */
const TRANSIENT = new Set([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
  Code.Canceled,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
]);

export function isTransient(code: Code): boolean {
  return TRANSIENT.has(code);
}

/**
 * Fields every StreamStatus and SubmitAndStream request carries besides the
 * id (or the job) and include_logs. outputOf() (outcome.ts) reads the
 * output from the terminal message when a server puts it there, and asks
 * GetResult otherwise; a server that knows include_output wants
 * `{ includeOutput: true }` here.
 */
export const STREAM_FIELDS = {} as const;

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
    try {
      return await call();
    } catch (err) {
      if (scope.signal.aborted) throw scope.error(jobId);
      const e = toJetqError(err, jobId);
      if (!isTransient(e.code) || attempt >= UNARY_ATTEMPTS) throw e;
    }
    try {
      await sleep(backoffMs(attempt), scope.signal);
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
