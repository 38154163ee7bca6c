/**
 * The rest of a job's life: start deadlines (EXPIRED), logs and progress as
 * getStatus reports them, and what close() does to fetches, watches and calls.
 */
import { expect, test } from "vitest";
import {
  expectEngineError,
  fetchFor,
  fetchOne,
  forEachEngine,
  recordWatch,
  startWorker,
  waitFor,
  waitForState,
  waitForStatus,
} from "./harness.js";

forEachEngine("lifecycle", (env) => {
  test("a job whose startDeadline passed before it was fetched ends EXPIRED and never runs", async () => {
    const q = await env.queue();
    const deadline = Date.now() + 300;
    const { id } = await env.api.submit({ queue: q, input: "late", options: { startDeadline: deadline } });
    const onTime = await env.api.submit({ queue: q, input: "on time" });
    await waitFor(() => Date.now() > deadline + 50, { what: "the start deadline to pass" });

    const worker = startWorker(env.worker, q, (lease) => lease.input);
    try {
      const expired = await waitForState(env.api, id, "EXPIRED");
      expect(expired.finishedAt).toBeDefined();
      expect(expired.startedAt).toBeUndefined();
      await waitForState(env.api, onTime.id, "COMPLETED");
    } finally {
      await worker.stop();
    }
    expect(worker.errors).toEqual([]);
    // delivered or not, the expired job's begin() said no
    expect(worker.deliveries.filter((d) => d.id === id && d.begun)).toEqual([]);
    expect(worker.deliveries.filter((d) => d.begun).map((d) => d.id)).toEqual([onTime.id]);
    const result = await env.api.getResult(id);
    expect(result.state).toBe("EXPIRED");
    expect(result.output).toBeUndefined();
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);

    const cancel = await env.api.cancel(id);
    expect(cancel.removed).toBe(false);
    expect(cancel.message).toMatch(/EXPIRED/);
  });

  test("a lease fetched before its startDeadline but begun after it: begin() false, EXPIRED", async () => {
    const q = await env.queue();
    const deadline = Date.now() + 400;
    const { id } = await env.api.submit({ queue: q, input: 1, options: { startDeadline: deadline } });
    const lease = await fetchOne(env.worker, q);
    expect(lease.options.startDeadline).toBe(deadline);
    await waitFor(() => Date.now() > deadline + 20, { what: "the start deadline to pass" });
    expect(await lease.begin()).toBe(false);
    await waitForState(env.api, id, "EXPIRED");
    expect(await fetchFor(env.worker, q, 300)).toEqual([]);
  });

  test("a job begun before its startDeadline runs normally", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 7, options: { startDeadline: Date.now() + 10_000 } });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(8)).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    expect((await env.api.getResult(id)).output).toBe(8);
  });

  test("lease.log lines appear in getStatus({includeLogs}) in order with level, source and timestamp; never without it", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    const before = Date.now();
    lease.log("debug", "starting");
    lease.log("info", "step 1 of 2 — ünïcode");
    lease.log("warn", "slow upstream");
    lease.log("error", "recovered from an error");
    const after = Date.now();

    const running = await waitForStatus(env.api, id, (s) => s.state === "RUNNING" && (s.logs?.length ?? 0) >= 4, {
      includeLogs: true,
      what: "4 log lines while RUNNING",
    });
    const expected = [
      ["debug", "starting"],
      ["info", "step 1 of 2 — ünïcode"],
      ["warn", "slow upstream"],
      ["error", "recovered from an error"],
    ];
    expect(running.logs!.map((l) => [l.level, l.message])).toEqual(expected);
    for (const l of running.logs!) {
      expect(l.source).toBe("handler");
      expect(l.timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(l.timestamp).toBeLessThanOrEqual(after + 1);
    }
    const timestamps = running.logs!.map((l) => l.timestamp);
    expect([...timestamps].sort((a, b) => a - b)).toEqual(timestamps);
    expect((await env.api.getStatus(id)).logs ?? []).toEqual([]);
    expect((await env.api.getStatus(id, { includeLogs: false })).logs ?? []).toEqual([]);

    lease.log("info", "done");
    expect(await lease.complete(null)).toBe(true);
    // the lines stay readable after the job finished
    const done = await waitForStatus(env.api, id, (s) => s.state === "COMPLETED" && (s.logs?.length ?? 0) >= 5, {
      includeLogs: true,
      what: "COMPLETED with 5 log lines",
    });
    expect(done.logs!.map((l) => [l.level, l.message])).toEqual([...expected, ["info", "done"]]);
    expect((await env.api.getStatus(id)).logs ?? []).toEqual([]);
  });

  test("log lines of every attempt of a retried job are kept in order", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const l1 = await fetchOne(env.worker, q);
    expect(await l1.begin()).toBe(true);
    l1.log("info", "attempt 1 starts");
    l1.log("error", "attempt 1 fails");
    await waitForStatus(env.api, id, (s) => (s.logs?.length ?? 0) >= 2, { includeLogs: true, what: "2 log lines" });
    expect(await l1.fail({ code: "E", message: "first" })).toBe(true);
    const l2 = await fetchOne(env.worker, q);
    expect(await l2.begin()).toBe(true);
    l2.log("info", "attempt 2 starts");
    await waitForStatus(env.api, id, (s) => (s.logs?.length ?? 0) >= 3, { includeLogs: true, what: "3 log lines" });
    expect(await l2.complete(null)).toBe(true);
    const done = await waitForStatus(env.api, id, (s) => s.state === "COMPLETED" && (s.logs?.length ?? 0) >= 3, {
      includeLogs: true,
      what: "COMPLETED with 3 log lines",
    });
    expect(done.logs!.map((l) => l.message)).toEqual(["attempt 1 starts", "attempt 1 fails", "attempt 2 starts"]);
  });

  test("progress appears in getStatus and the last value stays", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    lease.progress(0.3);
    await waitForStatus(env.api, id, (s) => s.progress === 0.3, { what: "progress 0.3" });
    lease.progress(0.9);
    const s = await waitForStatus(env.api, id, (s) => s.progress === 0.9, { what: "progress 0.9" });
    expect(s.state).toBe("RUNNING");
    expect(await lease.complete(null)).toBe(true);
    const done = await waitForState(env.api, id, "COMPLETED");
    expect(done.progress).toBeGreaterThanOrEqual(0.9);
    expect(done.progress).toBeLessThanOrEqual(1);
  });

  test("a job's full life through getStatus: every field where it belongs", async () => {
    const q = await env.queue({ maxAttempts: 2, backoffBaseMs: 50, backoffMaxMs: 50 });
    const submitted = await env.api.submit({
      queue: q,
      input: { x: 1 },
      options: { maxAttempts: 2, timeoutMs: 60_000 },
    });
    const lease = await fetchOne(env.worker, q);
    expect(lease.options).toMatchObject({ maxAttempts: 2, timeoutMs: 60_000 });
    expect(await lease.begin()).toBe(true);
    const running = await waitForStatus(
      env.api,
      submitted.id,
      (s) => s.state === "RUNNING" && s.startedAt !== undefined,
    );
    expect(running).toMatchObject({ id: submitted.id, queue: q, attempt: 1, createdAt: submitted.createdAt });
    expect(running.error).toBeUndefined();
    expect(await lease.complete({ y: 2 })).toBe(true);
    const done = await waitForState(env.api, submitted.id, "COMPLETED");
    expect(done).toMatchObject({ id: submitted.id, queue: q, attempt: 1, createdAt: submitted.createdAt });
    expect(done.startedAt).toBeDefined();
    expect(done.finishedAt!).toBeGreaterThanOrEqual(done.startedAt!);
    expect(done.queuePosition).toBeUndefined();
  });

  // close() is tested on a backend of its own, since closing ends the engine for every later test.
  test("close() resolves a pending fetch with [], ends open watches with UNAVAILABLE, and later calls are UNAVAILABLE", async () => {
    const backend = await env.kind.start();
    try {
      const engine = await backend.open();
      const q = `close-${Date.now().toString(36)}`;
      await engine.declareQueue(q);
      const { id } = await engine.submit({ queue: q, input: 1 });
      const lease = await fetchOne(engine, q);
      expect(lease.id).toBe(id);

      const pending = engine.fetch(q, { max: 1, expiresMs: 20_000 });
      const watch = recordWatch(engine, id);
      await watch.waitItems(1);

      const t0 = Date.now();
      await engine.close();
      expect(await pending).toEqual([]);
      expect(Date.now() - t0).toBeLessThan(5_000);
      const ended = await watch.waitEnd(5_000);
      await expectEngineError(Promise.reject(ended.error), "unavailable");

      await expectEngineError(engine.submit({ queue: q, input: 2 }), "unavailable");
      await expectEngineError(engine.getStatus(id), "unavailable");
    } finally {
      // a second close (the backend's own) may complain about the engine closed above
      await backend.stop().catch(() => undefined);
    }
  });
});
