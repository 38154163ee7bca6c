/**
 * What a handler writes is bounded, with the same numbers on every engine:
 * each attempt keeps maxLines lines and maxBytes bytes (lines cut to
 * maxLineBytes), then "jetq" lines in the job say the limit was reached and
 * how much was dropped; a job keeps its newest lines, a read returns at most
 * those; progress events are paced without losing the last value.
 */
import { expect, test } from "vitest";
import { PROGRESS_BURST } from "../../src/engine/progress-pacing.js";
import type { JobLease, LogEntry } from "../../src/engine/types.js";
import { fetchOne, forEachEngineWith, recordWatch, waitFor, waitForState } from "./harness.js";

const BOUNDS = { maxLines: 50, maxLineBytes: 256, maxBytes: 4096 };
const PROGRESS_INTERVAL_MS = 300;

const handlerLines = (logs: LogEntry[] | undefined) => (logs ?? []).filter((l) => l.source === "handler");
const jetqLines = (logs: LogEntry[] | undefined) => (logs ?? []).filter((l) => l.source === "jetq");
const utf8 = (s: string) => Buffer.byteLength(s);

forEachEngineWith("log bounds", { logBounds: BOUNDS, progressIntervalMs: PROGRESS_INTERVAL_MS }, (env) => {
  async function runOne(queue: string, write: (lease: JobLease) => void): Promise<string> {
    const { id } = await env.api.submit({ queue, input: 1 });
    const lease = await fetchOne(env.worker, queue);
    expect(await lease.begin()).toBe(true);
    write(lease);
    expect(await lease.complete("done")).toBe(true);
    await waitForState(env.api, id, "COMPLETED");
    return id;
  }

  test("an attempt writing 100,000 lines keeps its first maxLines, and the job says how many were dropped", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const watch = recordWatch(env.api, id, { includeLogs: true });
    await watch.waitItems(1);
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    for (let i = 0; i < 100_000; i++) lease.log("info", `line ${i}`);
    expect(await lease.complete("done")).toBe(true);
    const s = await waitForState(env.api, id, "COMPLETED");
    expect(s.logs).toBeUndefined();

    const logs = (await env.api.getStatus(id, { includeLogs: true })).logs!;
    expect(handlerLines(logs).map((l) => l.message)).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}`));
    const notices = jetqLines(logs);
    expect(notices.map((l) => l.level)).toEqual(["warn", "warn"]);
    expect(notices[0]!.message).toMatch(
      /^log limit reached: .*50 lines or 4 KiB per attempt \(logBounds\.maxLines, logBounds\.maxBytes\)/,
    );
    expect(notices[1]!.message).toMatch(
      /^99950 log lines \(\d+ characters\) of this attempt were dropped: over 50 lines/,
    );
    expect(logs.at(-1)).toEqual(notices[1]);

    // A watch with logs ends with the same lines the job kept.
    const end = await watch.waitEnd(10_000);
    expect(end.error).toBeUndefined();
    expect(end.items.at(-1)!.logs!.map((l) => l.message)).toEqual(logs.map((l) => l.message));
  });

  test("a long line is cut to maxLineBytes (never inside a character), and marked", async () => {
    const q = await env.queue();
    const long = "é".repeat(1_000); // 2,000 bytes
    const id = await runOne(q, (lease) => {
      lease.log("warn", long);
      lease.log("info", "short");
    });
    const logs = (await env.api.getStatus(id, { includeLogs: true })).logs!;
    expect(logs.map((l) => l.source)).toEqual(["handler", "handler"]);
    const cut = logs[0]!.message;
    expect(utf8(cut)).toBeLessThanOrEqual(256);
    expect(cut).toMatch(/^é+ …\[jetq: line cut, 2000 bytes over the limit of 256 \(logBounds\.maxLineBytes\)\]$/);
    expect(cut).not.toContain("\uFFFD");
    expect(logs[0]!.level).toBe("warn");
    expect(logs[1]!.message).toBe("short");
  });

  test("lines stop at maxBytes of one attempt even under maxLines", async () => {
    const q = await env.queue();
    const line = (i: number) => `${String(i).padStart(3, "0")}${"x".repeat(197)}`; // 200 bytes
    const id = await runOne(q, (lease) => {
      for (let i = 0; i < 40; i++) lease.log("info", line(i));
    });
    const logs = (await env.api.getStatus(id, { includeLogs: true })).logs!;
    // 20 lines of 200 bytes fill 4,000 of the 4,096 bytes.
    expect(handlerLines(logs).map((l) => l.message)).toEqual(Array.from({ length: 20 }, (_, i) => line(i)));
    expect(jetqLines(logs)[1]!.message).toMatch(/^20 log lines .* dropped/);
  });

  test("over several attempts a job keeps its newest lines: a read returns at most maxLines + 2", async () => {
    const q = await env.queue({ maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 50 });
    const { id } = await env.api.submit({ queue: q, input: 1 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const lease = await fetchOne(env.worker, q, { timeoutMs: 5_000 });
      expect(lease.attempt).toBe(attempt);
      expect(await lease.begin()).toBe(true);
      for (let i = 0; i < 60; i++) lease.log("info", `a${attempt} ${i}`);
      if (attempt < 3) expect(await lease.fail({ code: "E", message: "again" })).toBe(true);
      else expect(await lease.complete("done")).toBe(true);
    }
    await waitForState(env.api, id, "COMPLETED");
    const logs = (await env.api.getStatus(id, { includeLogs: true })).logs!;
    expect(logs).toHaveLength(52);
    expect(handlerLines(logs).map((l) => l.message)).toEqual(Array.from({ length: 50 }, (_, i) => `a3 ${i}`));
    expect(jetqLines(logs)[1]!.message).toMatch(/^10 log lines/);
  });

  test("progress in a tight loop is a few paced events, and the last value is never lost", async () => {
    const q = await env.queue();
    const { id } = await env.api.submit({ queue: q, input: 1 });
    const watch = recordWatch(env.api, id);
    await watch.waitItems(1);
    const lease = await fetchOne(env.worker, q);
    expect(await lease.begin()).toBe(true);
    await waitFor(() => watch.items.some((s) => s.state === "RUNNING"), { what: "RUNNING" });
    for (let i = 1; i <= 10_000; i++) lease.progress(i / 20_000);
    // Read at once: the newest value, whatever the events.
    await waitFor(async () => (await env.api.getStatus(id)).progress === 0.5, { what: "progress 0.5 readable" });
    await waitFor(() => watch.items.at(-1)!.progress === 0.5, {
      timeoutMs: 5_000,
      what: "the trailing progress event",
    });
    const reports = watch.items.filter((s) => s.state === "RUNNING" && s.progress > 0);
    // A burst at once, then the coalesced rest in one trailing event (a few more only under heavy load).
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports.length).toBeLessThanOrEqual(PROGRESS_BURST + 3);
    expect(await lease.complete("done")).toBe(true);
    const end = await watch.waitEnd();
    expect(end.items.at(-1)!.state).toBe("COMPLETED");
  });
});
