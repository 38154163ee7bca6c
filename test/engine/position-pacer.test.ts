/**
 * The position pacer both engines use for watches of QUEUED jobs: a global
 * budget, a per-watch interval, oldest-due first, the value at send time.
 * Runs on a fake clock (vitest timers), so figures are exact.
 */
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { createPositionPacer, type PacedWatch } from "../../src/engine/position-pacer.js";

/** A watch whose position moves when the test says; records what it was sent and when. */
function fakeWatch(id: number) {
  const w = {
    id,
    position: 100,
    lastSent: undefined as number | undefined,
    sent: [] as Array<{ at: number; position: number }>,
    flushPosition() {
      if (w.position === w.lastSent) return false;
      w.lastSent = w.position;
      w.sent.push({ at: Date.now(), position: w.position });
      return true;
    },
  } satisfies PacedWatch & Record<string, unknown>;
  return w;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

test("the budget bounds position messages per second across all watches, and every watch gets its turn", () => {
  const pacer = createPositionPacer({ perSecond: 100, minIntervalMs: 1_000, tickMs: 100 });
  const watches = Array.from({ length: 1_000 }, (_, i) => fakeWatch(i));
  for (const w of watches) {
    w.position = 50;
    pacer.due(w);
  }
  // Each second at most the budget (plus what one tick lets out at once).
  for (let s = 0; s < 10; s++) {
    const before = pacer.sent;
    vi.advanceTimersByTime(1_000);
    const inSecond = pacer.sent - before;
    expect(inSecond).toBeLessThanOrEqual(100 + 10);
  }
  vi.advanceTimersByTime(1_000);
  expect(pacer.pending).toBe(0);
  expect(pacer.sent).toBe(1_000);
  // Oldest due first: the order they became due.
  const order = [...watches].sort((a, b) => a.sent[0]!.at - b.sent[0]!.at || a.id - b.id).map((w) => w.id);
  expect(order).toEqual(watches.map((w) => w.id));
  // Every watch got exactly one message, with the final position.
  expect(watches.every((w) => w.sent.length === 1 && w.sent[0]!.position === 50)).toBe(true);
  pacer.close();
});

test("one watch whose position keeps moving gets at most one message per interval, always its latest position", () => {
  const pacer = createPositionPacer({ perSecond: 1_000, minIntervalMs: 1_000, tickMs: 100 });
  const w = fakeWatch(1);
  // The line moves every 50 ms for 5 s.
  for (let t = 0; t < 5_000; t += 50) {
    w.position--;
    pacer.due(w);
    vi.advanceTimersByTime(50);
  }
  vi.advanceTimersByTime(1_500);
  const gaps = w.sent.slice(1).map((m, i) => m.at - w.sent[i]!.at);
  expect(gaps.every((g) => g >= 1_000)).toBe(true);
  expect(w.sent.length).toBeGreaterThanOrEqual(5);
  expect(w.sent.length).toBeLessThanOrEqual(6);
  // The first move goes out at once; the last message carries the final position.
  expect(w.sent[0]).toEqual({ at: 1_000_000, position: 99 });
  expect(w.sent[w.sent.length - 1]!.position).toBe(100 - 100);
  pacer.close();
});

test("a watch whose position moved back before its turn costs nothing; a removed watch is never flushed", () => {
  const pacer = createPositionPacer({ perSecond: 10, minIntervalMs: 1_000, tickMs: 100 });
  const a = fakeWatch(1);
  const b = fakeWatch(2);
  const c = fakeWatch(3);
  a.lastSent = b.lastSent = c.lastSent = 100;
  // The budget of this tick (1) goes to whoever is first and has something to say.
  a.position = 99;
  pacer.due(a); // at once
  b.position = 98;
  pacer.due(b); // waits: the tick's budget is spent
  c.position = 97;
  pacer.due(c);
  b.position = 100; // moved back: nothing to send when its turn comes
  pacer.remove(c);
  vi.advanceTimersByTime(2_000);
  expect(a.sent.map((m) => m.position)).toEqual([99]);
  expect(b.sent).toEqual([]);
  expect(c.sent).toEqual([]);
  expect(pacer.sent).toBe(1);
  expect(pacer.pending).toBe(0);
  pacer.close();
});

test("a watch already due keeps its place; close() drops everything and stops the timer", () => {
  const pacer = createPositionPacer({ perSecond: 10, minIntervalMs: 1_000, tickMs: 100 });
  const watches = Array.from({ length: 5 }, (_, i) => fakeWatch(i));
  for (const w of watches) {
    w.position = 1;
    pacer.due(w);
  }
  // watch 0 went out at once; the rest wait, one per tick.
  expect(pacer.sent).toBe(1);
  watches[1]!.position = 2;
  pacer.due(watches[1]!); // already due: no second entry
  expect(pacer.pending).toBe(4);
  vi.advanceTimersByTime(100);
  expect(watches[1]!.sent.map((m) => m.position)).toEqual([2]);
  pacer.close();
  expect(pacer.pending).toBe(0);
  vi.advanceTimersByTime(5_000);
  expect(pacer.sent).toBe(2);
  expect(vi.getTimerCount()).toBe(0);
});
