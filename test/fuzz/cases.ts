/**
 * The fuzz cases: for each index, one request in one protocol to one RPC,
 * drawn from a seeded generator. Valid-looking requests carry hostile field
 * values (NATS wildcards, dots, control characters, bogus ids, out-of-range
 * options); the rest are broken on purpose: mutated bytes, random bytes,
 * hand-made protobuf with wrong wire types and lying lengths, malformed and
 * deeply nested JSON, lying envelopes, wrong headers, megabyte fields.
 *
 * What the fuzzer must never do is change the jobs the test watches: Submit
 * only ever names queues that do not exist (or are not queue names at all),
 * and ids of the watched jobs only go to read-only RPCs.
 */
import { gzipSync } from "node:zlib";
import type { Rng } from "./prng.js";
import type { RawRequest, TransportName } from "./transport.js";
import { WIRE, deepValue, doubleField, envelope, lenField, tag, varint, varintField } from "./wire.js";

export const RPCS = [
  "Submit",
  "SubmitAndStream",
  "GetStatus",
  "StreamStatus",
  "GetResult",
  "Cancel",
  "QueueCount",
] as const;
export type Rpc = (typeof RPCS)[number];
/** The RPCs that enqueue (SubmitAndStreamRequest repeats SubmitRequest's fields 1 to 4). */
export const submits = (rpc: Rpc): boolean => rpc === "Submit" || rpc === "SubmitAndStream";
export const READ_ONLY: ReadonlySet<Rpc> = new Set(["GetStatus", "StreamStatus", "GetResult", "QueueCount"]);

export const PROTOCOLS = [
  "connect-json",
  "connect-proto",
  "connect-get",
  "connect-stream",
  "grpc",
  "grpc-web",
  "raw-socket",
] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const CLASSES = [
  "valid", // well-formed, hostile values
  "mutated", // a well-formed request with bits flipped, bytes cut or inserted
  "random", // random bytes
  "crafted", // hand-made protobuf: wrong wire types, lying lengths, invalid UTF-8, unknown fields
  "bad-json", // malformed or mistyped JSON
  "envelope", // lying length prefixes, compressed flags without encoding, extra frames
  "headers", // wrong content types, encodings, timeouts, paths
  "huge", // megabytes in one field or header
  "deep", // 100,000 levels of nesting
  "raw", // bytes that are not HTTP, or barely
] as const;
export type CaseClass = (typeof CLASSES)[number];

export interface FuzzTargets {
  /** Ids of the watched jobs: only ever sent to read-only RPCs. */
  readonly watchedIds: readonly string[];
  /** The one queue that exists and is watched: never the queue of a fuzz Submit. */
  readonly protectedQueues: readonly string[];
  /** Extra headers every HTTP request carries (e.g. an API key), unless the case drops them. */
  readonly headers?: Record<string, string>;
  /** Extra header sets to try instead (bad keys, other tenants). */
  readonly headerVariants?: readonly Record<string, string>[];
}

export interface FuzzCase {
  index: number;
  protocol: Protocol;
  /** The RPC whose path the request goes to ("none" for a bogus path or raw bytes). */
  rpc: Rpc | "none";
  kind: CaseClass;
  /** A few words on what was done, for the failure report. */
  note: string;
  request: RawRequest;
}

const SERVICE = "/jetq.v1.QueueService/";

// ---------------------------------------------------------------------------
// Hostile values

const HOSTILE_STRINGS = [
  "",
  " ",
  "*",
  ">",
  ".",
  "..",
  "a.b",
  "a.*",
  "a.>",
  "*.>",
  "foo.bar.baz",
  "$JS.API.>",
  "$JS.API.STREAM.DELETE.jetq",
  "$KV.jetq.>",
  "_INBOX.x",
  "jetq.>",
  "jetq.ev.>",
  "a b",
  " a",
  "a ",
  "a\tb",
  "a\nb",
  "a\r\nb",
  "\r\n\r\n",
  "\0",
  "a\0b",
  "\x01\x02\x03",
  "\x1b[31m",
  "\x7f",
  "\u0085",
  "\u2028",
  "\ufeff",
  "\ud800",
  "a\udfffb",
  "ü",
  "日本語",
  "🚀",
  "A",
  "ECHO",
  "Echo",
  "echo.>",
  "echo.*",
  "echo ",
  " echo",
  "echo\n",
  "echo\0",
  "echo*",
  "-echo",
  "_a",
  "-",
  "_",
  "x".repeat(64),
  "x".repeat(65),
  "x".repeat(257),
  "x".repeat(4096),
  "../../etc/passwd",
  "%2e%2e%2f",
  "%00",
  "${jndi:ldap://x}",
  "'; DROP TABLE jobs; --",
  "<script>",
  "null",
  "undefined",
  "NaN",
  "-1",
  "0",
  "__proto__",
  "constructor",
  "hasOwnProperty",
];

/** Valid queue names of queues that do not exist. */
function absentQueue(rng: Rng): string {
  switch (rng.int(5)) {
    case 0:
      return `fuzz-nowhere-${rng.int(1000)}`;
    case 1:
      return rng.pick(["a", "0", "z9", "a-", "a_", "0-0", "__proto__x"].filter((q) => /^[a-z0-9]/.test(q)));
    case 2:
      return "q".repeat(rng.range(1, 64));
    case 3:
      return `echo-${rng.int(100)}`;
    default:
      return `f${rng.int(1e9).toString(36)}`;
  }
}

function hostileString(rng: Rng): string {
  const r = rng.int(10);
  if (r < 6) return rng.pick(HOSTILE_STRINGS);
  if (r < 8) {
    // random short string from an alphabet heavy in what NATS cares about
    const alphabet = 'ab.*>$ \t\r\n\0_-AZ09\u00e9\u{1f600}\\"/%';
    const chars = Array.from(alphabet);
    let s = "";
    for (let i = rng.range(1, 20); i > 0; i--) s += rng.pick(chars);
    return s;
  }
  return `${rng.pick(HOSTILE_STRINGS)}${rng.pick(HOSTILE_STRINGS)}`;
}

