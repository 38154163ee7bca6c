/**
 * The driver suite's one entry point (River's riverdrivertest is the model):
 * every storage driver passes every file of test/driver/, one area per file,
 * below the engine core. Adding a driver is one entry in DRIVERS.
 *
 * Drivers are called as the core calls them: with checked arguments
 * (well-formed queue names, parsed ids, full configs, JSON text inputs).
 */
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { JsonValue } from "@bufbuild/protobuf";
import type { Driver, DriverDelivery, JobRef, NewJob } from "../../src/engine/driver/types.js";
import { parseJobId } from "../../src/engine/job-id.js";
import { DEFAULT_LOG_BOUNDS } from "../../src/engine/log-bounds.js";
import { MemoryDriver } from "../../src/engine/memory/driver.js";
import { createNatsDriver } from "../../src/engine/nats/driver.js";
import { settingNamer } from "../../src/engine/settings.js";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/engine/types.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { uniqueQueue } from "../helpers/engines.js";

export { uniqueQueue };

interface DriverKind {
  name: "memory" | "nats";
  /** Opens drivers on one backend ("processes" sharing it); stop() closes them all. */
  start(): Promise<{ open(): Promise<Driver>; stop(): Promise<void> }>;
}

const common = { logBounds: DEFAULT_LOG_BOUNDS, settingName: settingNamer(), retentionMs: 60_000 };

export const DRIVERS: DriverKind[] = [
  {
    name: "memory",
    async start() {
      const driver = new MemoryDriver(common);
      return { open: async () => driver, stop: () => driver.close() };
    },
  },
  {
    name: "nats",
    async start() {
      const nats: NatsServer = await startNatsServer();
      const opened: Driver[] = [];
      return {
        async open() {
          const driver = await createNatsDriver({ ...common, servers: nats.url });
          opened.push(driver);
          return driver;
        },
        async stop() {
          await Promise.allSettled(opened.map((d) => d.close()));
          await nats.stop();
        },
      };
    },
  },
];

export interface DriverEnv {
  /** Plays the API process. */
  readonly api: Driver;
  /** Plays the worker process (the same driver on the embedded backend). */
  readonly worker: Driver;
  /** A fresh queue, declared with config over the defaults. */
  queue(config?: Partial<QueueConfig>): Promise<string>;
}

/** One describe block per driver, with its backend started once for the file. */
export function forEachDriver(title: string, body: (env: DriverEnv) => void): void {
  describe.each(DRIVERS)(`${title} [$name driver]`, (kind) => {
    let backend: Awaited<ReturnType<DriverKind["start"]>> | undefined;
    let api: Driver | undefined;
    let worker: Driver | undefined;
    beforeAll(async () => {
      backend = await kind.start();
      api = await backend.open();
      worker = await backend.open();
    });
    afterAll(async () => backend?.stop());
    body({
      get api() {
        return api!;
      },
      get worker() {
        return worker!;
      },
      async queue(config = {}) {
        const name = uniqueQueue("drv");
        await worker!.declareQueue(name, { ...DEFAULT_QUEUE_CONFIG, ...config });
        return name;
      },
    });
  });
}

export function newJob(queue: string, input: JsonValue, extra: Partial<NewJob> = {}): NewJob {
  return { queue, inputJson: JSON.stringify(input), tenant: "", options: {}, ...extra };
}

export function refOf(id: string): JobRef {
  return { id, ...parseJobId(id) };
}

/** Fetches until `count` deliveries came, within a bounded time. */
export async function fetchN(
  driver: Driver,
  queue: string,
  count: number,
  timeoutMs = 5_000,
): Promise<DriverDelivery[]> {
  const got: DriverDelivery[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < deadline) {
    got.push(...(await driver.fetch(queue, count - got.length, Math.min(1_000, deadline - Date.now()))));
  }
  expect(got.length, `deliveries from ${queue}`).toBe(count);
  return got;
}

/** Begins a delivery as the core does: inspect, then mark it RUNNING. */
export async function begin(d: DriverDelivery): Promise<boolean> {
  const found = await d.inspect();
  if (found.over) return false;
  return (await d.markRunning(found.run, Date.now(), () => undefined)) !== undefined;
}

/** Polls read() until the job is in `state`, within a bounded time. */
export async function waitForState(driver: Driver, id: string, state: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await driver.read(refOf(id), {});
    if (s.state === state) return s;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${s.state}, not ${state}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
