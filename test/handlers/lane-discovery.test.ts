/**
 * Lane discovery (src/handlers/http/lane-discovery.ts): a worker serves the
 * lane queues it finds among the declared ones, at start and on each scan,
 * each once; other queues are left alone.
 */
import { expect, test } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { discoverLanes } from "../../src/handlers/http/lane-discovery.js";
import { createWorker } from "../../src/worker/index.js";

test("lanes declared elsewhere are found and served, each once; other queues are not", async () => {
  const engine = createMemoryEngine();
  const served: string[] = [];
  const worker = createWorker({ engine, queues: {} });
  await worker.start();
  const added: string[] = [];
  const addQueue = worker.addQueue.bind(worker);
  worker.addQueue = async (name, registration) => {
    added.push(name);
    return addQueue(name, registration);
  };
  await engine.declareQueue("http-lane-before");
  await engine.declareQueue("not-a-lane");
  const discovery = discoverLanes({
    engine,
    worker,
    registration: { handler: async (input) => (served.push(String(input)), input), concurrency: 1 },
    intervalMs: 60_000,
  });
  try {
    await discovery.scan();
    await engine.declareQueue("http-lane-after");
    await discovery.scan();
    await discovery.scan();
    expect(added.sort()).toEqual(["http-lane-after", "http-lane-before"]);
    for (const queue of ["http-lane-before", "http-lane-after"]) {
      const { id } = await engine.submit({ queue, input: queue });
      await expect.poll(async () => (await engine.getStatus(id)).state, { timeout: 5_000 }).toBe("COMPLETED");
    }
    expect(served.sort()).toEqual(["http-lane-after", "http-lane-before"]);
  } finally {
    discovery.stop();
    await worker.stop({ graceMs: 0 });
    await engine.close();
  }
});
