/**
 * Protobuf wire format and message envelopes by hand, so the fuzzer can write
 * what no protobuf library would: wrong wire types, length prefixes that lie,
 * invalid UTF-8, varints of eleven bytes, nesting a hundred thousand deep.
 */

export const WIRE = { varint: 0, i64: 1, len: 2, sgroup: 3, egroup: 4, i32: 5 } as const;

export function varint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Buffer.from(out);
}

export function tag(field: number, wireType: number): Buffer {
  return varint((BigInt(field) << 3n) | BigInt(wireType & 7));
}

/** A length-delimited field whose prefix tells the truth. */
export function lenField(field: number, payload: Buffer): Buffer {
  return Buffer.concat([tag(field, WIRE.len), varint(payload.length), payload]);
}

export function varintField(field: number, n: number | bigint): Buffer {
  return Buffer.concat([tag(field, WIRE.varint), varint(n)]);
}

export function doubleField(field: number, x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return Buffer.concat([tag(field, WIRE.i64), b]);
}

/**
 * google.protobuf.Value nested `depth` levels deep (list_value = 6,
 * ListValue.values = 1). Sizes are worked out inside out first, then the
 * bytes written outside in, so it costs O(depth), not O(depth^2). Cached:
 * the same few depths are asked for again and again.
 */
export function deepValue(depth: number): Buffer {
  let cached = deepCache.get(depth);
  if (cached) return cached;
  const leaf = doubleField(2, 1); // number_value
  const valueSizes = [leaf.length];
  const listSizes = [0];
  for (let i = 1; i <= depth; i++) {
    const list = 1 + varint(valueSizes[i - 1]!).length + valueSizes[i - 1]!;
    listSizes.push(list);
    valueSizes.push(1 + varint(list).length + list);
  }
  const out = Buffer.allocUnsafe(valueSizes[depth]!);
  let at = 0;
  for (let i = depth; i >= 1; i--) {
    out[at++] = 0x32; // field 6, length-delimited
    at += varint(listSizes[i]!).copy(out, at);
    out[at++] = 0x0a; // field 1, length-delimited
    at += varint(valueSizes[i - 1]!).copy(out, at);
  }
  leaf.copy(out, at);
  cached = out;
  deepCache.set(depth, cached);
  return cached;
}
const deepCache = new Map<number, Buffer>();

/** A five-byte-prefixed frame (gRPC, gRPC-Web, Connect streaming): flags, big-endian length. */
export function envelope(payload: Buffer, flags = 0, claimedLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags & 0xff;
  head.writeUInt32BE(claimedLength >>> 0, 1);
  return Buffer.concat([head, payload]);
}

export interface Frame {
  flags: number;
  payload: Buffer;
}

/** Splits an enveloped body; a partial last frame is returned as `rest`. */
export function parseFrames(body: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  while (body.length - at >= 5) {
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) break;
    frames.push({ flags: body[at]!, payload: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return { frames, rest: body.subarray(at) };
}
