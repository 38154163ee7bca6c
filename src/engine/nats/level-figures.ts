/**
 * Figures of a queue across its priority levels (priority-levels.ts), from
 * the per-stream snapshots of queue-info.ts: the jobs waiting in the levels
 * above a job's, which run before it (its position adds them to its place in
 * its own stream), and the queue's counts, which add up every level. A
 * queue without other levels asks nothing more than its own stream.
 */
import { DEFAULT_PRIORITY } from "../job-id.js";
import { isStreamNotFound, isConsumerNotFound } from "./errors.js";
import type { PriorityLevels } from "./priority-levels.js";
import { levelKey, type QueueInfoCache, type QueueSnapshot } from "./queue-info.js";

export interface LevelFigures {
  /**
   * Waiting (not yet delivered) jobs of the queue's levels above priority;
   * `fresh`: from snapshots taken after this call (Submit's answer), not cached ones.
   */
  waitingAbove(queue: string, priority: number, fresh?: boolean): Promise<number>;
  /** Waiting and running jobs of every level; the default stream's errors are the queue's. */
  counts(queue: string): Promise<{ inQueue: number; running: number }>;
}

export function createLevelFigures(queueInfo: QueueInfoCache, levels: PriorityLevels): LevelFigures {
  /** A level's snapshot; undefined when its stream is gone (a deleted level counts nothing). */
  const level = async (queue: string, priority: number, fresh = false): Promise<QueueSnapshot | undefined> => {
    const key = levelKey(queue, priority);
    try {
      return await queueInfo.get(key, fresh ? queueInfo.invalidate(key) : undefined);
    } catch (err) {
      if (!isStreamNotFound(err) && !isConsumerNotFound(err)) throw err;
      levels.forget(queue);
      return undefined;
    }
  };
  return {
    async waitingAbove(queue, priority, fresh) {
      const above = (await levels.of(queue)).filter((p) => p > priority);
      if (above.length === 0) return 0;
      const snaps = await Promise.all(above.map((p) => level(queue, p, fresh)));
      return snaps.reduce((n, s, i) => n + (s ? queueInfo.pending(levelKey(queue, above[i]!), s) : 0), 0);
    },
    async counts(queue) {
      const others = (await levels.of(queue)).filter((p) => p !== DEFAULT_PRIORITY);
      const [own, ...rest] = await Promise.all([queueInfo.get(queue), ...others.map((p) => level(queue, p))]);
      let inQueue = own!.numPending;
      let running = own!.numAckPending;
      for (const s of rest) {
        inQueue += s?.numPending ?? 0;
        running += s?.numAckPending ?? 0;
      }
      return { inQueue, running };
    },
  };
}
