/** Small numeric helpers for the bench: percentiles, rates, formatting. */

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an already sorted array. */
function rank(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: rank(sorted, 50),
    p99: rank(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** Milliseconds from a performance.now() start, with sub-ms precision. */
export const since = (start: number) => performance.now() - start;

export const rate = (count: number, ms: number) => (count * 1000) / ms;

export function fmtRate(perSecond: number): string {
  return Number.isFinite(perSecond) ? `${Math.round(perSecond).toLocaleString("en-US")}/s` : "n/a";
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? r.toFixed(2) : "n/a";
}

/**
 * Runs `task(i)` for i in [0, total) with at most `concurrency` in flight,
 * each worker taking the next index as soon as it is free.
 */
export async function pool(total: number, concurrency: number, task: (i: number, worker: number) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, total) }, async (_, w) => {
    while (next < total) {
      const i = next++;
      await task(i, w);
    }
  });
  await Promise.all(workers);
}
