/**
 * Payloads over max_payload (job inputs, results) in object store
 * `jetq_blobs`, kept as long as records (TTL = retention). Opened on first
 * use: most deployments never need it.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { Objm, StorageType, type ObjectStore } from "@nats-io/obj";
import { nanos } from "@nats-io/transport-node";
import { BLOBS_BUCKET } from "./layout.js";
import { ensureMaxAge, type LayoutOptions } from "./setup.js";

/** Largest payload jetq accepts at all (the embedded engine's limit too). */
export const MAX_BLOB_BYTES = 16 * 1024 * 1024;

export interface BlobStore {
  put(name: string, data: Uint8Array): Promise<void>;
  /** undefined when the blob is gone (expired or never written). */
  get(name: string): Promise<Uint8Array | undefined>;
}

export function createBlobStore(js: JetStreamClient, o: LayoutOptions): BlobStore {
  let store: Promise<ObjectStore> | undefined;
  const open = () => {
    store ??= new Objm(js)
      .create(BLOBS_BUCKET, {
        ttl: nanos(o.retentionMs),
        storage: o.storage === "memory" ? StorageType.Memory : StorageType.File,
        replicas: o.replicas,
      })
      .then(async (s) => {
        // An existing bucket keeps its TTL: follow a changed retention.
        await ensureMaxAge(await js.jetstreamManager(false), `OBJ_${BLOBS_BUCKET}`, o.retentionMs);
        return s;
      })
      .catch((err: unknown) => {
        store = undefined;
        throw err;
      });
    return store;
  };
  return {
    async put(name, data) {
      await (await open()).putBlob({ name }, data);
    },
    async get(name) {
      return (await (await open()).getBlob(name)) ?? undefined;
    },
  };
}
