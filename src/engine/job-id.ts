/**
 * Job ids: `<queue>-<seq>-<token>`.
 * seq is the job's sequence in its queue (JetStream: the stream sequence of its
 * message) in 11 base-36 digits, so ids of one queue sort in submit order.
 * token is random and stored with the job, so ids cannot be guessed and an id
 * never matches a job of a recreated queue that reused its sequence.
 * All characters are valid in URLs, NATS subjects and KV keys.
 */
import { randomBytes } from "node:crypto";
import { invalidArgument } from "./errors.js";
import { QUEUE_NAME_PATTERN } from "./queue-name.js";

const SEQ_DIGITS = 11;
const TOKEN_CHARS = 12;
const TOKEN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_PATTERN = /^([a-z0-9][a-z0-9_-]{0,63})-([0-9a-z]{11})-([0-9A-Za-z]{12})$/;

export interface JobIdParts {
  queue: string;
  seq: number;
  token: string;
}

// Tokens are cut from a 4 KiB random pool: one system call per token would
// cost more than the rest of a Submit on the embedded engine.
const POOL_BYTES = 4096;
let pool = randomBytes(POOL_BYTES);
let poolOffset = 0;

export function newToken(): string {
  if (poolOffset + TOKEN_CHARS > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  let token = "";
  // 256 % 62 bias is irrelevant here: tokens need to be unguessable, not uniform.
  for (let i = 0; i < TOKEN_CHARS; i++) {
    token += TOKEN_ALPHABET[pool[poolOffset + i]! % TOKEN_ALPHABET.length];
  }
  poolOffset += TOKEN_CHARS;
  return token;
}

export function formatJobId(parts: JobIdParts): string {
  return `${parts.queue}-${parts.seq.toString(36).padStart(SEQ_DIGITS, "0")}-${parts.token}`;
}

/** The parts of a jetq job id, or undefined when id is not one. */
export function jobIdParts(id: string): JobIdParts | undefined {
  const m = ID_PATTERN.exec(id);
  if (!m || !QUEUE_NAME_PATTERN.test(m[1]!)) return undefined;
  return { queue: m[1]!, seq: parseInt(m[2]!, 36), token: m[3]! };
}

/** Throws INVALID_ARGUMENT naming the field when id is not a jetq job id. */
export function parseJobId(id: string, field = "id"): JobIdParts {
  const parts = jobIdParts(id);
  if (!parts) {
    const shown = JSON.stringify(id.length > 100 ? `${id.slice(0, 100)}…` : id);
    throw invalidArgument(
      `${field}: ${shown} is not a jetq job id (expected <queue>-<11 base-36 digits>-<12 letters or digits>, as returned by Submit)`,
    );
  }
  return parts;
}
