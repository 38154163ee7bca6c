/**
 * The life of one SDK operation: the caller's signal and timeoutMs folded
 * into one AbortSignal that every call of the operation uses, and the error
 * the operation rejects with when it ends early.
 */
import { Code } from "@connectrpc/connect";
import { JetqError } from "./errors.js";

export interface ScopeOptions {
  signal?: AbortSignal | undefined;
  /** Whole operation, in milliseconds (retries, reconnects and waits included). */
  timeoutMs?: number | undefined;
}

export interface Scope {
  readonly signal: AbortSignal;
  /** Why the scope ended (caller's abort or timeoutMs), as the operation's error. */
  error(jobId: string | undefined): JetqError;
  dispose(): void;
}

export function openScope(what: string, options: ScopeOptions): Scope {
  const { signal, timeoutMs } = options;
  if (timeoutMs !== undefined && !(timeoutMs > 0)) {
    throw new RangeError(`${what}: timeoutMs must be a number over 0, got ${String(timeoutMs)}`);
  }
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(signal?.reason);
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort(new Error(`${what}: timeoutMs (${timeoutMs}) passed`));
        }, timeoutMs);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    error(jobId) {
      const on = jobId === undefined ? "" : ` (job ${jobId} goes on: follow it with client.job(id) or cancel it)`;
      const opts = { cause: controller.signal.reason as unknown, ...(jobId === undefined ? {} : { jobId }) };
      return timedOut
        ? new JetqError(Code.DeadlineExceeded, `${what}: no outcome within timeoutMs (${timeoutMs} ms)${on}`, opts)
        : new JetqError(Code.Canceled, `${what}: aborted by the caller's signal${on}`, opts);
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** Resolves after ms; rejects at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Delay before retry n (from 1): 250 ms doubling to 5 s, with ±20% jitter. */
export function backoffMs(n: number): number {
  const base = Math.min(250 * 2 ** Math.max(0, n - 1), 5_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
