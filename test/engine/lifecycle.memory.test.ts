/**
 * Embedded-engine specifics the conformance suite cannot drive on both
 * engines: retention with a short retentionMs, start deadlines expiring in
 * the queue on their own, close() semantics, fetch fairness, release.
 */
import { afterAll, describe, expect, test } from "vitest";
import { EngineError } from "../../src/engine/errors.js";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine, JobStatus } from "../../src/engine/types.js";

async function rejection(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(EngineError);
    return err as EngineError;
  }
  throw new Error("expected a rejection");
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function collect(it: AsyncIterable<JobStatus>): Promise<{ items: JobStatus[]; error?: unknown }> {
  const items: JobStatus[] = [];
  try {
    for await (const s of it) items.push(s);
    return { items };
  } catch (error) {
    return { items, error };
  }
}

describe("retention", () => {
  const engine = createMemoryEngine({ retentionMs: 100 });
  afterAll(() => engine.close());

  test("a finished job and its logs are removed after retentionMs; NOT_FOUND says why; its idempotency key is free again", async () => {
    await engine.declareQueue("r");
    const s = await engine.submit({ queue: "r", input: 1, idempotencyKey: "k", tenant: "t1" });
    const [lease] = await engine.fetch("r", { max: 1, expiresMs: 1000 });
    await lease!.begin();
    lease!.log("info", "hello");
    await lease!.complete("ok");
    expect((await engine.getStatus(s.id, { includeLogs: true })).logs).toHaveLength(1);

    const gone = await until(() =>
      engine.getStatus(s.id).then(
        () => undefined,
        (e: unknown) => e as EngineError,
      ),
    );
    expect(gone.code).toBe("not_found");
    expect(gone.message).toMatch(/may have expired after the retention of/);
    // Another tenant learns nothing: the same message as an unknown id.
    const other = await rejection(engine.getStatus(s.id, { tenant: "t2" }));
    expect(other.message).toBe(`job "${s.id}" not found`);

    const again = await engine.submit({ queue: "r", input: 2, idempotencyKey: "k", tenant: "t1" });
    expect(again.id).not.toBe(s.id);
    expect(again.state).toBe("QUEUED");
  });

  test("an unfinished job is never removed by retention", async () => {
    await engine.declareQueue("r2");
    const s = await engine.submit({ queue: "r2", input: 1 });
    await new Promise((r) => setTimeout(r, 250)); // longer than retentionMs: part of the scenario
    expect((await engine.getStatus(s.id)).state).toBe("QUEUED");
  });
});

