/**
 * Many deadlines, one timer: a min-heap of (time, item) with a single unref'd
 * timer armed for the earliest. Start deadlines and retention of a million
 * jobs cost a heap entry each, not a million timers.
 */

export interface TimerHeap<T> {
  readonly size: number;
  add(at: number, item: T): void;
  /** Drops every entry and the timer (engine close). */
  clear(): void;
}

// setTimeout overflows past 2^31-1 ms and fires at once; re-arm instead.
const MAX_DELAY = 2 ** 31 - 1;

export function createTimerHeap<T>(onDue: (item: T) => void): TimerHeap<T> {
  const times: number[] = [];
  const items: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;

  const swap = (a: number, b: number) => {
    [times[a], times[b]] = [times[b]!, times[a]!];
    [items[a], items[b]] = [items[b]!, items[a]!];
  };

  const push = (at: number, item: T) => {
    times.push(at);
    items.push(item);
    let i = times.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent]! <= times[i]!) break;
      swap(i, parent);
      i = parent;
    }
  };

  const pop = (): T => {
    const top = items[0]!;
    const lastTime = times.pop()!;
    const lastItem = items.pop()!;
    if (times.length > 0) {
      times[0] = lastTime;
      items[0] = lastItem;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < times.length && times[l]! < times[min]!) min = l;
        if (r < times.length && times[r]! < times[min]!) min = r;
        if (min === i) break;
        swap(i, min);
        i = min;
      }
    }
    return top;
  };

  const arm = () => {
    const next = times[0];
    if (next === undefined) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      armedFor = Infinity;
      return;
    }
    if (timer && armedFor === next) return;
    if (timer) clearTimeout(timer);
    armedFor = next;
    timer = setTimeout(fire, Math.min(MAX_DELAY, Math.max(0, next - Date.now())));
    timer.unref();
  };

  const fire = () => {
    timer = undefined;
    armedFor = Infinity;
    const now = Date.now();
    while (times.length > 0 && times[0]! <= now) onDue(pop());
    arm();
  };

  return {
    get size() {
      return times.length;
    },
    add(at, item) {
      push(at, item);
      if (at < armedFor) arm();
    },
    clear() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      armedFor = Infinity;
      times.length = 0;
      items.length = 0;
    },
  };
}
