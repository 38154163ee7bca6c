/**
 * Shared harness of the Engine conformance suite.
 *
 * Every capability file runs its tests once per engine in ENGINES
 * (`forEachEngine`), against one backend started per file. Tests share the
 * backend, so each one works on its own queue (`env.queue()`).
 *
 * Two engines are opened on the backend: `api` plays the API process (submit,
 * reads, cancel, watch) and `worker` the worker process (declare, fetch,
 * leases). For the embedded engine both are the same object.
 *
 * Waits are bounded polls (`waitFor`), never fixed sleeps.
 */
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { JsonValue } from "@bufbuild/protobuf";
import {
  ENGINES,
  engineKinds,
  uniqueQueue,
  type EngineBackend,
  type EngineKind,
  type EngineOptions,
} from "../helpers/engines.js";
import type { Engine, JobLease, JobStatus, QueueConfig, WatchOptions } from "../../src/engine/types.js";
import { EngineError, type EngineErrorCode } from "../../src/engine/errors.js";

export { EngineError, uniqueQueue, type EngineOptions };

/**
 * JETQ_ENGINES=memory (comma separated) runs a subset while developing; unset
 * runs every engine, which is what CI does.
 */
function selectedEngines(): EngineKind[] {
  const only = process.env.JETQ_ENGINES?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!only || only.length === 0) return ENGINES;
  return ENGINES.filter((e) => only.includes(e.name));
}

export interface EngineEnv {
  readonly kind: EngineKind;
  readonly backend: EngineBackend;
  /** The "API process". */
  readonly api: Engine;
  /** The "worker process". */
  readonly worker: Engine;
  /** A fresh queue, declared by the worker process with `config`. */
  queue(config?: Partial<QueueConfig>): Promise<string>;
}

/** One describe block per engine, with the backend started once for the block. */
export function forEachEngine(title: string, body: (env: EngineEnv) => void): void {
  describe.each(selectedEngines())(`${title} [$name engine]`, (kind) => {
    body(useBackend(kind));
  });
}

/**
 * As forEachEngine, on engines opened with `options` (a backend of their own:
 * NATS buckets keep the retention they were created with).
 */
export function forEachEngineWith(title: string, options: EngineOptions, body: (env: EngineEnv) => void): void {
  describe.each(selectedEngines())(`${title} [$name engine]`, (kind) => {
    body(useBackend(withOptions(kind, options)));
  });
}

function withOptions(kind: EngineKind, options: EngineOptions): EngineKind {
  return engineKinds(options).find((k) => k.name === kind.name)!;
}

function useBackend(kind: EngineKind): EngineEnv {
  let backend: EngineBackend | undefined;
  let api: Engine | undefined;
  let worker: Engine | undefined;
  beforeAll(async () => {
    backend = await kind.start();
    api = await backend.open();
    worker = await backend.open();
  });
  afterAll(async () => {
    await backend?.stop();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} used outside a test (backend not started)`);
    return v;
  };
  return {
    kind,
    get backend() {
      return need(backend, "backend");
    },
    get api() {
      return need(api, "api engine");
    },
    get worker() {
      return need(worker, "worker engine");
    },
    async queue(config?: Partial<QueueConfig>) {
      const q = uniqueQueue();
      await need(worker, "worker engine").declareQueue(q, config);
      return q;
    },
  };
}

// ---------------------------------------------------------------- waiting

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Says what was awaited, for the timeout message. */
  what?: string;
}

/** Polls `predicate` until it returns a truthy value (returned) or the timeout passes. */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await predicate();
      lastError = undefined;
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError !== undefined ? `last error: ${String(lastError)}` : `last value: ${show(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? "condition"}; ${detail}`);
    }
    await delay(intervalMs);
  }
}

/** Polls getStatus until `accept` holds; returns that status. */
export async function waitForStatus(
  engine: Engine,
  id: string,
  accept: (s: JobStatus) => boolean,
  options: WaitOptions & { includeLogs?: boolean } = {},
): Promise<JobStatus> {
  let last: JobStatus | undefined;
  try {
    return await waitFor(
      async () => {
        last = await engine.getStatus(id, { includeLogs: options.includeLogs ?? false });
        return accept(last) ? last : undefined;
      },
      { ...options, what: options.what ?? `status of ${id}` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast status: ${show(last)}`, { cause: err });
  }
}

