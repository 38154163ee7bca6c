/**
 * Idempotent Submit: `Nats-Msg-Id` = hash(tenant, queue, key) lets the stream drop a
 * duplicate within its window, and `idem.<tenant-hash>.<hash>` → job id in
 * the jobs bucket makes it permanent (for the retention). Hashes keep any
 * tenant or key string out of subjects and KV keys. A key names a job of one
 * tenant in one queue: reusing it on another queue makes another job, so a
 * caller limited to some queues learns nothing of the others' jobs.
 */
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./errors.js";

export interface IdempotencyKeys {
  msgId: string;
  kvKey: string;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const MSG_ID_PREFIX = "jetq-";
const kvKeyOf = (tenant: string, hash: string) => `idem.${sha(tenant).slice(0, 16)}.${hash}`;

export function idempotencyKeys(tenant: string, queue: string, key: string): IdempotencyKeys {
  const hash = sha(`${tenant}\u0000${queue}\u0000${key}`).slice(0, 40);
  return { msgId: `${MSG_ID_PREFIX}${hash}`, kvKey: kvKeyOf(tenant, hash) };
}

export interface IdempotencyStore {
  /** The job id recorded for these keys, if any. */
  lookup(keys: IdempotencyKeys): Promise<string | undefined>;
  /** Records id; resolves the id that is recorded now (ours, or the first writer's). */
  claim(keys: IdempotencyKeys, id: string): Promise<string>;
  /**
   * Rewrites the key of a job that just finished, so it lives as long as
   * the job's record (the bucket's TTL counts from the last write, and the
   * key was written at submit); writes it again if a job that ran longer
   * than the retention outlived it. Never a key naming another job.
   */
  refresh(tenant: string, msgId: string, id: string): Promise<void>;
  /** Frees a key whose job is gone (expired): only if it still names that job. */
  free(keys: IdempotencyKeys, id: string): Promise<void>;
}

export function createIdempotencyStore(kv: KV): IdempotencyStore {
  const lookup = async (keys: IdempotencyKeys) => {
    const e = await kv.get(keys.kvKey);
    return e && e.operation === "PUT" && e.length > 0 ? e.string() : undefined;
  };
  return {
    lookup,
    async claim(keys, id) {
      try {
        await kv.create(keys.kvKey, id);
        return id;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        return (await lookup(keys)) ?? id;
      }
    },
    async free(keys, id) {
      const e = await kv.get(keys.kvKey);
      if (!e || e.operation !== "PUT" || e.string() !== id) return;
      try {
        await kv.delete(keys.kvKey, { previousSeq: e.revision });
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    },
    async refresh(tenant, msgId, id) {
      if (!msgId.startsWith(MSG_ID_PREFIX)) return;
      const kvKey = kvKeyOf(tenant, msgId.slice(MSG_ID_PREFIX.length));
      const e = await kv.get(kvKey);
      const live = e !== null && e.operation === "PUT" && e.length > 0;
      // Another job's key (this one lost the claim): not ours to touch.
      if (live && e.string() !== id) return;
      try {
        // Gone: the job ran longer than the retention; it holds the key again from now.
        if (!live) await kv.create(kvKey, id);
        else await kv.update(kvKey, id, e.revision);
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    },
  };
}
