/**
 * Job ids: `<queue>-<seq>-<token>`.
 * seq is 11 base-36 characters: the first says which priority level holds the
 * job ('0' the default, 5; else the priority's base-36 digit: '1'..'4',
 * '6'..'9', 'a' for 10), the other 10 are the job's sequence in that level
 * (JetStream: the stream sequence of its message in the level's stream), so
 * ids of one level sort in submit order, and every id made before priorities
 * existed reads as the default level. The first character is read as a
 * character, never as part of the number (11 digits would pass 2^53).
 * token is random and stored with the job, so ids cannot be guessed and an id
 * never matches a job of a recreated queue that reused its sequence.
 * All characters are valid in URLs, NATS subjects and KV keys.
 */
import { randomBytes } from "node:crypto";
import { invalidArgument } from "./errors.js";
import { QUEUE_NAME_PATTERN } from "./queue-name.js";

/** Digits of the sequence after the level character: 36^10 − 1 is under 2^53. */
const SEQ_DIGITS = 10;
const MAX_SEQ = 36 ** SEQ_DIGITS - 1;
const TOKEN_CHARS = 12;
const TOKEN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ID_PATTERN = /^([a-z0-9][a-z0-9_-]{0,63})-([0-46-9a])([0-9a-z]{10})-([0-9A-Za-z]{12})$/;

/** Priorities run from 1 to 10, higher first; a job that names none has 5. */
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 10;
export const DEFAULT_PRIORITY = 5;

export interface JobIdParts {
  queue: string;
  /** The priority level holding the job (its stream on JetStream): 1 to 10. */
  priority: number;
  /** The job's sequence within that level. */
  seq: number;
  token: string;
}

/** The id's level character: '0' for the default priority (so older ids stay valid), else its base-36 digit. */
function levelChar(priority: number): string {
  if (priority === DEFAULT_PRIORITY) return "0";
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    throw new RangeError(`job id: priority ${priority} is not 1 to 10`);
  }
  return priority.toString(36);
}

function priorityOfChar(c: string): number {
  return c === "0" ? DEFAULT_PRIORITY : parseInt(c, 36);
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

/** The id of a job; priority defaults to 5 (the default level). */
export function formatJobId(parts: Omit<JobIdParts, "priority"> & { priority?: number }): string {
  if (!(parts.seq >= 0 && parts.seq <= MAX_SEQ)) throw new RangeError(`job id: sequence ${parts.seq} out of range`);
  const level = levelChar(parts.priority ?? DEFAULT_PRIORITY);
  return `${parts.queue}-${level}${parts.seq.toString(36).padStart(SEQ_DIGITS, "0")}-${parts.token}`;
}

/** The parts of a jetq job id, or undefined when id is not one. */
export function jobIdParts(id: string): JobIdParts | undefined {
  const m = ID_PATTERN.exec(id);
  if (!m || !QUEUE_NAME_PATTERN.test(m[1]!)) return undefined;
  return { queue: m[1]!, priority: priorityOfChar(m[2]!), seq: parseInt(m[3]!, 36), token: m[4]! };
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