export const waitForState = (engine: Engine, id: string, state: JobStatus["state"], options: WaitOptions = {}) =>
  waitForStatus(engine, id, (s) => s.state === state, { what: `${id} to be ${state}`, ...options });

/** A pause that is part of the scenario (e.g. letting a lease age), not synchronisation. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function show(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 2000 ? `${s.slice(0, 2000)}…` : s;
  } catch {
    return String(v);
  }
}

// ---------------------------------------------------------------- errors

/** Awaits `action` and asserts it rejects with an EngineError of `code` whose message matches. */
export async function expectEngineError(
  action: Promise<unknown> | (() => unknown),
  code: EngineErrorCode,
  message?: RegExp | string,
): Promise<EngineError> {
  let error: unknown;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (err) {
    error = err;
  }
  if (error === undefined) {
    throw new Error(`expected an EngineError ${code}, but the call succeeded`);
  }
  expect(error, `expected an EngineError, got ${String(error)}`).toBeInstanceOf(EngineError);
  const ee = error as EngineError;
  expect(ee.code, `error code (message: ${JSON.stringify(ee.message)})`).toBe(code);
  if (message !== undefined) expect(ee.message).toMatch(message);
  return ee;
}

// ---------------------------------------------------------------- fetching

/** Fetches until one lease arrives (fails after timeoutMs). */
export async function fetchOne(engine: Engine, queue: string, options: { timeoutMs?: number } = {}): Promise<JobLease> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no lease from queue ${queue} within ${timeoutMs} ms`);
    const leases = await engine.fetch(queue, { max: 1, expiresMs: Math.min(left, 1_000) });
    expect(leases.length).toBeLessThanOrEqual(1);
    if (leases[0]) return leases[0];
  }
}

/** Fetches for `ms` and returns whatever arrived (tests expect nothing). */
export async function fetchFor(engine: Engine, queue: string, ms: number, max = 10): Promise<JobLease[]> {
  const got: JobLease[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return got;
    const started = Date.now();
    const leases = await engine.fetch(queue, { max, expiresMs: Math.min(left, 1_000) });
    expect(leases.length).toBeLessThanOrEqual(max);
    got.push(...leases);
    if (leases.length === 0 && Date.now() - started < 5) await delay(10); // returned at once: don't spin
  }
}

// ---------------------------------------------------------------- a tiny worker

/** Thrown by a test handler to fail its attempt with this code. */
export class HandlerFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = true,
  ) {
    super(message);
  }
}

export type LeaseHandler = (lease: JobLease) => JsonValue | Promise<JsonValue>;

export interface Delivery {
  id: string;
  attempt: number;
  /** What begin() said. */
  begun: boolean;
  /** What complete()/fail() said (undefined while running or when not begun). */
  settled?: boolean;
  at: number;
}

export interface TestWorker {
  readonly deliveries: Delivery[];
  /** Unexpected errors from fetch or lease calls; tests expect none. */
  readonly errors: unknown[];
  /** Largest batch fetch returned vs the max asked for, for the max check. */
  readonly oversizedFetches: number;
  stop(): Promise<void>;
}

/**
 * A minimal worker loop over the Engine contract: fetch up to the free slots,
 * begin(), run the handler, complete() or fail(). Tests the engine, not the
 * worker runtime.
 */
export function startWorker(
  engine: Engine,
  queue: string,
  handler: LeaseHandler = (lease) => lease.input,
  options: { concurrency?: number; expiresMs?: number } = {},
): TestWorker {
  const concurrency = options.concurrency ?? 1;
  const expiresMs = options.expiresMs ?? 300;
  const abort = new AbortController();
  const deliveries: Delivery[] = [];
  const errors: unknown[] = [];
  const running = new Set<Promise<void>>();
  let oversized = 0;
  let slotFreed: (() => void) | undefined;

  const run = async (lease: JobLease) => {
    const d: Delivery = { id: lease.id, attempt: lease.attempt, begun: false, at: Date.now() };
    deliveries.push(d);
    try {
      d.begun = await lease.begin();
      if (!d.begun) return;
      let output: JsonValue;
      try {
        output = await handler(lease);
      } catch (err) {
        if (err instanceof HandlerFailure) {
          d.settled = await lease.fail({ code: err.code, message: err.message }, { retryable: err.retryable });
        } else {
          d.settled = await lease.fail({ code: "HANDLER_ERROR", message: String((err as Error)?.message ?? err) });
        }
        return;
      }
      d.settled = await lease.complete(output);
    } catch (err) {
      errors.push(err);
    }
  };

  const loop = (async () => {
    while (!abort.signal.aborted) {
      const free = concurrency - running.size;
      if (free <= 0) {
        await new Promise<void>((r) => (slotFreed = r));
        continue;
      }
      const started = Date.now();
      let leases: JobLease[];
      try {
        leases = await engine.fetch(queue, { max: free, expiresMs, signal: abort.signal });
      } catch (err) {
        if (!abort.signal.aborted) {
          errors.push(err);
          await delay(50);
        }
        continue;
      }
      if (leases.length > free) oversized += 1;
      if (leases.length === 0 && Date.now() - started < 5) await delay(10); // don't spin
      for (const lease of leases) {
        const p = run(lease).finally(() => {
          running.delete(p);
          slotFreed?.();
          slotFreed = undefined;
        });
        running.add(p);
      }
    }
  })();

  return {
    deliveries,
    errors,
    get oversizedFetches() {
      return oversized;
    },
    async stop() {
      abort.abort();
      slotFreed?.();
      await loop;
      await Promise.all(running);
    },
  };
}

// ---------------------------------------------------------------- watching

export interface WatchRecorder {
  readonly items: JobStatus[];
  /** Resolves when the iteration ends: error is what it threw, if anything. */
  readonly ended: Promise<{ error?: unknown }>;
  readonly isEnded: () => boolean;
  /** Resolves once at least n items arrived (fails after timeoutMs). */
  waitItems(n: number, timeoutMs?: number): Promise<JobStatus[]>;
  /** Resolves when the iteration ended (fails after timeoutMs). */
  waitEnd(timeoutMs?: number): Promise<{ error?: unknown; items: JobStatus[] }>;
}

/** Consumes engine.watch() in the background, recording every status. */
export function recordWatch(engine: Engine, id: string, options: WatchOptions = {}): WatchRecorder {
  return recordStatuses(() => engine.watch(id, options), id);
}

/**
 * Consumes a stream of statuses (a watch, a submitAndWatch) in the
 * background, named `label` in failures; what open() throws is the
 * recorder's error too.
 */
export function recordStatuses(open: () => AsyncIterable<JobStatus>, label: string): WatchRecorder {
  const id = label;
  const items: JobStatus[] = [];
  let done = false;
  const ended = (async () => {
    try {
      for await (const s of open()) items.push(structuredClone(s));
      return {};
    } catch (error) {
      return { error };
    } finally {
      done = true;
    }
  })();
  return {
    items,
    ended,
    isEnded: () => done,
    waitItems: async (n, timeoutMs = 5_000) => {
      await waitFor(() => items.length >= n || done, {
        timeoutMs,
        what: `${n} watch items of ${id} (have ${items.length})`,
      });
      if (items.length < n) {
        const r = await ended;
        throw new Error(`watch of ${id} ended after ${items.length} items (${show(items)}), error: ${String(r.error)}`);
      }
      return items;
    },
    waitEnd: async (timeoutMs = 5_000) => {
      await waitFor(() => done, { timeoutMs, what: `watch of ${id} to end; items so far: ${show(items)}` });
      return { ...(await ended), items };
    },
  };
}

/** The fields of a status that say what changed, for comparing watch sequences. */
export function summary(s: JobStatus): { state: string; progress: number; attempt: number } {
  return { state: s.state, progress: s.progress, attempt: s.attempt };
}

/**
 * Waits until queueCount reports exactly `expected` (engines may cache queue
 * info for a few hundred ms, so counts are eventually exact, not instantly).
 */
export async function waitForCount(
  engine: Engine,
  queue: string,
  expected: { inQueue: number; running: number },
  options: WaitOptions = {},
): Promise<void> {
  let last: unknown;
  try {
    await waitFor(
      async () => {
        const c = await engine.queueCount(queue);
        last = c;
        return c.queue === queue && c.inQueue === expected.inQueue && c.running === expected.running;
      },
      { timeoutMs: 3_000, ...options, what: options.what ?? `queueCount(${queue}) = ${show(expected)}` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast count: ${show(last)}`, { cause: err });
  }
}