describe("jobs of one engine", () => {
  let engine: Engine;
  afterAll(() => engine?.close());

  test("a start deadline expires the job in the queue on its own, and watchers see EXPIRED", async () => {
    engine = createMemoryEngine();
    await engine.declareQueue("d");
    const s = await engine.submit({ queue: "d", input: 1, options: { startDeadline: Date.now() + 100 } });
    const behind = await engine.submit({ queue: "d", input: 2 });
    expect(behind.queuePosition).toBe(1);
    const { items, error } = await collect(engine.watch(s.id));
    expect(error).toBeUndefined();
    expect(items.map((i) => i.state)).toEqual(["QUEUED", "EXPIRED"]);
    expect(items[1]!.error?.code).toBe("EXPIRED");
    expect(items[1]!.finishedAt).toBeDefined();
    expect((await engine.getStatus(behind.id)).queuePosition).toBe(0);
    expect(await engine.queueCount("d")).toEqual({ queue: "d", inQueue: 1, running: 0 });
  });

  test("a job whose deadline passed while leased but not begun: begin() is false and it is EXPIRED", async () => {
    await engine.declareQueue("d2");
    const s = await engine.submit({ queue: "d2", input: 1, options: { startDeadline: Date.now() + 50 } });
    const [lease] = await engine.fetch("d2", { max: 1, expiresMs: 0 });
    await until(async () => ((await engine.getStatus(s.id)).state === "EXPIRED" ? true : undefined));
    expect(await lease!.begin()).toBe(false);
    expect(await engine.queueCount("d2")).toEqual({ queue: "d2", inQueue: 0, running: 0 });
  });

  test("a watch of a QUEUED job gets its new position when the line moves, once per move", async () => {
    await engine.declareQueue("line");
    const a = await engine.submit({ queue: "line", input: "a" });
    const b = await engine.submit({ queue: "line", input: "b" });
    const c = await engine.submit({ queue: "line", input: "c" });
    const items: JobStatus[] = [];
    const watching = (async () => {
      for await (const s of engine.watch(c.id)) items.push(s);
    })();
    const seen = (n: number) => until(async () => (items.length >= n ? true : undefined));
    await seen(1);
    const [leaseA] = await engine.fetch("line", { max: 1, expiresMs: 0 });
    expect(leaseA!.id).toBe(a.id);
    await seen(2);
    await engine.cancel(b.id);
    await seen(3);
    const [leaseC] = await engine.fetch("line", { max: 1, expiresMs: 0 });
    await leaseC!.begin();
    await leaseC!.complete("done");
    await watching;
    expect(items.map((s) => [s.state, s.queuePosition])).toEqual([
      ["QUEUED", 2],
      ["QUEUED", 1],
      ["QUEUED", 0],
      ["RUNNING", undefined],
      ["COMPLETED", undefined],
    ]);
    expect(engine.stats().openWatches).toBe(0);
  });

  test("pending fetches are served first come, first served", async () => {
    await engine.declareQueue("fifo");
    const first = engine.fetch("fifo", { max: 5, expiresMs: 5000 });
    const second = engine.fetch("fifo", { max: 5, expiresMs: 5000 });
    const a = await engine.submit({ queue: "fifo", input: "a" });
    const b = await engine.submit({ queue: "fifo", input: "b" });
    expect((await first).map((l) => l.id)).toEqual([a.id]);
    expect((await second).map((l) => l.id)).toEqual([b.id]);
  });

  test("release() hands the job back at once without using an attempt", async () => {
    await engine.declareQueue("rel", { maxAttempts: 1 });
    const s = await engine.submit({ queue: "rel", input: 1 });
    const [lease] = await engine.fetch("rel", { max: 1, expiresMs: 0 });
    await lease!.begin();
    await lease!.release();
    const back = await engine.getStatus(s.id);
    expect(back).toMatchObject({ state: "QUEUED", queuePosition: 0 });
    expect(await lease!.complete("stale")).toBe(false);
    const [again] = await engine.fetch("rel", { max: 1, expiresMs: 0 });
    expect(again!.attempt).toBe(2); // numbered as a rerun, yet maxAttempts 1 still lets it run
    expect(await again!.begin()).toBe(true);
    expect(await again!.complete("ok")).toBe(true);
  });

  test("ids: malformed → INVALID_ARGUMENT naming the field; right shape, wrong token → NOT_FOUND", async () => {
    await engine.declareQueue("ids");
    const s = await engine.submit({ queue: "ids", input: 1 });
    const bad = await rejection(engine.getStatus("not-an-id"));
    expect(bad.code).toBe("invalid_argument");
    expect(bad.message).toMatch(/^id: /);
    const forged = s.id.slice(0, -12) + (s.id.endsWith("A".repeat(12)) ? "B" : "A").repeat(12);
    const missing = await rejection(engine.getStatus(forged));
    expect(missing.code).toBe("not_found");
    expect(missing.message).toBe(`job "${forged}" not found`);
    expect((await rejection(engine.cancel(forged))).code).toBe("not_found");
    expect((await rejection(engine.getResult(forged))).code).toBe("not_found");
  });

  test("close(): pending fetches resolve [], open watches end UNAVAILABLE, later fetches return [] at once, other calls are UNAVAILABLE", async () => {
    await engine.declareQueue("closing");
    const s = await engine.submit({ queue: "closing", input: 1 });
    const [lease] = await engine.fetch("closing", { max: 1, expiresMs: 0 });
    await lease!.begin();
    await engine.declareQueue("idle");
    const pending = engine.fetch("idle", { max: 1, expiresMs: 60_000 });
    const watching = collect(engine.watch(s.id));
    await until(async () => (engine.stats().openWatches === 1 ? true : undefined));

    await engine.close();
    expect(await pending).toEqual([]);
    const watched = await watching;
    expect(watched.items.map((i) => i.state)).toEqual(["RUNNING"]);
    expect(watched.error).toBeInstanceOf(EngineError);
    expect((watched.error as EngineError).code).toBe("unavailable");
    expect(engine.stats().openWatches).toBe(0);
    expect((await rejection(engine.submit({ queue: "closing", input: 2 }))).code).toBe("unavailable");
    expect(await engine.fetch("idle", { max: 1, expiresMs: 10_000 })).toEqual([]);
    expect(await lease!.complete("late")).toBe(false);
    await engine.close(); // idempotent
  });
});
