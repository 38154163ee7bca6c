/**
 * Job events (src/engine/job-events.ts): each transition is told once, by
 * the engine that made it, with what observers (metrics, the per-job log
 * line, webhooks) need.
 */
import { expect, test } from "vitest";
import type { JobEvent } from "../../src/engine/job-events.js";
import type { Engine } from "../../src/engine/types.js";
import { fetchFor, fetchOne, forEachEngine, startWorker, waitFor, waitForState, type EngineEnv } from "./harness.js";

/** Every event of `queue` either engine of env tells, in order. */
function record(env: EngineEnv, queue: string): { events: JobEvent[]; stop: () => void } {
  const events: JobEvent[] = [];
  const engines = new Set<Engine>([env.api, env.worker]);
  const stops = [...engines].map((e) => e.observe((ev) => ev.queue === queue && events.push(ev)));
  return { events, stop: () => stops.forEach((s) => s()) };
}

const kinds = (events: JobEvent[]) => events.map((e) => (e.kind === "finished" ? `finished:${e.state}` : e.kind));

forEachEngine("job events", (env) => {
  test("a completed job: submitted, started, finished COMPLETED with its output and times", async () => {
    const q = await env.queue();
    const seen = record(env, q);
    const { id } = await env.api.submit({ queue: q, input: { n: 1 }, tenant: "acme" });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete({ ok: true })).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    seen.stop();
    expect(kinds(seen.events)).toEqual(["submitted", "started", "finished:COMPLETED"]);
    const [submitted, started, finished] = seen.events;
    expect(submitted).toMatchObject({ id, tenant: "acme", queue: q });
    expect(started).toMatchObject({ id, tenant: "acme", attempt: 1, lostLeases: 0 });
    expect(finished).toMatchObject({ id, tenant: "acme", attempt: 1, output: { ok: true } });
    if (finished?.kind !== "finished" || started?.kind !== "started") throw new Error("unreachable");
    expect(finished.startedAt).toBe(started.startedAt);
    expect(finished.finishedAt).toBeGreaterThanOrEqual(started.startedAt);
    expect(started.startedAt).toBeGreaterThanOrEqual(started.createdAt);
  });

  test("a retried then failed job: retried once, finished FAILED once with the last error", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 20, backoffMaxMs: 20 });
    const seen = record(env, q);
    const { id } = await env.api.submit({ queue: q, input: 1 });
    for (const attempt of [1, 2]) {
      const lease = await fetchOne(env.worker, q);
      expect(await lease.begin()).toBe(true);
      expect(await lease.fail({ code: "E", message: `no ${attempt}` })).toBe(true);
    }
    await waitForState(env.api, id, "FAILED");
    seen.stop();
    expect(kinds(seen.events)).toEqual(["submitted", "started", "retried", "started", "finished:FAILED"]);
    expect(seen.events[2]).toMatchObject({ attempt: 1, error: { code: "E", message: "no 1" } });
    expect(seen.events[4]).toMatchObject({ attempt: 2, error: { code: "E", message: "no 2" } });
  });

  test("an idempotent repeat is not a second submit; a cancel is told once, by the engine that cancelled", async () => {
    const q = await env.queue();
    const seen = record(env, q);
    const first = await env.api.submit({ queue: q, input: 1, idempotencyKey: "k" });
    const again = await env.api.submit({ queue: q, input: 1, idempotencyKey: "k" });
    expect(again.id).toBe(first.id);
    expect((await env.api.cancel(first.id)).removed).toBe(true);
    expect((await env.api.cancel(first.id)).removed).toBe(false);
    seen.stop();
    expect(kinds(seen.events)).toEqual(["submitted", "finished:CANCELLED"]);
  });

  test("a job past its start deadline is told EXPIRED once, and never started", async () => {
    const q = await env.queue();
    const seen = record(env, q);
    const deadline = Date.now() + 200;
    const { id } = await env.api.submit({ queue: q, input: 1, options: { startDeadline: deadline } });
    await waitFor(() => Date.now() > deadline + 20, { what: "the deadline to pass" });
    const worker = startWorker(env.worker, q, (lease) => lease.input);
    try {
      await waitForState(env.api, id, "EXPIRED");
      await waitFor(() => seen.events.some((e) => e.kind === "finished"), { what: "the finished event" });
    } finally {
      await worker.stop();
    }
    expect(await fetchFor(env.worker, q, 100)).toEqual([]);
    seen.stop();
    expect(kinds(seen.events)).toEqual(["submitted", "finished:EXPIRED"]);
    expect(seen.events[1]).toMatchObject({ id, error: { code: "EXPIRED" } });
  });
});
