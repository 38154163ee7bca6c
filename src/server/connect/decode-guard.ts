/**
 * Undecodable binary requests answer INVALID_ARGUMENT, like undecodable JSON.
 *
 * connect-es reports a request whose protobuf bytes do not parse as INTERNAL
 * (as grpc-go does), which tells the client the server is broken and invites
 * a retry. It is the client's bytes that are wrong, so we decode binary
 * requests up front, and when they do not parse, hand the call to a twin
 * handler whose implementation throws INVALID_ARGUMENT: connect-es then
 * writes the error in whatever protocol the client speaks.
 */
import { fromBinary, fromJson, type DescService, type JsonValue } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type ConnectRouter,
  type ConnectRouterOptions,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "./connect-internals.js";
import { emptyMessage, framingOf, type Framing } from "./content-types.js";
import { wrapHandler } from "./wrap-handler.js";
import { countBinaryInputValues, countJsonValues, INPUT_METHODS, inputTooManyValues } from "../input-values.js";

const decodeError = createContextKey<ConnectError | undefined>(undefined, {
  description: "why the request body did not decode",
});

/** The router's acceptCompression by name: the decompressors connect-es itself would use. */
type Compressions = ReadonlyMap<string, NonNullable<ConnectRouterOptions["acceptCompression"]>[number]>;

/**
 * The decompressed message; the INVALID_ARGUMENT to answer when it does not
 * decompress (connect-es says INTERNAL for some such bodies; it is the
 * client that sent them); undefined when it is over `limit` once
 * decompressed (connect-es refuses that itself).
 */
async function decompress(
  compressions: Compressions,
  encoding: string,
  bytes: Uint8Array,
  limit: number,
  what: string,
): Promise<Uint8Array | ConnectError | undefined> {
  try {
    return await compressions.get(encoding)!.decompress(bytes, limit);
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.ResourceExhausted) return undefined;
    return new ConnectError(`${what} does not decompress as ${encoding}`, Code.InvalidArgument);
  }
}

/** Wraps every handler of the router; call after all services are registered. */
export function guardBinaryDecoding(
  router: ConnectRouter,
  options: ConnectRouterOptions & {
    readMaxBytes: number;
    maxInputValues?: number;
    /** Whether the request gate lets a call in: the bodies of calls it refuses are never read here. */
    admitted?: (service: string, header: Headers) => boolean;
  },
) {
  const twin = createConnectRouter(options);
  for (const service of new Set(router.handlers.map((h) => h.service))) {
    twin.service(service, rejectingImpl(service));
  }
  const twins = new Map(twin.handlers.map((h) => [h.requestPath, h]));
  const handlers = router.handlers as UniversalHandler[];
  for (const [i, handler] of handlers.entries()) {
    const reject = twins.get(handler.requestPath);
    if (reject) handlers[i] = guard(handler, reject, options);
  }
}

function rejectingImpl(service: DescService): Partial<ServiceImpl<DescService>> {
  const fail = (ctx: HandlerContext): never => {
    throw ctx.values.get(decodeError) ?? new ConnectError("request body does not decode", Code.InvalidArgument);
  };
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    impl[method.localName] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? (_req: unknown, ctx: HandlerContext) => fail(ctx)
        : // eslint-disable-next-line require-yield
          async function* (_req: unknown, ctx: HandlerContext) {
            fail(ctx);
          };
  }
  return impl as Partial<ServiceImpl<DescService>>;
}

function guard(
  handler: UniversalHandler,
  reject: UniversalHandler,
  { readMaxBytes: limit, maxInputValues, admitted, acceptCompression }: Parameters<typeof guardBinaryDecoding>[1],
): UniversalHandler {
  const compressions: Compressions = new Map((acceptCompression ?? []).map((c) => [c.name, c]));
  const kind = handler.method.methodKind;
  if (kind !== "unary" && kind !== "server_streaming") return handler;
  // A job input's values are counted before connect-es decodes it (input-values.ts).
  const valueLimit =
    maxInputValues !== undefined && INPUT_METHODS.has(handler.method.name) ? maxInputValues : undefined;
  const guarded = async (req: UniversalServerRequest) => {
    if (admitted && !admitted(handler.service.typeName, req.header)) return handler(req);
    if (req.method === "GET") {
      const problem = await getProblem(handler, req.url, limit, compressions);
      if (problem === undefined) return handler(req);
      const contextValues = req.contextValues ?? createContextValues();
      contextValues.set(decodeError, problem);
      // The twin gets an empty message, which always decodes.
      const url = new URL(req.url);
      url.searchParams.set("message", "");
      url.searchParams.delete("base64");
      url.searchParams.delete("compression");
      return reject({ ...req, url: url.toString(), contextValues });
    }
    const framing = framingOf(req.header.get("content-type"));
    if (!framing || req.method !== "POST" || !isByteStream(req.body)) return handler(req);
    const encoding = req.header.get(framing.encodingHeader)?.trim().toLowerCase();
    const encoded = !!encoding && encoding !== "identity";
    // An encoding we do not know: connect-es answers UNIMPLEMENTED itself.
    if (encoded && !compressions.has(encoding)) return handler(req);
    // Plain JSON that does not parse is INVALID_ARGUMENT in connect-es already.
    if (framing.kind === "raw" && framing.json && !encoded && valueLimit === undefined) return handler(req);
    const source = req.body[Symbol.asyncIterator]();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const r = await source.next();
      if (r.done) break;
      chunks.push(r.value);
      size += r.value.byteLength;
      // Over the limit: let connect-es refuse it with its own error.
      if (size > limit + 5) return handler({ ...req, body: replay(chunks, source) });
    }
    const body = concat(chunks, size);
    const problem = await decodeProblem(
      handler,
      framing,
      body,
      encoded ? encoding : undefined,
      limit,
      compressions,
      valueLimit,
    );
    if (problem === undefined) return handler({ ...req, body: replay([body]) });
    const contextValues = req.contextValues ?? createContextValues();
    contextValues.set(decodeError, problem);
    // The twin gets an empty message that always decodes, uncompressed.
    const empty = emptyMessage(framing);
    const header = new Headers(req.header);
    header.delete(framing.encodingHeader);
    header.set("content-length", String(empty.byteLength));
    return reject({ ...req, header, body: replay([empty]), contextValues });
  };
  return wrapHandler(handler, guarded);
}

