/**
 * The set of waiting sequence numbers of one queue, with order statistics.
 *
 * A Fenwick tree over a window of sequence numbers answers "how many waiting
 * jobs are ahead of seq" (the queue position) and "which waiting job is next"
 * in O(log window), so positions stay exact and cheap with a million jobs
 * waiting. The window slides forward when it fills, rebuilt in O(window), so
 * the cost per insert stays constant when amortised.
 */

export interface SeqSet {
  readonly size: number;
  /**
   * Loop steps taken by every operation so far. Tests assert complexity by
   * counting these instead of timing.
   */
  readonly operations: number;
  has(seq: number): boolean;
  add(seq: number): void;
  delete(seq: number): boolean;
  /** How many members are smaller than seq. */
  countBelow(seq: number): number;
  /** The smallest member. */
  first(): number | undefined;
}

const MIN_CAPACITY = 1024;

/** A window of capacity seqs from base holding members, with its Fenwick tree (built in linear time). */
function windowOf(members: number[], base: number, capacity: number) {
  const present = new Uint8Array(capacity);
  const tree = new Int32Array(capacity + 1);
  for (const m of members) {
    present[m - base] = 1;
    tree[m - base + 1] = 1;
  }
  // Push each node into its parent.
  for (let i = 1; i <= capacity; i++) {
    const parent = i + (i & -i);
    if (parent <= capacity) tree[parent] = tree[parent]! + tree[i]!;
  }
  return { present, tree };
}

/**
 * @param floor the smallest seq that may still be added later (e.g. the
 *   oldest job that is leased or backing off and may come back); the window
 *   never slides past it, so a returning job never forces a rebuild.
 */
export function createSeqSet(floor?: () => number): SeqSet {
  let base = 1; // seq held at index 1
  let capacity = MIN_CAPACITY; // a power of two
  let tree = new Int32Array(capacity + 1);
  let present = new Uint8Array(capacity);
  let size = 0;
  let operations = 0;

  const update = (index: number, delta: number) => {
    for (let i = index; i <= capacity; i += i & -i) {
      tree[i] = tree[i]! + delta;
      operations++;
    }
  };

  const prefix = (index: number) => {
    let sum = 0;
    for (let i = index; i > 0; i -= i & -i) {
      sum += tree[i]!;
      operations++;
    }
    return sum;
  };

  const inWindow = (seq: number) => seq >= base && seq < base + capacity;

  /** Re-centres the window so it holds every member, seq and the floor. */
  const rebuild = (seq: number) => {
    const members: number[] = [];
    for (let i = 0; i < capacity; i++) if (present[i]) members.push(base + i);
    operations += capacity;
    let low = Math.min(seq, members[0] ?? seq);
    if (floor) low = Math.min(low, floor());
    const high = Math.max(seq, members[members.length - 1] ?? seq);
    let next = MIN_CAPACITY;
    // Twice the span, so the next rebuild is at least a span of inserts away.
    while (next < (high - low + 1) * 2) next *= 2;
    base = low;
    capacity = next;
    ({ present, tree } = windowOf(members, base, capacity));
    operations += capacity;
  };

  return {
    get size() {
      return size;
    },
    get operations() {
      return operations;
    },
    has(seq) {
      return inWindow(seq) && present[seq - base] === 1;
    },
    add(seq) {
      if (!inWindow(seq)) rebuild(seq);
      if (present[seq - base]) return;
      present[seq - base] = 1;
      size++;
      update(seq - base + 1, 1);
    },
    delete(seq) {
      if (!inWindow(seq) || !present[seq - base]) return false;
      present[seq - base] = 0;
      size--;
      update(seq - base + 1, -1);
      return true;
    },
    countBelow(seq) {
      if (seq <= base) return 0;
      return prefix(Math.min(seq - base, capacity));
    },
    first() {
      if (size === 0) return undefined;
      // Binary lifting: the longest prefix whose sum is 0.
      let pos = 0;
      for (let step = capacity; step > 0; step >>= 1) {
        operations++;
        const next = pos + step;
        if (next <= capacity && tree[next]! === 0) pos = next;
      }
      return base + pos;
    },
  };
}
