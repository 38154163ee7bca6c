/**
 * Paused queues on JetStream: key `paused.<queue>` in the `jetq_queues`
 * bucket ({"paused": bool}), apart from the queue's config key, so
 * declareQueue never overwrites it and a restarted worker finds it. Each
 * process holds one KV watch of `paused.>` (opened on first use), so a pause
 * made anywhere reaches every process's fetches within a round trip; a
 * queue's flag is read once, after the watch is up, and kept current by it.
 * docs/ARCHITECTURE.md §5.
 */
import { KvWatchInclude, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { watchReconnects } from "./connection.js";

export interface PauseFlags {
  get(queue: string): Promise<boolean>;
  set(queue: string, paused: boolean): Promise<void>;
  close(): void;
}

export const pauseKey = (queue: string) => `paused.${queue}`;
const PREFIX = "paused.";

interface Known {
  paused: boolean;
  revision: number;
}

export function createPauseFlags(kv: KV, nc: NatsConnection): PauseFlags {
  const known = new Map<string, Known>();
  let watching: Promise<{ stop(): void }> | undefined;
  let closed = false;

  const learn = (queue: string, paused: boolean, revision: number) => {
    const cur = known.get(queue);
    if (!cur || revision >= cur.revision) known.set(queue, { paused, revision });
  };
  const isPaused = (e: KvEntry | null) => e !== null && e.operation === "PUT" && e.length > 0 && pausedIn(e);
  const reset = () => {
    const w = watching;
    watching = undefined;
    known.clear();
    void w?.then((it) => it.stop()).catch(() => undefined);
  };
  const ensureWatch = () => {
    watching ??= (async () => {
      // Updates only: each queue's current flag is read after the watch is up, so nothing falls between.
      const it = await kv.watch({ key: `${PREFIX}>`, include: KvWatchInclude.UpdatesOnly });
      void (async () => {
        for await (const e of it) learn(e.key.slice(PREFIX.length), isPaused(e), e.revision);
        // The watch ended (its consumer went away): start again on next use.
        if (!closed) reset();
      })().catch(() => reset());
      return it;
    })();
    watching.catch(() => reset());
    return watching;
  };
  // After a reconnect the watch may have missed updates: read the flags afresh.
  watchReconnects(nc, reset);

  return {
    async get(queue) {
      await ensureWatch();
      const hit = known.get(queue);
      if (hit) return hit.paused;
      const e = await kv.get(pauseKey(queue));
      learn(queue, isPaused(e), e?.revision ?? 0);
      return known.get(queue)!.paused;
    },
    async set(queue, paused) {
      await ensureWatch();
      const revision = await kv.put(pauseKey(queue), JSON.stringify({ paused, at: Date.now() }));
      learn(queue, paused, revision);
    },
    close() {
      closed = true;
      reset();
    },
  };
}

function pausedIn(e: KvEntry): boolean {
  try {
    return e.json<{ paused?: unknown }>().paused === true;
  } catch {
    return false;
  }
}
