/**
 * The `queue` label is bounded (src/ops/queue-labels.ts): past
 * JETQ_METRICS_MAX_QUEUES queues, jobs count under queue="_other", so
 * caller-made queues (lanes) cannot grow the series without end.
 */
import { expect, test } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { createMetrics } from "../../src/ops/metrics.js";
import { parsePrometheus, valueOf } from "../helpers/prometheus.js";

test("the first maxQueues queues are named, the rest share _other; the gauges read that many", async () => {
  const engine = createMemoryEngine();
  const metrics = createMetrics({ maxQueues: 2, queueCounts: { engine }, processMetrics: false });
  metrics.observe(engine);
  metrics.observe(engine); // a repeat observes once
  try {
    for (const queue of ["a", "b", "c", "d", "b"]) {
      await engine.declareQueue(queue);
      await engine.submit({ queue, input: 1 });
    }
    const m = parsePrometheus(await metrics.text());
    const submitted = (queue: string) => valueOf(m, "jetq_jobs_submitted_total", { queue });
    expect([submitted("a"), submitted("b"), submitted("_other"), submitted("c")]).toEqual([1, 2, 2, undefined]);
    expect(valueOf(m, "jetq_queues")).toBe(4);
    expect(valueOf(m, "jetq_queue_jobs", { queue: "b", state: "waiting" })).toBe(2);
    expect(valueOf(m, "jetq_queue_jobs", { queue: "c", state: "waiting" })).toBeUndefined();
    expect(valueOf(m, "process_cpu_user_seconds_total")).toBeUndefined();
  } finally {
    metrics.close();
    await engine.close();
  }
});