/** A queue for Submit: a hostile string or a queue that does not exist; never a protected one. */
function submitQueue(rng: Rng, targets: FuzzTargets): string {
  for (;;) {
    const q = rng.chance(0.5) ? absentQueue(rng) : hostileString(rng);
    if (!targets.protectedQueues.includes(q)) return q;
  }
}

function readQueue(rng: Rng, targets: FuzzTargets): string {
  if (rng.chance(0.2) && targets.protectedQueues.length > 0) return rng.pick(targets.protectedQueues);
  return rng.chance(0.5) ? absentQueue(rng) : hostileString(rng);
}

const TOKEN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SEQ_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz";

function randomOf(rng: Rng, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/**
 * An id that is no watched job: well-formed ids of nothing (including a
 * watched job's queue and sequence with every token character changed),
 * nearly-well-formed ones and hostile strings.
 */
function forgedId(rng: Rng, targets: FuzzTargets): string {
  const r = rng.int(8);
  if (r === 0 && targets.watchedIds.length > 0) {
    const real = rng.pick(targets.watchedIds);
    const token = real.slice(-12);
    let other = "";
    for (const ch of token) {
      let c = ch;
      while (c === ch) c = TOKEN_CHARS[rng.int(TOKEN_CHARS.length)]!;
      other += c;
    }
    return real.slice(0, -12) + other;
  }
  if (r === 1)
    return `${rng.pick(["echo", absentQueue(rng)])}-${randomOf(rng, SEQ_CHARS, 11)}-${randomOf(rng, TOKEN_CHARS, 12)}`;
  if (r === 2)
    return `echo-${rng.pick(["00000000000", "zzzzzzzzzzz", "00000000001", "0000000000z"])}-${randomOf(rng, TOKEN_CHARS, 12)}`;
  if (r === 3) {
    // almost an id: one part the wrong length or alphabet
    const parts = [absentQueue(rng), randomOf(rng, SEQ_CHARS, 11), randomOf(rng, TOKEN_CHARS, 12)];
    const i = rng.int(3);
    parts[i] = rng.chance(0.5) ? parts[i]!.slice(1) : `${parts[i]}${rng.pick(["x", ".", "*", ">", " ", "\0", "É"])}`;
    return parts.join(rng.chance(0.9) ? "-" : rng.pick([".", "_", " ", "--"]));
  }
  if (r === 4) return `${hostileString(rng)}-${randomOf(rng, SEQ_CHARS, 11)}-${randomOf(rng, TOKEN_CHARS, 12)}`;
  return hostileString(rng);
}

function jobId(rng: Rng, rpc: Rpc, targets: FuzzTargets): string {
  if (READ_ONLY.has(rpc) && targets.watchedIds.length > 0 && rng.chance(0.3)) return rng.pick(targets.watchedIds);
  return forgedId(rng, targets);
}

const INTERESTING_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  100,
  101,
  255,
  256,
  65535,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 63),
  1e21,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_VALUE,
];

/** JSON text of a random value, sometimes with numbers JSON.parse turns into Infinity. */
function jsonValueText(rng: Rng, depth = 0): string {
  const r = rng.int(depth > 3 ? 4 : 7);
  switch (r) {
    case 0:
      return "null";
    case 1:
      return rng.chance(0.5) ? "true" : "false";
    case 2:
      return rng.chance(0.1)
        ? rng.pick(["1e999", "-1e999", "1e-999", "123456789012345678901234567890", "-0", "0.0000000000000000001"])
        : String(rng.pick(INTERESTING_NUMBERS));
    case 3:
      return JSON.stringify(hostileString(rng));
    case 4: {
      const n = rng.int(4);
      return `[${Array.from({ length: n }, () => jsonValueText(rng, depth + 1)).join(",")}]`;
    }
    default: {
      const n = rng.int(4);
      const keys = [
        "sleep_ms",
        "fail",
        "logs",
        "progress",
        "permanent",
        "__proto__",
        "constructor",
        "a",
        hostileString(rng),
      ];
      return `{${Array.from({ length: n }, () => `${JSON.stringify(rng.pick(keys))}:${jsonValueText(rng, depth + 1)}`).join(",")}}`;
    }
  }
}

function durationText(rng: Rng): string {
  return rng.pick([
    '"0s"',
    '"-1s"',
    '"1s"',
    '"0.001s"',
    '"0.000000001s"',
    '"86400s"',
    '"86400.000000001s"',
    '"86401s"',
    '"315576000000s"',
    '"315576000001s"',
    '"-315576000001s"',
    '"1.9999999999s"',
    '"1e3s"',
    '"s"',
    '"1"',
    '"NaNs"',
    '"Infinitys"',
    '"1m"',
    "1",
    "null",
    "{}",
    '{"seconds":1}',
    "[]",
  ]);
}

function timestampText(rng: Rng): string {
  return rng.pick([
    '"1970-01-01T00:00:00Z"',
    '"0001-01-01T00:00:00Z"',
    '"9999-12-31T23:59:59.999999999Z"',
    '"10000-01-01T00:00:00Z"',
    `"${new Date(Date.now() + 60_000).toISOString()}"`,
    `"${new Date(Date.now() + 400 * 86_400_000).toISOString()}"`,
    `"${new Date(Date.now() - 120_000).toISOString()}"`,
    '"2026-02-30T00:00:00Z"',
    '"2026-01-01T25:61:61Z"',
    '"2026-01-01T00:00:00+25:00"',
    '"2026-01-01"',
    '"now"',
    '""',
    "0",
    "-1",
    "1e20",
    "null",
    "{}",
  ]);
}

