/**
 * Shared bits of the worker tests: one backend per engine kind per file, a
 * bounded poll, and a worker that is always stopped after its test.
 */
import { afterAll, afterEach, beforeAll, describe } from "vitest";
import type { Engine, JobState, JobStatus } from "../../src/engine/types.js";
import { createWorker, type Worker, type WorkerOptions } from "../../src/worker/index.js";
import { ENGINES, uniqueQueue, type EngineBackend, type EngineKind } from "../helpers/engines.js";

export { uniqueQueue };

/** JETQ_ENGINES=memory runs a subset while developing; unset runs every engine. */
function selectedEngines(): EngineKind[] {
  const only = process.env.JETQ_ENGINES?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return only && only.length > 0 ? ENGINES.filter((e) => only.includes(e.name)) : ENGINES;
}

export interface WorkerEnv {
  /** The client side: submit, status, cancel. */
  readonly api: Engine;
  /** The worker's own engine (a second connection with NATS). */
  readonly engine: Engine;
  /**
   * An engine of the worker's own, as a separate worker process would have.
   * close() closes it when it is a separate connection (NATS); the embedded
   * engine is shared with `api` and stays open.
   */
  processEngine(): Promise<{ engine: Engine; close(): Promise<void> }>;
  /** A worker stopped (grace 0) after the test if the test did not stop it. */
  worker(options: Omit<WorkerOptions, "engine"> & { engine?: Engine }): Worker;
}

export function forEachEngine(title: string, body: (env: WorkerEnv) => void): void {
  describe.each(selectedEngines())(`${title} [$name engine]`, (kind) => {
    let backend: EngineBackend | undefined;
    let api: Engine | undefined;
    let engine: Engine | undefined;
    let workers: Worker[] = [];
    beforeAll(async () => {
      backend = await kind.start();
      api = await backend.open();
      engine = await backend.open();
    });
    afterEach(async () => {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 0 })));
      workers = [];
    });
    afterAll(async () => {
      await backend?.stop();
    });
    body({
      get api() {
        if (!api) throw new Error("backend not started");
        return api;
      },
      get engine() {
        if (!engine) throw new Error("backend not started");
        return engine;
      },
      async processEngine() {
        if (!backend) throw new Error("backend not started");
        const own = await backend.open();
        const separate = own !== api;
        return { engine: own, close: async () => (separate ? own.close() : undefined) };
      },
      worker(options) {
        if (!engine) throw new Error("backend not started");
        const w = createWorker({ engine, ...options });
        workers.push(w);
        return w;
      },
    });
  });
}

/** Polls until check() returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function waitForState(api: Engine, id: string, state: JobState, timeoutMs?: number): Promise<JobStatus> {
  let seen: JobState | undefined;
  return waitFor(
    `job ${id} to be ${state} (last seen ${seen ?? "nothing"})`,
    async () => {
      const s = await api.getStatus(id);
      seen = s.state;
      return s.state === state ? s : undefined;
    },
    timeoutMs,
  );
}

/** Resolves when the signal aborts. */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener("abort", () => resolve(signal.reason), { once: true });
  });
}