/** The INVALID_ARGUMENT to answer, or undefined to let the request through as is. */
async function decodeProblem(
  handler: UniversalHandler,
  framing: Framing,
  body: Uint8Array,
  encoding: string | undefined,
  limit: number,
  compressions: Compressions,
  valueLimit?: number,
): Promise<ConnectError | undefined> {
  let message = body;
  let compressed = encoding !== undefined;
  if (framing.kind === "envelope") {
    // The first frame is checked when it is complete; a short body is a
    // framing problem connect-es reports itself (INVALID_ARGUMENT).
    if (body.byteLength < 5) return undefined;
    compressed = (body[0]! & 0b1) === 0b1;
    // connect-es (like grpc-go) calls a compressed frame without an encoding
    // INTERNAL; it is the client that sent it.
    if (compressed && encoding === undefined) {
      return compressedWithoutEncoding(framing.encodingHeader);
    }
    // Other flag bits: connect-es (gRPC above all) still parses the frame as
    // the message, and calls bytes that do not parse INTERNAL.
    const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
    if (body.byteLength < 5 + length) return undefined;
    message = body.subarray(5, 5 + length);
  }
  if (compressed && encoding !== undefined) {
    const inflated = await decompress(compressions, encoding, message, limit, "request body");
    if (inflated === undefined || inflated instanceof ConnectError) return inflated;
    message = inflated;
  }
  if (valueLimit !== undefined) {
    const count = framing.json
      ? countJsonValues(message, valueLimit)
      : countBinaryInputValues(message, valueLimit, handler.method.name);
    if (count > valueLimit) return inputTooManyValues(valueLimit);
  }
  if (framing.json) {
    // JSON that does not parse is INVALID_ARGUMENT in connect-es already,
    // but for gRPC and gRPC-Web its message (JSON.parse quotes the input,
    // cut anywhere, even inside a surrogate pair) goes into grpc-message,
    // whose encodeURIComponent throws on a lone surrogate: the response is
    // then never written and the call hangs. So we parse it first and answer
    // with a well-formed message.
    if (framing.encodingHeader !== "grpc-encoding") return undefined;
    try {
      fromJson(handler.method.input, JSON.parse(new TextDecoder().decode(message)) as JsonValue);
      return undefined;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return new ConnectError(
        wellFormed(`request body is not a valid ${handler.method.input.typeName} in JSON: ${why}`),
        Code.InvalidArgument,
      );
    }
  }
  try {
    fromBinary(handler.method.input, message);
    return undefined;
  } catch (err) {
    return notValidBinary("request body", handler.method.input.typeName, err);
  }
}

/** For Connect GET: a `message` that is not the request type in protobuf binary. */
async function getProblem(
  handler: UniversalHandler,
  url: string,
  limit: number,
  compressions: Compressions,
): Promise<ConnectError | undefined> {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return undefined;
  }
  const compression = params.get("compression")?.trim().toLowerCase();
  const encoded = !!compression && compression !== "identity";
  // An unknown compression is UNIMPLEMENTED in connect-es.
  if (encoded && !compressions.has(compression)) return undefined;
  const binary = params.get("encoding") === "proto";
  if (!binary && !encoded) return undefined;
  const text = params.get("message") ?? "";
  let bytes: Uint8Array;
  try {
    bytes = params.get("base64") === "1" ? base64Decode(text) : new TextEncoder().encode(text);
  } catch {
    return undefined;
  }
  if (encoded) {
    const inflated = await decompress(compressions, compression, bytes, limit, "message query parameter");
    if (inflated === undefined || inflated instanceof ConnectError) return inflated;
    bytes = inflated;
  }
  if (!binary) return undefined;
  try {
    fromBinary(handler.method.input, bytes);
    return undefined;
  } catch (err) {
    return notValidBinary("message query parameter", handler.method.input.typeName, err);
  }
}

/** INVALID_ARGUMENT for a request message that is not its type in protobuf binary (connect-es says INTERNAL). */
export function notValidBinary(what: string, typeName: string, err: unknown): ConnectError {
  const why = err instanceof Error ? err.message : String(err);
  return new ConnectError(`${what} is not a valid ${typeName} in protobuf binary: ${why}`, Code.InvalidArgument);
}

/** INVALID_ARGUMENT for a frame marked compressed in a request that names no encoding (connect-es says INTERNAL). */
export function compressedWithoutEncoding(encodingHeader: string): ConnectError {
  return new ConnectError(
    `request frame is marked compressed, but the request names no encoding (${encodingHeader})`,
    Code.InvalidArgument,
  );
}

/** Lone surrogates replaced by U+FFFD, so encodeURIComponent (grpc-message) cannot throw. */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function* replay(chunks: Uint8Array[], rest?: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* chunks;
  if (!rest) return;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}
