/**
 * watch(): the current status at once, then every change once and in order,
 * ending after the terminal status.
 */
import { expect, test } from "vitest";
import type { JobLease, JobStatus, LogEntry } from "../../src/engine/types.js";
import {
  expectEngineError,
  fetchOne,
  forEachEngine,
  recordWatch,
  summary,
  waitFor,
  waitForState,
  waitForStatus,
} from "./harness.js";

/** Each step is awaited by the watcher before the next, so every change is observable. */
async function driveThroughProgress(lease: JobLease, output: unknown): Promise<void> {
  expect(await lease.begin()).toBe(true);
  lease.progress(0.25);
  lease.progress(0.5);
  lease.progress(0.75);
  expect(await lease.complete(output as never)).toBe(true);
}

const EXPECTED_SEQUENCE = [
  { state: "QUEUED", progress: 0, attempt: 0 },
  { state: "RUNNING", progress: 0, attempt: 1 },
  { state: "RUNNING", progress: 0.25, attempt: 1 },
  { state: "RUNNING", progress: 0.5, attempt: 1 },
  { state: "RUNNING", progress: 0.75, attempt: 1 },
];

function checkTerminal(items: JobStatus[], state: JobStatus["state"]): void {
  const last = items[items.length - 1]!;
  expect(last.state).toBe(state);
  expect(last.finishedAt).toBeDefined();
  expect(items.filter((s) => s.state === state)).toHaveLength(1);
}

/** Log lines seen over a watch, in first-seen order (a status may repeat earlier lines). */
function logsSeen(items: JobStatus[]): LogEntry[] {
  const seen: LogEntry[] = [];
  const keys = new Set<string>();
  for (const s of items) {
    for (const l of s.logs ?? []) {
      const key = `${l.timestamp}|${l.level}|${l.source}|${l.message}`;
      if (!keys.has(key)) {
        keys.add(key);
        seen.push(l);
      }
    }
  }
  return seen;
}

