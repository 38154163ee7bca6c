import { expect, test } from "vitest";
import { sameStatus } from "../../../src/engine/core/status-change.js";
import type { JobStatus } from "../../../src/engine/types.js";

const base: JobStatus = { id: "q-1", queue: "q", state: "QUEUED", attempt: 0, progress: 0, createdAt: 1 };
const line = (message: string, timestamp = 1) => ({ message, level: "info" as const, source: "handler", timestamp });

test("equal statuses are the same; every visible field makes a difference", () => {
  expect(sameStatus(base, { ...base })).toBe(true);
  for (const change of [
    { state: "RUNNING" as const },
    { queuePosition: 3 },
    { attempt: 1 },
    { progress: 0.5 },
    { startedAt: 2 },
    { finishedAt: 3 },
    { error: { code: "E", message: "m" } },
    { logs: [line("a")] },
  ]) {
    expect(sameStatus(base, { ...base, ...change })).toBe(false);
  }
});

test("logs at their bound (same count) differ by their newest line", () => {
  const a = { ...base, logs: [line("a"), line("b")] };
  expect(sameStatus(a, { ...base, logs: [line("a"), line("b")] })).toBe(true);
  expect(sameStatus(a, { ...base, logs: [line("b"), line("c", 2)] })).toBe(false);
});
