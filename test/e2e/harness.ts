/**
 * Shared plumbing of the end-to-end suite: one jetq per engine per file, bounded
 * waits, and conversions between JSON and the wire's google.protobuf.Value.
 */
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll } from "vitest";
import { JobState, type Job } from "../../gen/jetq/v1/queue_pb.js";
import type { EngineBackend, EngineKind } from "../helpers/engines.js";
import { startJetq, type Jetq, type JetqOptions } from "../helpers/jetq.js";
import type { QueueApi } from "./clients.js";

export interface JetqContext {
  readonly jetq: Jetq;
  readonly backend: EngineBackend;
}

/** Starts the backend and a jetq on it before the file's tests; stops both after. */
export function useJetq(kind: EngineKind, options?: JetqOptions): JetqContext {
  let backend: EngineBackend | undefined;
  let jetq: Jetq | undefined;
  beforeAll(async () => {
    backend = await kind.start();
    jetq = await startJetq(backend, options);
  });
  afterAll(async () => {
    await jetq?.close();
    await backend?.stop();
  });
  return {
    get jetq() {
      if (!jetq) throw new Error("jetq not started");
      return jetq;
    },
    get backend() {
      if (!backend) throw new Error("backend not started");
      return backend;
    },
  };
}

export const value = (json: JsonValue): Value => fromJson(ValueSchema, json);
export const json = (v: Value | undefined): JsonValue | undefined => (v ? toJson(ValueSchema, v) : undefined);

export const TERMINAL = new Set([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED]);
export const stateName = (s: JobState) => JobState[s] ?? String(s);

/** Calls fn until accept(result) holds; fails with the last result after timeoutMs. */
export async function pollUntil<T>(
  fn: () => Promise<T> | T,
  accept: (value: T) => boolean,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 25, what = "condition" } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (accept(v)) return v;
    if (Date.now() > deadline) {
      throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${describe(v)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function describe(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
  } catch {
    return String(v);
  }
}

/** Polls GetStatus until the job is terminal; returns every distinct state seen, in order. */
export async function pollToTerminal(
  client: QueueApi,
  id: string,
  timeoutMs = 15_000,
): Promise<{ states: JobState[]; last: Job }> {
  const states: JobState[] = [];
  const last = await pollUntil(
    async () => {
      const job = await client.getStatus({ id });
      if (states[states.length - 1] !== job.state) states.push(job.state);
      return job;
    },
    (job) => TERMINAL.has(job.state),
    { timeoutMs, what: `terminal state of ${id}` },
  );
  return { states, last };
}

/** Reads a whole stream, failing (not hanging) when it does not end within timeoutMs. */
export async function collectStream(
  open: (signal: AbortSignal) => AsyncIterable<Job>,
  timeoutMs = 15_000,
): Promise<Job[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const got: Job[] = [];
  try {
    for await (const job of open(ac.signal)) got.push(job);
    return got;
  } catch (err) {
    if (ac.signal.aborted) {
      throw new Error(
        `stream did not end within ${timeoutMs} ms; got ${got.map((j) => stateName(j.state)).join(", ") || "nothing"}`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The next item of an iterator, or a clear failure after timeoutMs. */
export async function nextWithin<T>(it: AsyncIterator<T>, timeoutMs: number, what: string): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Awaits a call that must fail with code; returns the error for further checks.
 * Throws plain Errors rather than using expect, so concurrent tests may call it.
 */
export async function expectCode(call: Promise<unknown> | (() => Promise<unknown>), code: Code): Promise<ConnectError> {
  try {
    await (typeof call === "function" ? call() : call);
  } catch (e) {
    const ce = ConnectError.from(e);
    if (ce.code !== code) {
      throw new Error(`expected ${Code[code]}, got ${Code[ce.code]}: ${ce.rawMessage}`, { cause: e });
    }
    return ce;
  }
  throw new Error(`expected ${Code[code]}, but the call succeeded`);
}

/** Reads a stream to its end (for streams expected to fail: wrap in expectCode). */
export async function drain(stream: AsyncIterable<Job>): Promise<Job[]> {
  const got: Job[] = [];
  for await (const job of stream) got.push(job);
  return got;
}

export interface StreamCollector {
  /** Every message so far, in arrival order. */
  readonly messages: Job[];
  /** Resolves once at least n messages arrived; fails after timeoutMs. */
  atLeast(n: number, timeoutMs?: number): Promise<Job[]>;
  /** Resolves with all messages when the stream ends; fails if it does not end in time. */
  readonly done: Promise<Job[]>;
  abort(): void;
}

/** Reads a stream in the background, so a test can act between its messages. */
export function startCollecting(
  open: (signal: AbortSignal) => AsyncIterable<Job>,
  timeoutMs = 20_000,
): StreamCollector {
  const messages: Job[] = [];
  const ac = new AbortController();
  let ended = false;
  const done = collectStream((signal) => {
    signal.addEventListener("abort", () => ac.abort());
    return (async function* () {
      for await (const m of open(ac.signal)) {
        messages.push(m);
        yield m;
      }
    })();
  }, timeoutMs).finally(() => (ended = true));
  // A failure surfaces through done or atLeast(); never as an unhandled rejection.
  done.catch(() => {});
  return {
    messages,
    done,
    async atLeast(n, ms = 10_000) {
      await pollUntil(
        () => messages.length,
        (len) => len >= n || ended,
        { what: `${n} stream message(s)`, timeoutMs: ms, intervalMs: 10 },
      );
      if (messages.length < n) {
        await done; // surfaces the stream's error, if it failed
        throw new Error(`stream ended after ${messages.length} message(s), expected at least ${n}`);
      }
      return messages;
    },
    abort: () => ac.abort(),
  };
}