function optionsText(rng: Rng): string {
  const fields: string[] = [];
  const name = (camel: string, snake: string) => JSON.stringify(rng.chance(0.5) ? camel : snake);
  if (rng.chance(0.5)) {
    fields.push(
      `${name("maxAttempts", "max_attempts")}:${rng.pick([
        ...INTERESTING_NUMBERS.map(String),
        '"5"',
        '"-5"',
        "1e999",
        "true",
        "null",
        '"NaN"',
        "[]",
      ])}`,
    );
  }
  if (rng.chance(0.4)) fields.push(`"timeout":${durationText(rng)}`);
  if (rng.chance(0.4)) fields.push(`${name("startDeadline", "start_deadline")}:${timestampText(rng)}`);
  if (rng.chance(0.3)) fields.push(`${name("retryBackoff", "retry_backoff")}:${durationText(rng)}`);
  if (rng.chance(0.3)) fields.push(`${name("retryBackoffMax", "retry_backoff_max")}:${durationText(rng)}`);
  if (rng.chance(0.05)) fields.push(`"bogus":1`);
  return `{${fields.join(",")}}`;
}

/** A JSON request body for the RPC, well-formed JSON with hostile values. */
/** The include_output flag of the two streams, in either JSON spelling, with odd values too. */
function includeOutputText(rng: Rng): string {
  const name = rng.chance(0.5) ? "includeOutput" : "include_output";
  return `${JSON.stringify(name)}:${rng.pick(["true", "false", "1", '"true"', "null"])}`;
}

function jsonBody(rng: Rng, rpc: Rpc, targets: FuzzTargets): string {
  const fields: string[] = [];
  const str = (s: string) => (rng.chance(0.03) ? rng.pick(["1", "null", "true", "[]", "{}"]) : JSON.stringify(s));
  switch (rpc) {
    case "Submit":
    case "SubmitAndStream":
      fields.push(`"queue":${str(submitQueue(rng, targets))}`);
      if (rng.chance(0.8)) fields.push(`"input":${jsonValueText(rng)}`);
      if (rng.chance(0.4)) {
        fields.push(
          `${JSON.stringify(rng.chance(0.5) ? "idempotencyKey" : "idempotency_key")}:${str(hostileString(rng))}`,
        );
      }
      if (rng.chance(0.5)) fields.push(`"options":${optionsText(rng)}`);
      if (rpc === "SubmitAndStream" && rng.chance(0.5)) {
        fields.push(
          `${JSON.stringify(rng.chance(0.5) ? "includeLogs" : "include_logs")}:${rng.pick(["true", "false", "1", '"true"', "null"])}`,
        );
      }
      if (rpc === "SubmitAndStream" && rng.chance(0.5)) fields.push(includeOutputText(rng));
      break;
    case "GetStatus":
    case "StreamStatus":
      fields.push(`"id":${str(jobId(rng, rpc, targets))}`);
      if (rng.chance(0.5)) {
        fields.push(
          `${JSON.stringify(rng.chance(0.5) ? "includeLogs" : "include_logs")}:${rng.pick(["true", "false", "1", '"true"', "null"])}`,
        );
      }
      if (rpc === "StreamStatus" && rng.chance(0.5)) fields.push(includeOutputText(rng));
      break;
    case "GetResult":
    case "Cancel":
      fields.push(`"id":${str(jobId(rng, rpc, targets))}`);
      break;
    case "QueueCount":
      fields.push(`"queue":${str(readQueue(rng, targets))}`);
      break;
  }
  if (rng.chance(0.05)) fields.push(`${JSON.stringify(hostileString(rng))}:${jsonValueText(rng)}`);
  if (rng.chance(0.1)) fields.reverse();
  return `{${fields.join(",")}}`;
}

// ---------------------------------------------------------------------------
// Protobuf binary

function utf8(s: string): Buffer {
  return Buffer.from(s, "utf8");
}

function binaryValue(rng: Rng, depth = 0): Buffer {
  switch (rng.int(depth > 3 ? 4 : 7)) {
    case 0:
      return varintField(1, rng.chance(0.9) ? 0 : rng.pick([1, 5, 2 ** 31, -1])); // null_value, sometimes out of range
    case 1:
      return doubleField(2, rng.chance(0.2) ? rng.pick([NaN, Infinity, -Infinity]) : rng.pick(INTERESTING_NUMBERS));
    case 2:
      return lenField(3, utf8(hostileString(rng)));
    case 3:
      return varintField(4, rng.pick([0, 1, 2, 2 ** 32 + 1]));
    case 4: {
      const items: Buffer[] = [];
      for (let i = rng.int(4); i > 0; i--) items.push(lenField(1, binaryValue(rng, depth + 1)));
      return lenField(6, Buffer.concat(items));
    }
    default: {
      const entries: Buffer[] = [];
      for (let i = rng.int(4); i > 0; i--) {
        const entry = Buffer.concat([lenField(1, utf8(hostileString(rng))), lenField(2, binaryValue(rng, depth + 1))]);
        entries.push(lenField(1, entry));
      }
      return lenField(5, Buffer.concat(entries));
    }
  }
}

const INT64_EXTREMES = [
  0n,
  1n,
  -1n,
  86_400n,
  86_401n,
  315_576_000_000n,
  315_576_000_001n,
  2n ** 62n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];
const INT32_EXTREMES = [0, 1, -1, 999_999_999, 1_000_000_000, 2 ** 31 - 1, -(2 ** 31)];

function binarySecondsNanos(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  if (rng.chance(0.8)) parts.push(varintField(1, rng.pick(INT64_EXTREMES)));
  if (rng.chance(0.5)) parts.push(varintField(2, BigInt(rng.pick(INT32_EXTREMES))));
  return Buffer.concat(parts);
}

