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
import { fromBinary, type DescService } from "@bufbuild/protobuf";
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
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

const decodeError = createContextKey<ConnectError | undefined>(undefined, {
  description: "why the request body did not decode",
});

type Framing = { kind: "envelope" | "raw"; encodingHeader: string };

function framingOf(contentType: string | null): Framing | undefined {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  switch (type) {
    case "application/grpc":
    case "application/grpc+proto":
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return { kind: "envelope", encodingHeader: "grpc-encoding" };
    case "application/connect+proto":
      return { kind: "envelope", encodingHeader: "connect-content-encoding" };
    case "application/proto":
      return { kind: "raw", encodingHeader: "content-encoding" };
    default:
      return undefined;
  }
}

/** Wraps every handler of the router; call after all services are registered. */
export function guardBinaryDecoding(router: ConnectRouter, options: ConnectRouterOptions & { readMaxBytes: number }) {
  const twin = createConnectRouter(options);
  for (const service of new Set(router.handlers.map((h) => h.service))) {
    twin.service(service, rejectingImpl(service));
  }
  const twins = new Map(twin.handlers.map((h) => [h.requestPath, h]));
  const handlers = router.handlers as UniversalHandler[];
  for (const [i, handler] of handlers.entries()) {
    const reject = twins.get(handler.requestPath);
    if (reject) handlers[i] = guard(handler, reject, options.readMaxBytes);
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

function guard(handler: UniversalHandler, reject: UniversalHandler, limit: number): UniversalHandler {
  const kind = handler.method.methodKind;
  if (kind !== "unary" && kind !== "server_streaming") return handler;
  const guarded = async (req: UniversalServerRequest) => {
    const framing = framingOf(req.header.get("content-type"));
    const encoding = framing && req.header.get(framing.encodingHeader);
    if (!framing || req.method !== "POST" || (encoding && encoding !== "identity") || !isByteStream(req.body)) {
      return handler(req);
    }
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
    const problem = decodeProblem(handler, framing, body);
    if (problem === undefined) return handler({ ...req, body: replay([body]) });
    const contextValues = req.contextValues ?? createContextValues();
    contextValues.set(decodeError, problem);
    const empty = framing.kind === "envelope" ? new Uint8Array(5) : new Uint8Array(0);
    const header = new Headers(req.header);
    header.set("content-length", String(empty.byteLength));
    return reject({ ...req, header, body: replay([empty]), contextValues });
  };
  return Object.assign(guarded, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

/** The INVALID_ARGUMENT to answer, or undefined to let the request through as is. */
function decodeProblem(handler: UniversalHandler, framing: Framing, body: Uint8Array): ConnectError | undefined {
  let message = body;
  if (framing.kind === "envelope") {
    // Only a single well-formed uncompressed frame is checked; anything else
    // is a framing problem connect-es reports itself.
    if (body.byteLength < 5 || body[0] !== 0) return undefined;
    const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
    if (body.byteLength !== 5 + length) return undefined;
    message = body.subarray(5);
  }
  try {
    fromBinary(handler.method.input, message);
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return new ConnectError(
      `request body is not a valid ${handler.method.input.typeName} in protobuf binary: ${why}`,
      Code.InvalidArgument,
    );
  }
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
