/**
 * The `queue` label of job series, bounded: lanes (caller-named http
 * queues) let callers make queues, and every queue label is a set of series
 * Prometheus keeps. Past the cap, further queues share one label value.
 */
export const OTHER_QUEUES = "_other";

export const DEFAULT_MAX_QUEUE_LABELS = 100;

export function queueLabels(max: number): (queue: string) => string {
  const seen = new Set<string>();
  return (queue) => {
    if (seen.has(queue)) return queue;
    if (seen.size >= max) return OTHER_QUEUES;
    seen.add(queue);
    return queue;
  };
}