function binaryOptions(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  if (rng.chance(0.5)) parts.push(varintField(1, rng.pick([0, 1, 100, 101, 2 ** 32 - 1, 2 ** 32 + 1, -1])));
  for (const field of [2, 3, 4, 5]) {
    if (rng.chance(0.35)) parts.push(lenField(field, binarySecondsNanos(rng)));
  }
  return Buffer.concat(parts);
}

/** A binary request body for the RPC: correct wire format, hostile values. */
function binaryBody(rng: Rng, rpc: Rpc, targets: FuzzTargets): Buffer {
  const parts: Buffer[] = [];
  switch (rpc) {
    case "Submit":
    case "SubmitAndStream":
      parts.push(lenField(1, utf8(submitQueue(rng, targets))));
      if (rng.chance(0.8)) parts.push(lenField(2, binaryValue(rng)));
      if (rng.chance(0.4)) parts.push(lenField(3, utf8(hostileString(rng))));
      if (rng.chance(0.5)) parts.push(lenField(4, binaryOptions(rng)));
      if (rpc === "SubmitAndStream" && rng.chance(0.5)) parts.push(varintField(5, rng.pick([0, 1, 2, 2 ** 40])));
      break;
    case "GetStatus":
    case "StreamStatus":
      parts.push(lenField(1, utf8(jobId(rng, rpc, targets))));
      if (rng.chance(0.5)) parts.push(varintField(2, rng.pick([0, 1, 2, 2 ** 40])));
      break;
    case "GetResult":
    case "Cancel":
      parts.push(lenField(1, utf8(jobId(rng, rpc, targets))));
      break;
    case "QueueCount":
      parts.push(lenField(1, utf8(readQueue(rng, targets))));
      break;
  }
  if (rng.chance(0.1)) parts.push(unknownField(rng));
  if (rng.chance(0.1)) parts.reverse();
  return Buffer.concat(parts);
}

function unknownField(rng: Rng): Buffer {
  const field = rng.pick([5, 15, 99, 1000, 2 ** 29 - 1, 19_000]);
  switch (rng.int(5)) {
    case 0:
      return varintField(field, rng.pick(INT64_EXTREMES));
    case 1:
      return lenField(field, rng.bytes(rng.int(20)));
    case 2:
      return Buffer.concat([tag(field, WIRE.i32), rng.bytes(4)]);
    case 3:
      return Buffer.concat([tag(field, WIRE.i64), rng.bytes(8)]);
    default:
      return Buffer.concat([tag(field, WIRE.sgroup), varintField(1, 1), tag(field, WIRE.egroup)]);
  }
}

const INVALID_UTF8 = [
  Buffer.from([0xff]),
  Buffer.from([0xc0, 0xaf]), // overlong "/"
  Buffer.from([0xed, 0xa0, 0x80]), // a surrogate
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated
  Buffer.from([0x61, 0x80, 0x62]),
];

/** Hand-made protobuf that no encoder would write. */
function craftedBody(rng: Rng, rpc: Rpc, targets: FuzzTargets): { body: Buffer; note: string } {
  const stringField = submits(rpc) && rng.chance(0.3) ? 3 : 1;
  const good = binaryBody(rng, rpc, targets);
  switch (rng.int(12)) {
    case 0:
      return {
        body: Buffer.concat([varintField(stringField, rng.pick(INT64_EXTREMES)), good]),
        note: "string field as varint",
      };
    case 1:
      return {
        body: Buffer.concat([tag(stringField, rng.pick([1, 3, 4, 5, 6, 7])), rng.bytes(rng.int(9))]),
        note: "wrong or invalid wire type",
      };
    case 2:
      return {
        body: Buffer.concat([
          tag(stringField, WIRE.len),
          varint(rng.pick([2n ** 31n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, 1000n])),
          rng.bytes(rng.int(16)),
        ]),
        note: "length prefix far beyond the body",
      };
    case 3: {
      const bad = Buffer.concat([utf8("fuzz"), rng.pick(INVALID_UTF8), utf8("x")]);
      return { body: Buffer.concat([good, lenField(stringField, bad)]), note: "invalid UTF-8 in a string field" };
    }
    case 4:
      return { body: Buffer.concat([good, unknownField(rng), unknownField(rng)]), note: "unknown fields" };
    case 5:
      return {
        body: Buffer.concat([tag(rng.pick([1, 2]), WIRE.varint), Buffer.alloc(10, 0xff), Buffer.from([0x01])]),
        note: "eleven-byte varint",
      };
    case 6:
      return { body: Buffer.concat([tag(0, rng.int(6)), rng.bytes(4), good]), note: "field number 0" };
    case 7:
      return {
        body: Buffer.concat([varint((2n ** 32n) | 2n), varint(3), utf8("abc")]),
        note: "field number above 2^29",
      };
    case 8:
      return { body: Buffer.concat([tag(rng.int(6) + 1, WIRE.egroup), good]), note: "end group without start" };
    case 9:
      if (submits(rpc)) {
        return {
          body: Buffer.concat([
            lenField(1, utf8(submitQueue(rng, targets))),
            lenField(2, doubleField(2, rng.pick([NaN, Infinity, -Infinity]))),
          ]),
          note: "input is a NaN/Infinity number_value",
        };
      }
      return {
        body: Buffer.concat([lenField(1, utf8(jobId(rng, rpc, targets))), lenField(1, utf8(forgedId(rng, targets)))]),
        note: "repeated singular field",
      };
    case 10:
      if (submits(rpc)) {
        // Value with two kinds, a struct whose key is invalid UTF-8, a group inside
        const twoKinds = Buffer.concat([varintField(4, 1), lenField(3, utf8("x")), doubleField(2, 2)]);
        const badKey = lenField(
          5,
          lenField(1, Buffer.concat([lenField(1, rng.pick(INVALID_UTF8)), lenField(2, varintField(1, 0))])),
        );
        return {
          body: Buffer.concat([
            lenField(1, utf8(submitQueue(rng, targets))),
            lenField(2, rng.chance(0.5) ? twoKinds : badKey),
          ]),
          note: "odd google.protobuf.Value",
        };
      }
      return { body: Buffer.concat([good, good, good]), note: "message repeated" };
    default:
      return {
        body: Buffer.concat([good.subarray(0, rng.int(good.length + 1)), rng.bytes(rng.int(8))]),
        note: "truncated, random tail",
      };
  }
}

