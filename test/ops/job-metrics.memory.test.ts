/**
 * Crash redeliveries and releases in the job series (src/ops/job-metrics.ts):
 * a start after a lost lease counts once, a later retry of the same job does
 * not count again, and a lease handed back counts as a release.
 */
import { expect, test } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { createMetrics } from "../../src/ops/metrics.js";
import { fetchOne, uniqueQueue, waitForState } from "../conformance/harness.js";
import { parsePrometheus, valueOf } from "../helpers/prometheus.js";

test("a lost lease's rerun is a redelivery, its later retry is not; a released lease is a release", async () => {
  const engine = createMemoryEngine();
  const metrics = createMetrics({ processMetrics: false });
  metrics.observe(engine);
  try {
    const queue = uniqueQueue("crash");
    await engine.declareQueue(queue, { ackWaitMs: 1_000, maxAttempts: 2, backoffBaseMs: 10, backoffMaxMs: 10 });
    const { id } = await engine.submit({ queue, input: 1 });
    expect(await (await fetchOne(engine, queue)).begin()).toBe(true); // then lapses: a killed worker
    const rerun = await fetchOne(engine, queue, { timeoutMs: 6_000 });
    expect(await rerun.begin()).toBe(true);
    expect(await rerun.fail({ code: "E", message: "once" })).toBe(true);
    const retry = await fetchOne(engine, queue);
    expect(await retry.begin()).toBe(true);
    await retry.release();
    const last = await fetchOne(engine, queue);
    expect(await last.begin()).toBe(true);
    expect(await last.complete("done")).toBe(true);
    await waitForState(engine, id, "COMPLETED");

    const m = parsePrometheus(await metrics.text());
    expect(valueOf(m, "jetq_jobs_started_total", { queue })).toBe(4);
    expect(valueOf(m, "jetq_jobs_redelivered_total", { queue })).toBe(1);
    expect(valueOf(m, "jetq_jobs_retried_total", { queue })).toBe(1);
    expect(valueOf(m, "jetq_jobs_released_total", { queue })).toBe(1);
    expect(valueOf(m, "jetq_jobs_finished_total", { queue, state: "completed" })).toBe(1);
    expect(valueOf(m, "jetq_job_queue_wait_seconds_count", { queue })).toBe(1);
  } finally {
    metrics.close();
    await engine.close();
  }
});
