import { describe, expect, test } from "vitest";
import { afterFailure, backoffMs } from "../../../src/engine/core/retry-policy.js";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../../src/engine/types.js";

const config: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 1_000 };
const low = () => 0;
const high = () => 0.999_999;
const mid = () => 0.5;

describe("backoffMs", () => {
  test("doubles from the base per retry, capped at the max", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(config, n, {}, mid))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });
  test("is jittered within ±20%", () => {
    expect(backoffMs(config, 2, {}, low)).toBe(160);
    expect(backoffMs(config, 2, {}, high)).toBe(240);
  });
  test("the job's own base and max override the queue's", () => {
    expect(backoffMs(config, 3, { backoffBaseMs: 10, backoffMaxMs: 30 }, mid)).toBe(30);
    expect(backoffMs(config, 1, { backoffBaseMs: 10 }, mid)).toBe(10);
  });
});

describe("afterFailure", () => {
  const run = (attempt: number, interrupted = 0, lost = 0) => ({ attempt, interrupted, lost });
  test("retries while attempts remain, after the backoff of the attempts used", () => {
    expect(afterFailure(run(1), true, {}, config, mid)).toEqual({ retry: true, delayMs: 100 });
    expect(afterFailure(run(2), true, {}, config, mid)).toEqual({ retry: true, delayMs: 200 });
    expect(afterFailure(run(3), true, {}, config, mid)).toEqual({ retry: false });
  });
  test("a non-retryable failure ends the job whatever remains", () => {
    expect(afterFailure(run(1), false, {}, config, mid)).toEqual({ retry: false });
  });
  test("interrupted and lost runs are numbered but do not use up attempts", () => {
    expect(afterFailure(run(4, 1, 1), true, {}, config, mid)).toEqual({ retry: true, delayMs: 200 });
    expect(afterFailure(run(5, 1, 1), true, {}, config, mid)).toEqual({ retry: false });
  });
  test("the job's maxAttempts overrides the queue's", () => {
    expect(afterFailure(run(1), true, { maxAttempts: 1 }, config, mid)).toEqual({ retry: false });
    expect(afterFailure(run(3), true, { maxAttempts: 5 }, config, mid)).toEqual({ retry: true, delayMs: 400 });
  });
});