// ---------------------------------------------------------------------------
// Mutation

const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0xc0, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x2e, 0x2a, 0x3e, 0x0a,
  0x0d,
];

/** Bit flips, cuts, inserts, duplications: 1 to 8 of them. */
export function mutate(rng: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let n = rng.range(1, 8); n > 0; n--) {
    if (b.length === 0) {
      b = Buffer.from([rng.pick(INTERESTING_BYTES)]);
      continue;
    }
    const at = rng.int(b.length);
    switch (rng.int(7)) {
      case 0:
      case 1:
        b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 2:
        b[at] = rng.pick(INTERESTING_BYTES);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick(INTERESTING_BYTES)]), b.subarray(at)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.range(1, 4))]);
        break;
      case 5:
        b = b.subarray(0, at);
        break;
      default: {
        const len = rng.range(1, Math.min(16, b.length - at));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
      }
    }
  }
  return b;
}

// ---------------------------------------------------------------------------
// Malformed JSON

function badJson(rng: Rng, rpc: Rpc, targets: FuzzTargets): { text: Buffer; note: string } {
  const good = jsonBody(rng, rpc, targets);
  const field = submits(rpc) || rpc === "QueueCount" ? "queue" : "id";
  switch (rng.int(14)) {
    case 0:
      return { text: utf8(good.slice(0, rng.int(good.length))), note: "truncated JSON" };
    case 1:
      return {
        text: utf8(
          rng.pick(["", " ", "null", "[]", "[{}]", '"x"', "1", "true", "{", "}", "{}}", "{]", "{,}", '{"a"}']),
        ),
        note: "not an object",
      };
    case 2:
      return {
        text: utf8(`{"${field}":${rng.pick(["1", "true", "[]", "{}", "1e999", '"a"\u0000'])}}`),
        note: "mistyped field",
      };
    case 3:
      return { text: utf8(`{"${field}":"a","${field}":"b"}`), note: "duplicate key" };
    case 4:
      return {
        text: Buffer.concat([utf8(`{"${field}":"`), rng.pick(INVALID_UTF8), utf8('"}')]),
        note: "invalid UTF-8 in a string",
      };
    case 5:
      return { text: utf8(`{"${field}":"\\ud800\\udbff\\u0000\\uZZZZ"}`), note: "bad escapes" };
    case 6:
      return { text: utf8(`{'${field}':'a'}`), note: "single quotes" };
    case 7:
      return { text: utf8(`{"${field}":"a",}`), note: "trailing comma" };
    case 8:
      return { text: utf8(`${good}${good}`), note: "two objects" };
    case 9:
      return { text: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(good)]), note: "byte-order mark" };
    case 10:
      return { text: Buffer.from(good, "utf16le"), note: "UTF-16" };
    case 11:
      return { text: utf8(`{"${field}":"a", "unknownField": {"x": [1,2,3]}}`), note: "unknown field" };
    case 12:
      return rng.chance(0.5)
        ? { text: utf8(`{"${field}":"a" /* comment */}`), note: "comment" }
        : // JSON.parse quotes the text around the error, cut anywhere: here inside a surrogate pair
          { text: utf8(`{"${field}":${"\u{1f600}".repeat(rng.range(1, 40))}}`), note: "unquoted emoji" };
    default:
      return { text: utf8(good.replace(/"/g, () => (rng.chance(0.2) ? "" : '"'))), note: "quotes dropped" };
  }
}

function deepJson(rng: Rng, rpc: Rpc, targets: FuzzTargets): { text: Buffer; note: string } {
  const depth = rng.pick([1_000, 10_000, 100_000]);
  const [open, close] = rng.chance(0.5) ? ["[", "]"] : ['{"a":', "}"];
  const nested = `${open.repeat(depth)}1${close.repeat(rng.chance(0.9) ? depth : depth - 1)}`;
  if (submits(rpc)) {
    const where = rng.chance(0.7) ? "input" : rng.pick(["options", "bogus"]);
    return {
      text: utf8(`{"queue":${JSON.stringify(submitQueue(rng, targets))},"${where}":${nested}}`),
      note: `${depth} levels in ${where}`,
    };
  }
  const field = rpc === "QueueCount" ? "queue" : "id";
  return { text: utf8(`{"${field}":${rng.chance(0.5) ? nested : '"a"'},"bogus":${nested}}`), note: `${depth} levels` };
}

const hugeCache = new Map<string, { text: string; json: string; bytes: Buffer }>();
/** A field of megabytes; the same few are reused (building 18 MB strings per case would dominate the run). */
function huge(rng: Rng): { text: string; json: string; bytes: Buffer; mb: number } {
  // Rarely, past the 17 MiB read limit.
  const mb = rng.chance(0.1) ? 18 : rng.pick([1, 1, 2, 4]);
  const ch = mb === 18 ? "y" : rng.pick(["x", "*", ".", "é"]);
  const key = `${ch}${mb}`;
  let v = hugeCache.get(key);
  if (!v) {
    const text = ch.repeat((mb * 1024 * 1024) / Buffer.byteLength(ch));
    v = { text, json: JSON.stringify(text), bytes: Buffer.from(text, "utf8") };
    hugeCache.set(key, v);
  }
  return { ...v, mb };
}

function hugeBody(rng: Rng, rpc: Rpc, targets: FuzzTargets, binary: boolean): { body: Buffer; note: string } {
  const big = huge(rng);
  const note = `${big.mb} MB`;
  if (binary) {
    if (submits(rpc)) {
      const which = rng.int(3);
      const parts = [which === 0 ? lenField(1, big.bytes) : lenField(1, utf8(submitQueue(rng, targets)))];
      if (which === 1) parts.push(lenField(2, lenField(3, big.bytes)));
      if (which === 2) parts.push(lenField(3, big.bytes));
      return { body: Buffer.concat(parts), note: `${note} in field ${which + 1}` };
    }
    return { body: lenField(1, big.bytes), note: `${note} in field 1` };
  }
  if (submits(rpc)) {
    const which = rng.pick(["queue", "input", "idempotencyKey"]);
    const q = which === "queue" ? big.json : JSON.stringify(submitQueue(rng, targets));
    const extra =
      which === "input"
        ? `,"input":{"s":${big.json}}`
        : which === "idempotencyKey"
          ? `,"idempotencyKey":${big.json}`
          : "";
    return { body: utf8(`{"queue":${q}${extra}}`), note: `${note} in ${which}` };
  }
  return {
    body: utf8(`{"${rpc === "QueueCount" ? "queue" : "id"}":${big.json}}`),
    note: `${note} in the string field`,
  };
}

// ---------------------------------------------------------------------------
// Putting a case together

function pickProtocol(rng: Rng): Protocol {
  const r = rng.next();
  if (r < 0.22) return "connect-json";
  if (r < 0.38) return "connect-proto";
  if (r < 0.48) return "connect-get";
  if (r < 0.6) return "connect-stream";
  if (r < 0.8) return "grpc";
  if (r < 0.985) return "grpc-web";
  return "raw-socket";
}

function pickClass(rng: Rng, protocol: Protocol): CaseClass {
  const r = rng.next();
  if (r < 0.3) return "valid";
  if (r < 0.55) return "mutated";
  if (r < 0.62) return "random";
  if (r < 0.74) return protocol === "connect-json" || protocol === "connect-get" ? "bad-json" : "crafted";
  if (r < 0.8) return "bad-json";
  if (r < 0.9)
    return protocol === "connect-json" || protocol === "connect-proto" || protocol === "connect-get"
      ? "headers"
      : "envelope";
  if (r < 0.975) return "headers";
  if (r < 0.99) return "deep";
  return "huge";
}

/** The message bytes (before any envelope) for a case of this class. */
function messageBytes(
  rng: Rng,
  kind: CaseClass,
  rpc: Rpc,
  targets: FuzzTargets,
  json: boolean,
): { body: Buffer; note: string } {
  switch (kind) {
    case "valid":
    case "headers":
    case "envelope":
      return json
        ? { body: utf8(jsonBody(rng, rpc, targets)), note: "" }
        : { body: binaryBody(rng, rpc, targets), note: "" };
    case "mutated":
      return {
        body: mutate(rng, json ? utf8(jsonBody(rng, rpc, targets)) : binaryBody(rng, rpc, targets)),
        note: "mutated",
      };
    case "random":
      return { body: rng.bytes(rng.pick([0, 1, 2, 5, 16, 64, 512, 4096])), note: "random bytes" };
    case "crafted":
      if (json) {
        const { text, note } = badJson(rng, rpc, targets);
        return { body: text, note };
      }
      return craftedBody(rng, rpc, targets);
    case "bad-json": {
      const { text, note } = badJson(rng, rpc, targets);
      return { body: text, note };
    }
    case "deep":
      if (json) {
        const { text, note } = deepJson(rng, rpc, targets);
        return { body: text, note };
      }
      {
        const depth = rng.pick([1_000, 10_000, 100_000]);
        const queueOrId = submits(rpc) ? submitQueue(rng, targets) : forgedId(rng, targets);
        const field = submits(rpc) ? 2 : 1000;
        return {
          body: Buffer.concat([lenField(1, utf8(queueOrId)), lenField(field, deepValue(depth))]),
          note: `${depth} levels of Value`,
        };
      }
    case "huge":
      return hugeBody(rng, rpc, targets, !json);
    case "raw":
      return { body: Buffer.alloc(0), note: "" };
  }
}

const CONTENT_TYPES_BOGUS = [
  "",
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/json; charset=utf-16",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "application/json;;;",
  "application/proto+json",
  "application/grpc-web-text",
  "application/grpc-web-text+proto",
  "application/grpc+xml",
  "application/connect+xml",
  "application/grpc+json",
  "application/grpc-web+json",
  "application/connect+json",
  "application/connect+proto",
  "application/*",
  "*/*",
  "application/json\u0000",
];

/** Header trouble for a case of class "headers"; may rewrite the content type. */
function headerTrouble(rng: Rng, headers: Record<string, string>, protocol: Protocol): string {
  switch (rng.int(9)) {
    case 0:
      headers["content-type"] = rng.pick(CONTENT_TYPES_BOGUS).replace("\u0000", "");
      return `content-type ${JSON.stringify(headers["content-type"])}`;
    case 1:
      delete headers["content-type"];
      return "no content-type";
    case 2: {
      const h = protocol === "grpc" || protocol === "grpc-web" ? "grpc-timeout" : "connect-timeout-ms";
      headers[h] = rng.pick(["0", "-1", "1", "abc", "1n", "99999999999H", "1S", "9".repeat(30), "1.5", ""]);
      return `${h}: ${headers[h]}`;
    }
    case 3: {
      const h =
        protocol === "grpc" || protocol === "grpc-web"
          ? "grpc-encoding"
          : protocol === "connect-stream"
            ? "connect-content-encoding"
            : "content-encoding";
      headers[h] = rng.pick(["gzip", "br", "zstd", "deflate", "bogus", "identity", "gzip, gzip", ""]);
      return `${h}: ${headers[h]} on an uncompressed body`;
    }
    case 4:
      headers["connect-protocol-version"] = rng.pick(["2", "0", "", "1.0", "v1"]);
      return `connect-protocol-version: ${headers["connect-protocol-version"]}`;
    case 5:
      delete headers["connect-protocol-version"];
      delete headers["te"];
      return "no protocol headers";
    case 6:
      // Only shorter than the body: a longer one makes any HTTP/1.1 server wait for the rest.
      headers["content-length"] = rng.pick(["0", "1", "2"]);
      return `content-length ${headers["content-length"]} (shorter than the body)`;
    case 7:
      headers["grpc-accept-encoding"] = "bogus, gzip;q=x";
      headers["accept-encoding"] = "bogus";
      headers["connect-accept-encoding"] = "\t";
      return "odd accept-encodings";
    default:
      headers["x-fuzz"] = "a".repeat(rng.pick([100, 8 * 1024, 64 * 1024]));
      return `a ${headers["x-fuzz"].length}-byte header`;
  }
}

/** Envelope trouble for class "envelope". */
function envelopeTrouble(
  rng: Rng,
  message: Buffer,
  headers: Record<string, string>,
  encodingHeader: string,
): { body: Buffer; note: string } {
  switch (rng.int(11)) {
    case 0:
      return {
        body: envelope(message, 0, message.length + rng.range(1, 1000)),
        note: "length prefix longer than the body",
      };
    case 1:
      return {
        body: envelope(message, 0, Math.max(0, message.length - rng.range(1, 4))),
        note: "length prefix shorter than the body",
      };
    case 2:
      return { body: envelope(message, 0, 0xffffffff), note: "length prefix 0xffffffff" };
    case 3:
      return { body: envelope(message, 1), note: "compressed flag without an encoding" };
    case 4:
      headers[encodingHeader] = "gzip";
      return { body: envelope(message, 1), note: "compressed flag, gzip, not gzip" };
    case 5: {
      headers[encodingHeader] = "gzip";
      return { body: envelope(gzipBomb(), 1), note: "gzip bomb" };
    }
    case 6:
      return { body: Buffer.concat([envelope(message), envelope(message)]), note: "two frames for one request" };
    case 7:
      return { body: envelope(message, rng.pick([2, 0x80, 0x81, 0x7e, 0xff])), note: "odd flags" };
    case 8:
      return { body: Buffer.alloc(rng.int(5)), note: "fewer than five bytes" };
    case 9:
      return { body: Buffer.concat([envelope(message), rng.bytes(rng.range(1, 7))]), note: "trailing bytes" };
    default:
      headers[encodingHeader] = "gzip";
      return { body: envelope(gzipSync(message), 1), note: "gzip frame (valid)" };
  }
}

let bomb: Buffer | undefined;
/** 64 MiB of zeros in 64 KiB: far past the read limit once inflated. */
function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  return bomb;
}