forEachEngine("watch", (env) => {
  test("current state first, then QUEUED → RUNNING → each progress → COMPLETED once and in order, then it ends", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const w = recordWatch(env.api, id);
    const [first] = await w.waitItems(1);
    expect(first).toMatchObject({ id, queue: q, state: "QUEUED", queuePosition: 0, attempt: 0, progress: 0 });

    const lease = await fetchOne(env.worker, q);
    await driveThroughProgress(lease, { ok: 1 });
    const { error, items } = await w.waitEnd();
    expect(error).toBeUndefined();
    expect(items.slice(0, -1).map(summary)).toEqual(EXPECTED_SEQUENCE);
    checkTerminal(items, "COMPLETED");
    expect(items[items.length - 1]).toMatchObject({ id, state: "COMPLETED", attempt: 1 });
    expect(items.every((s) => s.logs === undefined || s.logs.length === 0)).toBe(true);
  });

  test("with includeLogs the watch carries each log line in order; without it, none", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const withLogs = recordWatch(env.api, id, { includeLogs: true });
    const without = recordWatch(env.api, id);
    await withLogs.waitItems(1);
    await without.waitItems(1);

    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    const before = Date.now();
    lease.log("info", "line one");
    lease.progress(0.5);
    lease.log("warn", "line two ⚠");
    lease.log("error", "line three");
    expect(await lease.complete(null)).toBe(true);
    const after = Date.now();

    const a = await withLogs.waitEnd();
    const b = await without.waitEnd();
    expect(a.error).toBeUndefined();
    expect(b.error).toBeUndefined();
    const lines = logsSeen(a.items);
    expect(lines.map((l) => [l.level, l.source, l.message])).toEqual([
      ["info", "handler", "line one"],
      ["warn", "handler", "line two ⚠"],
      ["error", "handler", "line three"],
    ]);
    for (const l of lines) {
      expect(l.timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(l.timestamp).toBeLessThanOrEqual(after + 1);
    }
    expect(b.items.every((s) => s.logs === undefined || s.logs.length === 0)).toBe(true);
    // progress reaches both, logs or not
    for (const items of [a.items, b.items]) {
      expect(items.some((s) => s.state === "RUNNING" && s.progress === 0.5)).toBe(true);
      checkTerminal(items, "COMPLETED");
      expect(items.map((s) => s.state).filter((s, i, all) => s !== all[i - 1])).toEqual([
        "QUEUED",
        "RUNNING",
        "COMPLETED",
      ]);
    }
  });

  test("a watch opened late with includeLogs starts with the lines logged so far", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    lease.log("info", "early one");
    lease.log("info", "early two");
    await waitForStatus(env.api, id, (s) => (s.logs?.length ?? 0) >= 2, { includeLogs: true, what: "2 log lines" });
    const w = recordWatch(env.api, id, { includeLogs: true });
    const [first] = await w.waitItems(1);
    expect(first!.state).toBe("RUNNING");
    expect(first!.logs?.map((l) => l.message)).toEqual(["early one", "early two"]);
    lease.log("info", "late");
    expect(await lease.complete(null)).toBe(true);
    const { error, items } = await w.waitEnd();
    expect(error).toBeUndefined();
    expect(logsSeen(items).map((l) => l.message)).toEqual(["early one", "early two", "late"]);
  });

  test("a watched running job that is cancelled ends with CANCELLED", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    await waitForStatus(env.api, id, (s) => s.state === "RUNNING" && s.attempt === 1);
    const w = recordWatch(env.api, id);
    await w.waitItems(1);
    expect((await env.api.cancel(id)).removed).toBe(true);
    const { error, items } = await w.waitEnd();
    expect(error).toBeUndefined();
    expect(items.map((s) => s.state)).toEqual(["RUNNING", "CANCELLED"]);
    expect(await lease.complete("late")).toBe(false);
  });

  test("a watch on a finished job yields the terminal status once and ends", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.fail({ code: "E", message: "failed on purpose" })).toBe(true);
    await waitForState(env.api, id, "FAILED");

    const { error, items } = await recordWatch(env.api, id).waitEnd();
    expect(error).toBeUndefined();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id, state: "FAILED", error: { code: "E", message: "failed on purpose" } });
    expect(items[0]!.finishedAt).toBeDefined();
  });

  test("a watch on a cancelled job yields CANCELLED once and ends; cancelling a watched job ends the watch", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const w = recordWatch(env.api, id);
    await w.waitItems(1);
    expect((await env.api.cancel(id)).removed).toBe(true);
    const { error, items } = await w.waitEnd();
    expect(error).toBeUndefined();
    expect(items.map((s) => s.state)).toEqual(["QUEUED", "CANCELLED"]);

    const again = await recordWatch(env.api, id).waitEnd();
    expect(again.error).toBeUndefined();
    expect(again.items.map((s) => s.state)).toEqual(["CANCELLED"]);
  });

  test("a watch aborted by its signal ends without error and is no longer counted", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const base = env.api.stats().openWatches;
    const abort = new AbortController();
    const w = recordWatch(env.api, id, { signal: abort.signal });
    await w.waitItems(1);
    await waitFor(() => env.api.stats().openWatches === base + 1, { what: "openWatches + 1" });
    abort.abort();
    const { error, items } = await w.waitEnd(2_000);
    expect(error).toBeUndefined();
    expect(items.map((s) => s.state)).toEqual(["QUEUED"]);
    await waitFor(() => env.api.stats().openWatches === base, { what: "openWatches back to base" });
  });

  test("a watch whose signal is already aborted ends without error", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const abort = new AbortController();
    abort.abort();
    const { error, items } = await recordWatch(env.api, id, { signal: abort.signal }).waitEnd(2_000);
    expect(error).toBeUndefined();
    expect(items.length).toBeLessThanOrEqual(1);
  });

  test("200 concurrent watches on one job all see the same sequence; openWatches counts them; one event subscription", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const base = env.api.stats();
    const watches = Array.from({ length: 200 }, () => recordWatch(env.api, id));
    await Promise.all(watches.map((w) => w.waitItems(1)));
    await waitFor(() => env.api.stats().openWatches === base.openWatches + 200, {
      what: `openWatches = ${base.openWatches + 200} (is ${env.api.stats().openWatches})`,
    });
    // live fan-out must not cost a subscription per watch
    expect(env.api.stats().eventSubscriptions).toBe(base.eventSubscriptions);

    const lease = await fetchOne(env.worker, q);
    await driveThroughProgress(lease, "all");
    const ends = await Promise.all(watches.map((w) => w.waitEnd(10_000)));
    for (const { error, items } of ends) {
      expect(error).toBeUndefined();
      expect(items.slice(0, -1).map(summary)).toEqual(EXPECTED_SEQUENCE);
      checkTerminal(items, "COMPLETED");
    }
    await waitFor(() => env.api.stats().openWatches === base.openWatches, { what: "openWatches back to base" });
  });

  test("a retried job is watched through RUNNING → QUEUED (with the error) → RUNNING → COMPLETED", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const w = recordWatch(env.api, id);
    await w.waitItems(1);
    const l1 = await fetchOne(env.worker, q);
    expect(await l1.begin()).toBe(true);
    expect(await l1.fail({ code: "TRANSIENT", message: "try again" })).toBe(true);
    const l2 = await fetchOne(env.worker, q);
    expect(l2.attempt).toBe(2);
    expect(await l2.begin()).toBe(true);
    expect(await l2.complete("second time lucky")).toBe(true);
    const { error, items } = await w.waitEnd();
    expect(error).toBeUndefined();
    const states = items.map((s) => [s.state, s.attempt]);
    expect(states).toEqual([
      ["QUEUED", 0],
      ["RUNNING", 1],
      ["QUEUED", 1],
      ["RUNNING", 2],
      ["COMPLETED", 2],
    ]);
    expect(items[2]!.error).toEqual({ code: "TRANSIENT", message: "try again" });
  });

  test("watch of an unknown or malformed id fails like getStatus", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const unknown = id.replace(/-[0-9A-Za-z]{12}$/, "-AAAAAAAAAAAA");
    const r1 = await recordWatch(env.api, unknown).waitEnd();
    await expectEngineError(Promise.reject(r1.error), "not_found");
    expect(r1.items).toEqual([]);
    const r2 = await recordWatch(env.api, "not an id").waitEnd();
    await expectEngineError(Promise.reject(r2.error), "invalid_argument", /id/);
  });

  test("changes that happen while the reader still holds the first status all arrive, in order", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const it = env.api.watch(id)[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ state: "QUEUED" });
    // The reader does not ask for more until the job has run to its end.
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete("done")).toBe(true);
    const rest: JobStatus[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest.at(-1)).toMatchObject({ state: "COMPLETED" });
    expect(rest.map((s) => s.state).filter((s, i, all) => s !== all[i - 1])).toEqual(["RUNNING", "COMPLETED"]);
  });
});
