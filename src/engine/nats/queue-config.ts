/**
 * Queue defaults (QueueConfig) in KV `jetq_queues`, key = queue name: stream
 * metadata would hold them on 2.10+, but 2.9 has none, and every process
 * (workers applying maxAttempts and backoff) must see what was declared.
 * Cached briefly: a declare elsewhere is seen within a couple of seconds.
 */
import type { KV } from "@nats-io/kv";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../types.js";

export interface QueueConfigStore {
  /** undefined when no one declared the queue. */
  get(queue: string): Promise<QueueConfig | undefined>;
  put(queue: string, config: QueueConfig): Promise<void>;
  /** Every declared queue's name. */
  names(): Promise<string[]>;
}

const TTL_MS = 2_000;

export function createQueueConfigStore(kv: KV): QueueConfigStore {
  const cache = new Map<string, { at: number; config: QueueConfig | undefined }>();
  return {
    async get(queue) {
      const hit = cache.get(queue);
      if (hit && Date.now() - hit.at < TTL_MS) return hit.config;
      const e = await kv.get(queue);
      const config =
        e && e.operation === "PUT" && e.length > 0
          ? { ...DEFAULT_QUEUE_CONFIG, ...e.json<Partial<QueueConfig>>() }
          : undefined;
      // Only remember positive answers: a queue declared a moment ago elsewhere must work.
      if (config) cache.set(queue, { at: Date.now(), config });
      return config;
    },
    async names() {
      const names: string[] = [];
      // Queue names hold no dot; other keys of the bucket (paused.<queue>) are not queues.
      for await (const key of await kv.keys()) if (!key.includes(".")) names.push(key);
      return names;
    },
    async put(queue, config) {
      await kv.put(queue, JSON.stringify(config));
      cache.set(queue, { at: Date.now(), config });
    },
  };
}
