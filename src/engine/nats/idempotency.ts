/**
 * Idempotent Submit: `Nats-Msg-Id` = hash(tenant, key) lets the stream drop a
 * duplicate within its window, and `idem.<tenant-hash>.<hash>` → job id in
 * the jobs bucket makes it permanent (for the retention). Hashes keep any
 * tenant or key string out of subjects and KV keys.
 */
import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./errors.js";

export interface IdempotencyKeys {
  msgId: string;
  kvKey: string;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

export function idempotencyKeys(tenant: string, key: string): IdempotencyKeys {
  const hash = sha(`${tenant}\u0000${key}`).slice(0, 40);
  return { msgId: `jetq-${hash}`, kvKey: `idem.${sha(tenant).slice(0, 16)}.${hash}` };
}

export interface IdempotencyStore {
  /** The job id recorded for these keys, if any. */
  lookup(keys: IdempotencyKeys): Promise<string | undefined>;
  /** Records id; resolves the id that is recorded now (ours, or the first writer's). */
  claim(keys: IdempotencyKeys, id: string): Promise<string>;
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
  };
}
