/**
 * Queue positions of the embedded engine stay exact and cheap with a million
 * jobs waiting: each lookup is O(log n) steps of the order-statistics set,
 * counted, not timed.
 */
import { afterAll, expect, test } from "vitest";
import { createMemoryEngine, memoryEngineInternals } from "../../src/engine/memory/engine.js";

const engine = createMemoryEngine();
afterAll(() => engine.close());

test(
  "1,000,000 queued jobs: getStatus, cancel and fetch each cost O(log n) position steps",
  { timeout: 120_000 },
  async () => {
    const q = "million";
    await engine.declareQueue(q);
    const n = 1_000_000;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const s = await engine.submit({ queue: q, input: i });
      if (i % 100_000 === 0 || i === n - 1) {
        expect(s.queuePosition).toBe(i);
        ids.push(s.id);
      }
    }
    const ready = memoryEngineInternals(engine).readySet(q)!;
    const bound = 3 * (Math.ceil(Math.log2(n)) + 2); // a few tree walks per call

    const steps = async <T>(fn: () => Promise<T>): Promise<{ value: T; steps: number }> => {
      const before = ready.operations;
      const value = await fn();
      return { value, steps: ready.operations - before };
    };

    const last = await steps(() => engine.getStatus(ids[ids.length - 1]!));
    expect(last.value.queuePosition).toBe(n - 1);
    expect(last.steps).toBeLessThanOrEqual(bound);

    // Cancel one from the middle: everything behind moves up by exactly one.
    const cancelled = await steps(() => engine.cancel(ids[5]!)); // job 500,000
    expect(cancelled.value.removed).toBe(true);
    expect(cancelled.steps).toBeLessThanOrEqual(bound);
    expect((await engine.getStatus(ids[6]!)).queuePosition).toBe(600_000 - 1);
    expect((await engine.getStatus(ids[4]!)).queuePosition).toBe(400_000);

    // Fetching the head: O(log n) to find and remove it; positions shift by one.
    const fetched = await steps(() => engine.fetch(q, { max: 1, expiresMs: 0 }));
    expect(fetched.value).toHaveLength(1);
    expect(fetched.value[0]!.id).toBe(ids[0]);
    expect(fetched.steps).toBeLessThanOrEqual(bound);
    expect((await engine.getStatus(ids[1]!)).queuePosition).toBe(100_000 - 1);
    expect((await engine.getStatus(ids[ids.length - 1]!)).queuePosition).toBe(n - 3);

    const counts = await steps(() => engine.queueCount(q));
    expect(counts.value).toEqual({ queue: q, inQueue: n - 2, running: 1 });
    expect(counts.steps).toBe(0);
  },
);
