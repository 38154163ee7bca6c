/**
 * Reading a Connect request body on the fast path (fast-path.ts) straight
 * from node's request, with connect-es's limits, checks and error messages,
 * so a client cannot tell which path read it. Not connect-es's readAllBytes:
 * that reads an async iterable of the body, and skipping those per-call
 * iterables is what the fast path is for.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressedWithoutEncoding } from "./decode-guard.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;

/**
 * The first message of a server-streaming request body, with connect-es's
 * checks and errors (and decode-guard.ts's for a compressed frame), in its
 * order: a client cannot tell which path read it. Stricter in one way: flags
 * other than compressed are refused (the spec reserves them, and end-stream
 * must not be set on requests), where connect-es ignores them.
 */
export function firstEnvelope(body: Uint8Array, readMaxBytes: number): [message: Uint8Array, rest: Uint8Array] {
  // The spec's cardinality violation (gRPC's status codes): UNIMPLEMENTED.
  if (body.byteLength === 0) {
    throw new ConnectError("protocol error: missing input message for server-streaming method", Code.Unimplemented);
  }
  if (body.byteLength < 5) throw incompleteEnvelope();
  const flags = body[0]!;
  if (flags & 0b1) throw compressedWithoutEncoding("connect-content-encoding");
  const length = completeEnvelopeLength(body, readMaxBytes);
  if (flags !== 0) throw new ConnectError(`protocol error: unexpected envelope flags ${flags}`, Code.InvalidArgument);
  return [body.subarray(5, 5 + length), body.subarray(5 + length)];
}

/** What may follow the one message: nothing (connect-es's errors otherwise). */
export function assertNoMoreEnvelopes(rest: Uint8Array, readMaxBytes: number): void {
  if (rest.byteLength === 0) return;
  completeEnvelopeLength(rest, readMaxBytes);
  throw new ConnectError(
    "protocol error: received extra input message for server-streaming method",
    Code.Unimplemented,
  );
}

/**
 * The length of the envelope at the start of `bytes`, once its header and
 * message are all there and it is within readMaxBytes; connect-es's errors
 * otherwise, checked in its order.
 */
function completeEnvelopeLength(bytes: Uint8Array, readMaxBytes: number): number {
  if (bytes.byteLength < 5) throw incompleteEnvelope();
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (length > readMaxBytes) throw tooLarge(readMaxBytes, length);
  if (bytes.byteLength < 5 + length) throw incompleteEnvelope();
  return length;
}

const incompleteEnvelope = () => new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);

/** connect-es's words for a message over readMaxBytes (its size when known, as connect-es knows it). */
export function tooLarge(readMaxBytes: number, size?: number): ConnectError {
  const what = size === undefined ? "message size" : `message size ${size}`;
  return new ConnectError(`${what} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
}

/** The whole body; past `limit` bytes, fails with overLimit(the bytes so far). */
export function readBody(req: Req, limit: number, overLimit: (head: Buffer) => ConnectError): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(overLimit(Buffer.concat([...chunks, chunk])));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new ConnectError(`reading the request failed: ${err.message}`, Code.Canceled));
    };
    const onAborted = () => onError(new Error("the client went away"));
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}
