/**
 * How many JSON values a Submit's input holds, counted on the request bytes
 * before anything decodes them. Decoding a google.protobuf.Value costs per
 * value, not per byte: a 14 MB input of a million short strings took
 * seconds of the event loop to decode (every caller stalled), where a 14 MB
 * string takes milliseconds. Inputs over JETQ_MAX_INPUT_VALUES are refused
 * for the price of one pass over their bytes.
 */
import { Code, ConnectError } from "@connectrpc/connect";

export const DEFAULT_MAX_INPUT_VALUES = 100_000;

/**
 * The RPCs whose request carries job inputs: a SubmitRequest's field 2
 * (google.protobuf.Value), or SubmitBatch's SubmitRequests (its field 1),
 * whose inputs count together against the limit (one request is decoded
 * at once).
 */
export const INPUT_METHODS: ReadonlySet<string> = new Set(["Submit", "SubmitAndStream", "SubmitBatch"]);
const BATCH_METHOD = "SubmitBatch";
const JOBS_FIELD = 1;

const INPUT_FIELD = 2;
/** Deeper than the decoder allows anyway (it refuses at 100): stop counting there. */
const MAX_DEPTH = 128;

export function inputTooManyValues(limit: number): ConnectError {
  return new ConnectError(
    `input: more than ${limit} JSON values (JETQ_MAX_INPUT_VALUES); send fewer, larger values or store the data elsewhere and pass a reference`,
    Code.ResourceExhausted,
  );
}

/** Throws RESOURCE_EXHAUSTED when the request's input holds more than limit values. */
export function assertInputValues(message: Uint8Array, binary: boolean, limit: number, method?: string): void {
  const count = binary ? countBinaryInputValues(message, limit, method) : countJsonValues(message, limit);
  if (count > limit) throw inputTooManyValues(limit);
}

/**
 * Values in a JSON request (an upper bound: the request's own fields count
 * too); stops once past limit. Commas and opening brackets outside strings
 * each start a value.
 */
export function countJsonValues(bytes: Uint8Array, limit: number): number {
  let count = 1;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x2c || b === 0x5b || b === 0x7b) {
      if (++count > limit) return count;
    }
  }
  return count;
}

/**
 * Values in the input field of a SubmitRequest-shaped binary message (of
 * all its SubmitRequests for SubmitBatch); stops once past limit.
 */
export function countBinaryInputValues(message: Uint8Array, limit: number, method?: string): number {
  let count = 0;
  if (method === BATCH_METHOD) {
    forEachField(message, (field, start, end) => {
      if (field === JOBS_FIELD) count += countBinaryInputValues(message.subarray(start, end), limit - count);
      return count <= limit;
    });
    return count;
  }
  forEachField(message, (field, start, end) => {
    if (field === INPUT_FIELD) count += countValue(message, start, end, limit - count, 0);
    return count <= limit;
  });
  return count;
}

/** One google.protobuf.Value and those inside it (Struct field 5, ListValue field 6). */
function countValue(buf: Uint8Array, start: number, end: number, budget: number, depth: number): number {
  let count = 1;
  if (depth > MAX_DEPTH) return count;
  forEachField(
    buf,
    (field, s, e) => {
      if (field === 6) {
        // ListValue: field 1 repeated Value.
        forEachField(
          buf,
          (f, vs, ve) => {
            if (f === 1) count += countValue(buf, vs, ve, budget - count, depth + 1);
            return count <= budget;
          },
          s,
          e,
        );
      } else if (field === 5) {
        // Struct: field 1 repeated entries {1: key, 2: Value}.
        forEachField(
          buf,
          (f, es, ee) => {
            if (f !== 1) return true;
            forEachField(
              buf,
              (ef, vs, ve) => {
                if (ef === 2) count += countValue(buf, vs, ve, budget - count, depth + 1);
                return count <= budget;
              },
              es,
              ee,
            );
            return count <= budget;
          },
          s,
          e,
        );
      }
      return count <= budget;
    },
    start,
    end,
  );
  return count;
}

/**
 * Calls visit(field, start, end) for each length-delimited field in
 * buf[from, to); other wire types are skipped. Stops at the first malformed
 * byte (the decoder reports it) or when visit answers false.
 */
function forEachField(
  buf: Uint8Array,
  visit: (field: number, start: number, end: number) => boolean,
  from = 0,
  to = buf.length,
): void {
  let at = from;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= to) return -1;
      const b = buf[at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    return -1;
  };
  while (at < to) {
    const tag = varint();
    if (tag < 0) return;
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (wire === 0) {
      if (varint() < 0) return;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = varint();
      if (length < 0 || at + length > to) return;
      const start = at;
      at += length;
      if (!visit(field, start, at)) return;
    } else return;
  }
}