const BOGUS_PATHS = [
  "/",
  "/jetq.v1.QueueService/",
  "/jetq.v1.QueueService/Nope",
  "/jetq.v1.QueueService/submit",
  "/jetq.v1.QueueService/Submit/",
  "/jetq.v1.QueueService//Submit",
  "/jetq.v1.QueueService/Submit/../Cancel",
  "/jetq.v1.QueueService/%53ubmit",
  "/jetq.v2.QueueService/Submit",
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/healthz",
  "/healthz?x=1",
  "/readyz",
  "/readyz?x=1",
  "/../../etc/passwd",
  // (A query string on a POST is ignored: this is a QueueCount, so never a Submit or Cancel path with a body meant for another RPC.)
  "/jetq.v1.QueueService/QueueCount?connect=v1&encoding=json&message=%7B%7D",
  `/${"a".repeat(10_000)}`,
];

function rawSocketBytes(rng: Rng): { body: Buffer; note: string } {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  switch (rng.int(10)) {
    case 0:
      return { body: rng.bytes(rng.range(1, 2048)), note: "random bytes on a connection" };
    case 1:
      return { body: Buffer.concat([preface, rng.bytes(rng.range(0, 512))]), note: "h2 preface, random frames" };
    case 2:
      return { body: preface.subarray(0, rng.range(1, preface.length - 1)), note: "part of the h2 preface" };
    case 3:
      return {
        body: Buffer.from(`POST ${SERVICE}Submit HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}`, "latin1"),
        note: "negative content-length",
      };
    case 4:
      return {
        body: Buffer.from(
          `POST ${SERVICE}Submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
          "latin1",
        ),
        note: "bad chunk size, both TE and CL",
      };
    case 5:
      return {
        body: Buffer.from(
          `POST ${SERVICE}GetStatus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"id":`,
          "latin1",
        ),
        note: "body shorter than content-length, then silence",
      };
    case 6:
      return {
        body: Buffer.from(
          `${rng.pick(["GET", "BREW", "P\u0000ST", "CONNECT", "TRACE"])} ${rng.pick(["/", "*", SERVICE + "Submit", "http://x/"])} HTTP/${rng.pick(["1.1", "1.0", "2.0", "9.9", "1"])}\r\nHost: x\r\n\r\n`,
          "latin1",
        ),
        note: "odd request line",
      };
    case 7:
      return {
        body: Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad\u0000: 1\r\nX: a\rb\r\n\r\n`, "latin1"),
        note: "control characters in headers",
      };
    case 8:
      return {
        body: Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\n${"X-Many: 1\r\n".repeat(2000)}\r\n`, "latin1"),
        note: "2000 headers",
      };
    default:
      return {
        body: Buffer.from(
          `POST ${SERVICE}QueueCount HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n`,
          "latin1",
        ),
        note: "huge chunk size",
      };
  }
}

function query(params: [string, string][]): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

export function generateCase(rng: Rng, index: number, targets: FuzzTargets): FuzzCase {
  const protocol = pickProtocol(rng);
  const rpc = rng.pick(RPCS);
  if (protocol === "raw-socket") {
    const { body, note } = rawSocketBytes(rng);
    return {
      index,
      protocol,
      rpc: "none",
      kind: "raw",
      note,
      request: { transport: "socket", method: "", path: "", headers: {}, body },
    };
  }
  const kind = pickClass(rng, protocol);
  const headers: Record<string, string> = { ...(targets.headers ?? {}) };
  if (targets.headerVariants && targets.headerVariants.length > 0 && rng.chance(0.15)) {
    for (const k of Object.keys(targets.headers ?? {})) delete headers[k];
    Object.assign(headers, rng.pick(targets.headerVariants));
  }
  const notes: string[] = [];
  let path = `${SERVICE}${rpc}`;
  let method = "POST";
  let body: Buffer;
  let transport: TransportName = rng.chance(0.5) ? "h1" : "h2";
  let enveloped = false;

  const json =
    protocol === "connect-json" ||
    (protocol === "connect-get" && rng.chance(0.8)) ||
    (protocol === "connect-stream" && rng.chance(0.5)) ||
    ((protocol === "grpc" || protocol === "grpc-web") && rng.chance(0.05));
  const message = messageBytes(rng, kind, rpc, targets, json);
  if (message.note) notes.push(message.note);

  switch (protocol) {
    case "connect-json":
    case "connect-proto":
      headers["content-type"] = json ? "application/json" : "application/proto";
      headers["connect-protocol-version"] = "1";
      body = message.body;
      break;
    case "connect-get": {
      method = "GET";
      transport = rng.chance(0.7) ? "h1" : "h2";
      const base64 = !json || rng.chance(0.3);
      const params: [string, string][] = [
        ["connect", "v1"],
        ["encoding", json ? "json" : "proto"],
        [
          "message",
          base64 ? message.body.toString(rng.chance(0.8) ? "base64url" : "base64") : message.body.toString("utf8"),
        ],
      ];
      if (base64) params.push(["base64", "1"]);
      if (kind === "headers" || kind === "mutated") {
        switch (rng.int(6)) {
          case 0:
            params.push(["compression", rng.pick(["gzip", "br", "bogus", "identity"])]);
            notes.push("compression param on an uncompressed message");
            break;
          case 1:
            params.shift();
            notes.push("no connect=v1");
            break;
          case 2:
            params[1] = ["encoding", rng.pick(["xml", "", "JSON", "proto+json"])];
            notes.push(`encoding=${params[1][1]}`);
            break;
          case 3:
            params.push(["message", "{}"], ["connect", "v2"]);
            notes.push("duplicate parameters");
            break;
          case 4:
            params.push(["base64", rng.pick(["0", "2", "yes"])]);
            notes.push("odd base64 flag");
            break;
          default:
            break;
        }
      }
      let q = query(params);
      if (rng.chance(0.05)) {
        q += rng.pick(["&message=%zz", "&%", "&&&", "#frag", "&message=%00"]);
        notes.push("broken query string");
      }
      if (message.body.length > 64 * 1024) {
        // A query string of megabytes: the server refuses the headers.
        q = q.slice(0, 256 * 1024);
      }
      path = `${SERVICE}${rpc}?${q}`;
      body = Buffer.alloc(0);
      break;
    }
    case "connect-stream": {
      headers["content-type"] = json ? "application/connect+json" : "application/connect+proto";
      headers["connect-protocol-version"] = "1";
      enveloped = true;
      body = kind === "envelope" ? envelopeFor() : envelope(message.body);
      break;
    }
    case "grpc":
      transport = "h2";
      headers["content-type"] = json
        ? "application/grpc+json"
        : rng.pick(["application/grpc", "application/grpc+proto"]);
      headers["te"] = "trailers";
      enveloped = true;
      body = kind === "envelope" ? envelopeFor() : envelope(message.body);
      break;
    case "grpc-web":
      transport = rng.chance(0.85) ? "h1" : "h2";
      headers["content-type"] = json
        ? "application/grpc-web+json"
        : rng.pick(["application/grpc-web", "application/grpc-web+proto"]);
      headers["x-grpc-web"] = "1";
      enveloped = true;
      body = kind === "envelope" ? envelopeFor() : envelope(message.body);
      break;
  }

  function envelopeFor(): Buffer {
    const encodingHeader = protocol === "connect-stream" ? "connect-content-encoding" : "grpc-encoding";
    const trouble = envelopeTrouble(rng, message.body, headers, encodingHeader);
    notes.push(trouble.note);
    return trouble.body;
  }

  if (kind === "headers") {
    if (rng.chance(0.2)) {
      path = rng.pick(BOGUS_PATHS);
      notes.push(`path ${path.slice(0, 60)}`);
    } else {
      notes.push(headerTrouble(rng, headers, protocol));
    }
    if (rng.chance(0.1)) {
      method = rng.pick(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "GET"]);
      notes.push(`method ${method}`);
    }
  }
  if (kind === "headers" && protocol !== "connect-get" && rng.chance(0.1)) {
    // A compressed body that inflates past the read limit.
    const h = protocol === "connect-json" || protocol === "connect-proto" ? "content-encoding" : null;
    if (h) {
      headers[h] = "gzip";
      body = gzipBomb();
      notes.push("gzip bomb body");
    }
  }
  // The RPC the server will take it for, whatever the case meant.
  const served = /^\/jetq\.v1\.QueueService\/([A-Za-z]+)(?:\?|$)/.exec(path)?.[1];
  const pathRpc: Rpc | "none" = (RPCS as readonly string[]).includes(served ?? "") ? (served as Rpc) : "none";
  // h2 refuses these connection-specific headers itself; keep the case about the server.
  if (transport === "h2") delete headers["content-length"];
  if (method === "GET" || method === "HEAD") body = Buffer.alloc(0);
  return {
    index,
    protocol,
    rpc: pathRpc,
    kind,
    note: notes.join("; "),
    request: { transport, method, path, headers, body, enveloped, isolate: kind === "headers" || kind === "huge" },
  };
}
