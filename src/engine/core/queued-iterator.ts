/**
 * The one push-to-pull queue of the engine (nats.js's queued_iterator is the
 * model): producers push items as things happen, one consumer pulls them in
 * order with `for await`; fail() and end() stop it, and so does an abort
 * signal (quietly, as the end of a watch the caller gave up on).
 */
export interface QueuedIterator<T> {
  push(item: T): void;
  /** The consumer's next pull throws err, before any item still queued. */
  fail(err: Error): void;
  /** The consumer's pulls end once the queued items are taken. */
  end(): void;
  /** Items pushed and not pulled yet. */
  readonly length: number;
  /** Waits for and takes the next item; undefined when ended or aborted. */
  next(): Promise<T | undefined>;
  /** A queued item (to update it in place: a newer position replaces the pending one). */
  find<S extends T>(pick: (item: T) => item is S): S | undefined;
  some(pick: (item: T) => boolean): boolean;
  /** Throws the failure, if any (a consumer busy with an item checks before it goes on). */
  assertOpen(): void;
  /** Stops listening to the abort signal. */
  close(): void;
}

export function createQueuedIterator<T>(signal?: AbortSignal): QueuedIterator<T> {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let ended = false;
  let aborted = signal?.aborted === true;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = () => {
    aborted = true;
    poke();
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  return {
    push(item) {
      items.push(item);
      poke();
    },
    fail(err) {
      failure ??= err;
      poke();
    },
    end() {
      ended = true;
      poke();
    },
    get length() {
      return items.length;
    },
    async next() {
      for (;;) {
        if (failure) throw failure;
        if (aborted) return undefined;
        if (items.length > 0) return items.shift();
        if (ended) return undefined;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    find: <S extends T>(pick: (item: T) => item is S) => items.find(pick),
    some: (pick) => items.some(pick),
    assertOpen() {
      if (failure) throw failure;
    },
    close() {
      signal?.removeEventListener("abort", onAbort);
    },
  };
}
