/**
 * The order-statistics set behind queue positions: exact against a naive
 * model, and logarithmic by count of steps (not by timing).
 */
import { describe, expect, test } from "vitest";
import { createSeqSet } from "../../src/engine/memory/order-stats.js";

/** Small deterministic PRNG so a failure reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("SeqSet", () => {
  test("agrees with a sorted-array model under random adds and deletes while the window slides", () => {
    const random = prng(42);
    const model = new Set<number>();
    let next = 1;
    // The floor is the oldest member of the model, as the queue's oldest live job.
    const set = createSeqSet(() => (model.size ? Math.min(...model) : next));
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.55) {
        set.add(next);
        model.add(next);
        next += 1 + Math.floor(random() * 3); // gaps, as cancelled or expired jobs leave
      } else if (model.size > 0) {
        const members = [...model];
        const victim = members[Math.floor(random() * members.length)]!;
        expect(set.delete(victim)).toBe(true);
        model.delete(victim);
      }
      if (step % 97 === 0) {
        const sorted = [...model].sort((a, b) => a - b);
        expect(set.size).toBe(sorted.length);
        expect(set.first()).toBe(sorted[0]);
        for (const probe of [sorted[0], sorted[sorted.length >> 1], next, 1].filter((x) => x !== undefined)) {
          expect(set.countBelow(probe!)).toBe(sorted.filter((m) => m < probe!).length);
        }
      }
    }
  });

  test("a member below the window (a job coming back from backoff) is still counted", () => {
    let floor = 1;
    const set = createSeqSet(() => floor);
    for (let s = 1; s <= 5000; s++) set.add(s);
    for (let s = 1; s <= 4990; s++) set.delete(s);
    floor = 3000; // oldest live job is 3000: window may slide up to it
    for (let s = 5001; s <= 20_000; s++) set.add(s);
    set.add(3000);
    expect(set.first()).toBe(3000);
    expect(set.countBelow(4995)).toBe(1 + 4); // 3000, 4991..4994
    expect(set.countBelow(20_001)).toBe(1 + 10 + 15_000);
    expect(set.has(3000)).toBe(true);
    expect(set.has(2999)).toBe(false);
  });

  test("with 1,000,000 members, countBelow and first take O(log n) steps and inserts O(1) amortised", () => {
    const n = 1_000_000;
    const set = createSeqSet();
    for (let s = 1; s <= n; s++) set.add(s);
    const perInsert = set.operations / n;
    // log2(2^21) = 21 tree steps per insert plus amortised rebuilds (a few per insert).
    expect(perInsert).toBeLessThan(30);

    const log = Math.ceil(Math.log2(n)) + 2;
    for (const seq of [1, 2, 500_000, 999_999, n, n + 1]) {
      const before = set.operations;
      expect(set.countBelow(seq)).toBe(seq - 1);
      expect(set.operations - before).toBeLessThanOrEqual(log);
    }
    for (let i = 0; i < 10; i++) {
      const before = set.operations;
      const head = set.first()!;
      expect(set.operations - before).toBeLessThanOrEqual(log);
      const afterFirst = set.operations;
      expect(set.delete(head)).toBe(true);
      expect(set.operations - afterFirst).toBeLessThanOrEqual(log);
    }
    expect(set.first()).toBe(11);
    expect(set.countBelow(n)).toBe(n - 11);
  });
});
