/**
 * The request content types the server's protocols accept (Connect, gRPC,
 * gRPC-Web), and how each frames its message: the one table the handler
 * guards read. The fast path takes connect-es's own parseContentType
 * (connect-internals.ts), so it accepts exactly what connect-es accepts.
 */

export interface Framing {
  /** Enveloped (5-byte prefix per message) or the raw message (Connect unary). */
  kind: "envelope" | "raw";
  /** The header naming the message's compression. */
  encodingHeader: "grpc-encoding" | "connect-content-encoding" | "content-encoding";
  json: boolean;
}

const grpc = (json: boolean): Framing => ({ kind: "envelope", encodingHeader: "grpc-encoding", json });

const FRAMINGS: ReadonlyMap<string, Framing> = new Map([
  ["application/grpc", grpc(false)],
  ["application/grpc+proto", grpc(false)],
  ["application/grpc+json", grpc(true)],
  ["application/grpc-web", grpc(false)],
  ["application/grpc-web+proto", grpc(false)],
  ["application/grpc-web+json", grpc(true)],
  ["application/connect+proto", { kind: "envelope", encodingHeader: "connect-content-encoding", json: false }],
  ["application/connect+json", { kind: "envelope", encodingHeader: "connect-content-encoding", json: true }],
  ["application/proto", { kind: "raw", encodingHeader: "content-encoding", json: false }],
  ["application/json", { kind: "raw", encodingHeader: "content-encoding", json: true }],
]);

/** The framing of a request by its Content-Type (parameters ignored); undefined for types no protocol serves. */
export function framingOf(contentType: string | null): Framing | undefined {
  return FRAMINGS.get((contentType ?? "").split(";")[0]!.trim().toLowerCase());
}

/** `message` in the given framing, uncompressed. */
export function framed(framing: Framing, message: Uint8Array): Uint8Array {
  if (framing.kind === "raw") return message;
  const out = new Uint8Array(5 + message.byteLength);
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, 5);
  return out;
}

/** An empty request message (which always decodes) in the given framing. */
export function emptyMessage(framing: Framing): Uint8Array {
  return framed(framing, framing.json ? new TextEncoder().encode("{}") : new Uint8Array(0));
}
