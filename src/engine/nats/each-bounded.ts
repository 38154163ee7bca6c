/**
 * Many calls with a bound on those in flight: SubmitBatch's Submits share
 * the engine's one connection (its writes coalesce per event-loop turn), so
 * 64 at a time cost about one round trip where one at a time cost 64.
 */

/** Runs fn over items with at most `limit` in flight; each item's failure is its own outcome. */
export async function eachBounded<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<Array<R | { error: unknown }>> {
  const out = new Array<R | { error: unknown }>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!).catch((error: unknown) => ({ error }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
