/**
 * API keys → principals. Keys are kept only as SHA-256 digests and every
 * lookup compares the caller's digest with all of them in constant time, so
 * neither timing nor a memory dump gives a key away.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { QUEUE_NAME_PATTERN } from "../engine/queue-name.js";
import { ROLES, type ApiKeyInput, type Principal } from "./types.js";

export interface KeyStore {
  /** False when no key is configured: the server runs open. */
  readonly enabled: boolean;
  readonly size: number;
  /** The principal of a presented key, or undefined for an unknown key. */
  authenticate(presented: string): Principal | undefined;
  /** Every principal (no secrets), e.g. for a startup log line. */
  readonly principals: readonly Principal[];
}

export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

export function keyDigest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/**
 * Throws an Error naming the entry (by position and name, never by its key)
 * when an entry is unusable.
 */
export function createKeyStore(inputs: readonly ApiKeyInput[] = []): KeyStore {
  const entries: { digest: Buffer; principal: Principal }[] = [];
  const names = new Set<string>();
  inputs.forEach((input, i) => {
    const where = `API key #${i + 1}${input.name ? ` ("${input.name}")` : ""}`;
    let digest: Buffer;
    if (input.key !== undefined && input.keySha256 === undefined) {
      if (input.key === "" || /\s/.test(input.key))
        throw new Error(`${where}: the key must be non-empty without whitespace`);
      digest = keyDigest(input.key);
    } else if (input.keySha256 !== undefined && input.key === undefined) {
      if (!SHA256_HEX.test(input.keySha256)) throw new Error(`${where}: key_sha256 must be 64 hex digits`);
      digest = Buffer.from(input.keySha256, "hex");
    } else {
      throw new Error(`${where}: give exactly one of key and key_sha256`);
    }
    if (!TENANT_PATTERN.test(input.tenant)) {
      throw new Error(
        // The value is not shown: in JETQ_API_KEYS a misplaced "=" can put part of a key there.
        `${where}: the tenant must be 1 to 128 characters of A-Z, a-z, 0-9, ".", "_", ":", "@", "-", starting with a letter or digit`,
      );
    }
    const role = input.role ?? "submitter";
    if (!ROLES.includes(role)) throw new Error(`${where}: role must be one of ${ROLES.join(", ")}`);
    const queues = input.queues ?? "*";
    if (queues !== "*") {
      for (const q of queues) {
        if (!QUEUE_NAME_PATTERN.test(q)) throw new Error(`${where}: ${JSON.stringify(q)} is not a valid queue name`);
      }
    }
    const name = input.name ?? `key-${i + 1}`;
    if (names.has(name)) throw new Error(`${where}: the name "${name}" is used by another key`);
    names.add(name);
    const twin = entries.find((e) => e.digest.equals(digest));
    if (twin) throw new Error(`${where}: the same key as "${twin.principal.name}"`);
    entries.push({
      digest,
      principal: Object.freeze({
        name,
        tenant: input.tenant,
        role,
        queues: queues === "*" ? "*" : new Set(queues),
        rateLimit: input.rateLimit,
      }),
    });
  });

  return {
    enabled: entries.length > 0,
    size: entries.length,
    principals: entries.map((e) => e.principal),
    authenticate(presented) {
      const digest = keyDigest(presented);
      let found: Principal | undefined;
      // No early exit: the time taken does not depend on which key matched.
      for (const entry of entries) {
        if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.principal;
      }
      return found;
    },
  };
}

/**
 * JETQ_API_KEYS: "key1=tenant-a,key2=tenant-b". A key may itself end in "="
 * (base64 padding): the tenant is what follows the last "=".
 * Errors name entries by position only.
 */
export function parseApiKeysList(text: string): ApiKeyInput[] {
  const out: ApiKeyInput[] = [];
  const items = text.split(",").map((s) => s.trim());
  items.forEach((item, i) => {
    if (item === "") return;
    const at = item.lastIndexOf("=");
    if (at <= 0 || at === item.length - 1) {
      throw new Error(`entry ${i + 1} must look like <key>=<tenant>`);
    }
    out.push({ key: item.slice(0, at), tenant: item.slice(at + 1), name: `env-${i + 1}` });
  });
  return out;
}
