/**
 * Paused queues in the core: a worker's fetch from a paused queue waits
 * (within its expiry) and hands out nothing, while Submit still accepts.
 * Drivers store the flag and tell it (Driver.paused); this is the one place
 * that applies it. docs/ARCHITECTURE.md §4 (Pause).
 */
import type { Driver, DriverDelivery } from "../driver/types.js";

/** How often a fetch waiting on a paused queue looks at the flag again. */
export const PAUSE_RECHECK_MS = 200;

/**
 * The driver's fetch, unless the queue is paused: then it waits for a resume
 * until expiresMs is over (and answers []). Deliveries that a pull already
 * under way brings after a pause are handed back unrun, in their place.
 */
export async function fetchUnlessPaused(
  driver: Driver,
  queue: string,
  max: number,
  expiresMs: number,
  signal: AbortSignal | undefined,
  isClosed: () => boolean,
): Promise<DriverDelivery[]> {
  const deadline = Date.now() + Math.max(0, expiresMs);
  while (await driver.paused(queue)) {
    const left = deadline - Date.now();
    if (left <= 0 || isClosed() || signal?.aborted) return [];
    await sleep(Math.min(PAUSE_RECHECK_MS, left), signal);
  }
  if (isClosed() || signal?.aborted) return [];
  const deliveries = await driver.fetch(queue, max, Math.max(0, deadline - Date.now()), signal);
  if (deliveries.length === 0 || !(await driver.paused(queue))) return deliveries;
  // Not begun: a release is no attempt, and the job keeps its place.
  await Promise.all(deliveries.map((d) => d.release(false).catch(() => undefined)));
  return [];
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
