/**
 * The browser's own EventSource (headless Chromium, driven by playwright-core)
 * on GET /queue/requests/{id}/status/stream: every state change and the
 * terminal event; a stream cut mid-job is resumed by EventSource itself with
 * Last-Event-ID and still ends with the terminal event.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { launchChromium, type Browser } from "../helpers/chromium.js";
import { uniqueQueue } from "../helpers/engines.js";
import { curl } from "./curl.js";
import { startCuttingProxy } from "./cutting-proxy.js";
import { gatedHandler } from "./gate.js";

interface Seen {
  id: string;
  status: { status: string; progress: number };
}

describe("EventSource in headless Chromium (memory)", () => {
  let engine: Engine;
  let server: RunningServer;
  let proxy: Awaited<ReturnType<typeof startCuttingProxy>>;
  let browser: Browser;
  let page: Page;
  const workers: Worker[] = [];

  beforeAll(async () => {
    engine = createMemoryEngine();
    server = await startServer({ engine, port: 0, host: "127.0.0.1" });
    proxy = await startCuttingProxy(server.url);
    browser = await launchChromium();
    page = await browser.context.newPage();
    // A page of the proxy's origin: EventSource then needs no CORS.
    await page.goto(`${proxy.url}/openapi.json`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    for (const w of workers) await w.stop({ graceMs: 0 });
    await proxy?.close();
    await server?.close();
    await engine?.close();
  });

  async function gatedJob() {
    const queue = uniqueQueue("browser");
    await engine.declareQueue(queue);
    const gate = gatedHandler();
    const worker = createWorker({ engine, queues: { [queue]: gate.handler } });
    workers.push(worker);
    const job = (await curl("POST", `${proxy.url}/queue/${queue}`, { body: "{}" })).body;
    return { gate, worker, path: new URL(job.status_url).pathname + "/stream?logs=1" };
  }

  /** Opens an EventSource in the page; its events collect in window.seen, closed at the terminal one. */
  async function listen(path: string) {
    await page.evaluate((url) => {
      const w = globalThis as unknown as { seen: unknown[]; errors: number; es: EventSource };
      w.seen = [];
      w.errors = 0;
      const es = new EventSource(url);
      w.es = es;
      es.onmessage = (e) => {
        const status = JSON.parse(e.data as string) as { status: string };
        w.seen.push({ id: e.lastEventId, status });
        if (!["IN_QUEUE", "IN_PROGRESS"].includes(status.status)) es.close();
      };
      es.onerror = () => (w.errors += 1);
    }, path);
  }

  const seen = () => page.evaluate(() => (globalThis as unknown as { seen: Seen[] }).seen);
  const waitFor = (predicate: string) => page.waitForFunction(predicate, undefined, { timeout: 15_000 });
  const lastStatus = (s: string) => `(window.seen.at(-1) || {status: {}}).status.status === "${s}"`;

  it("receives every state change, then the terminal event, and closes", async () => {
    const { gate, worker, path } = await gatedJob();
    await listen(path);
    await waitFor(lastStatus("IN_QUEUE"));
    await worker.start();
    await waitFor(`${lastStatus("IN_PROGRESS")} && window.seen.at(-1).status.progress >= 0.5`);
    gate.open();
    await waitFor(lastStatus("COMPLETED"));
    const events = await seen();
    expect([...new Set(events.map((e) => e.status.status))]).toEqual(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]);
    expect(await page.evaluate(() => (globalThis as unknown as { es: EventSource }).es.readyState)).toBe(2);
  });

  it("a stream cut mid-job: EventSource reconnects with Last-Event-ID and still gets the terminal event", async () => {
    const { gate, worker, path } = await gatedJob();
    await worker.start();
    await listen(path);
    await waitFor(`${lastStatus("IN_PROGRESS")} && window.seen.at(-1).status.progress >= 0.5`);
    const before = await seen();
    const lastSeen = before.at(-1)!.id;

    proxy.cut();
    // EventSource's own reconnect carries the last id it saw.
    await proxy.waitForLastEventId(lastSeen);
    gate.open();
    await waitFor(lastStatus("COMPLETED"));
    const events = await seen();
    expect(await page.evaluate(() => (globalThis as unknown as { errors: number }).errors)).toBeGreaterThanOrEqual(1);
    const after = events.slice(before.length);
    expect(after.at(-1)!.status.status).toBe("COMPLETED");
    // The resumed stream did not repeat the status the page already had.
    const digest = (id: string) => id.split(".")[2];
    const logs = (e: Seen) => (e.status as unknown as { logs: unknown[] }).logs.length;
    expect(after.every((e) => digest(e.id) !== digest(lastSeen) || logs(e) > 0)).toBe(true);
  });
});
