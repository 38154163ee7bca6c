/**
 * A scrape while NATS does not answer: the queue gauges are read with a
 * deadline, and skipped while the engine is not ready, so /metrics answers
 * (jetq_queue_counts_up 0) instead of hanging with the engine. A proxy
 * between the engine and nats-server holds its requests; then the server is
 * killed and restarted.
 */
import { expect, test } from "vitest";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { createMetrics } from "../../src/ops/metrics.js";
import { startServer } from "../../src/server/server.js";
import { waitFor } from "../conformance/harness.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";
import { startNatsProxy } from "../helpers/nats-proxy.js";
import { samplesOf, scrape, valueOf } from "../helpers/prometheus.js";

const fixture = useNatsEngines();

test("with NATS silent or down, /metrics answers without the queue gauges; with NATS back, they return", async () => {
  const proxy = await startNatsProxy(fixture.nats.port);
  const engine = await createNatsEngine({ servers: proxy.url });
  const metrics = createMetrics({ queueCounts: { engine, timeoutMs: 200 }, processMetrics: false });
  const server = await startServer({ engine, port: 0, host: "127.0.0.1", metrics });
  try {
    const queue = uniqueQueue("outage");
    await engine.declareQueue(queue);
    await engine.submit({ queue, input: 1 });
    const up = await scrape(server.url);
    expect(valueOf(up, "jetq_queue_jobs", { queue, state: "waiting" })).toBe(1);
    expect(valueOf(up, "jetq_queue_counts_up")).toBe(1);

    // Requests get no answer, and the engine does not know yet: the read runs out of time.
    proxy.hold();
    const silent = await scrape(server.url);
    expect(valueOf(silent, "jetq_queue_counts_up")).toBe(0);
    expect(samplesOf(silent, "jetq_queue_jobs")).toEqual([]);
    expect(valueOf(silent, "jetq_queues")).toBe(valueOf(up, "jetq_queues"));
    expect(valueOf(silent, "jetq_jobs_submitted_total", { queue })).toBe(1);

    // Down: not ready, so nothing is asked.
    await fixture.nats.kill();
    proxy.cut();
    await waitFor(() => !engine.readiness().ready, { what: "the engine not ready" });
    const down = await scrape(server.url);
    expect(valueOf(down, "jetq_engine_ready", { engine: "nats" })).toBe(0);
    expect(valueOf(down, "jetq_queue_counts_up")).toBe(0);
    expect(samplesOf(down, "jetq_queue_jobs")).toEqual([]);

    await fixture.nats.restart();
    const back = await waitFor(
      async () => {
        const e = await scrape(server.url);
        return valueOf(e, "jetq_queue_counts_up") === 1 ? e : undefined;
      },
      { what: "the queue counts again", timeoutMs: 20_000 },
    );
    expect(valueOf(back, "jetq_engine_ready", { engine: "nats" })).toBe(1);
    expect(valueOf(back, "jetq_queue_jobs", { queue, state: "waiting" })).toBe(1);
  } finally {
    await server.close();
    await engine.close();
    await proxy.close();
  }
});
