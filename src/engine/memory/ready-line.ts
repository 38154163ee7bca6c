/**
 * The waiting line of one queue of the embedded driver, by priority (see
 * ../core/priority.ts): one order-statistics set of sequence numbers per
 * priority level in use. The next job is the head of the highest non-empty
 * level; the jobs ahead of one are every waiting job of a higher level plus
 * those before it in its own, so positions stay exact in O(levels + log n).
 */
import { MAX_PRIORITY, MIN_PRIORITY } from "../job-id.js";
import { createSeqSet, type SeqSet } from "./order-stats.js";

export interface ReadyLine {
  readonly size: number;
  /** Loop steps of every level's set so far (tests count these, see order-stats.ts). */
  readonly operations: number;
  add(seq: number, priority: number): void;
  delete(seq: number, priority: number): boolean;
  /** Jobs that will be handed out before this one. */
  ahead(seq: number, priority: number): number;
  /** The seq to hand out next: the highest priority's oldest. */
  first(): number | undefined;
}

/** @param floor as createSeqSet's: the oldest seq that may come back. */
export function createReadyLine(floor: () => number): ReadyLine {
  // Index = priority; created on first use, so a queue without priorities holds one set.
  const levels: (SeqSet | undefined)[] = [];
  let size = 0;
  const level = (priority: number) => (levels[priority] ??= createSeqSet(floor));
  return {
    get size() {
      return size;
    },
    get operations() {
      let n = 0;
      for (const set of levels) n += set?.operations ?? 0;
      return n;
    },
    add(seq, priority) {
      const set = level(priority);
      if (set.has(seq)) return;
      set.add(seq);
      size++;
    },
    delete(seq, priority) {
      const removed = levels[priority]?.delete(seq) ?? false;
      if (removed) size--;
      return removed;
    },
    ahead(seq, priority) {
      let n = levels[priority]?.countBelow(seq) ?? 0;
      for (let p = priority + 1; p <= MAX_PRIORITY; p++) n += levels[p]?.size ?? 0;
      return n;
    },
    first() {
      for (let p = MAX_PRIORITY; p >= MIN_PRIORITY; p--) {
        const set = levels[p];
        if (set && set.size > 0) return set.first();
      }
      return undefined;
    },
  };
}
