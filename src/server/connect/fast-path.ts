/**
 * The Connect calls almost every client makes, served without connect-es's
 * universal handler: unary and server-streaming POSTs with an uncompressed
 * binary or JSON body and no deadline header. Why: connect-es's universal
 * layer (web Headers, an AbortController and a chain of async iterables per
 * call) costs more server CPU per call than all of jetq's other work for a job.
 * Measured 2026-12-05 at 0f2c6ac (bench --only=embedded vs --no-fast-path, h2): 2.4–4.0× less jetq CPU per job, 2.3–3.5× the jobs/s.
 * This path calls the same ServiceImpl through the same interceptors, with
 * connect-es's own content-type parsing, serializers, error JSON and
 * end-stream encoding (connect-internals.ts). Anything else (gRPC, gRPC-Web,
 * GET, compression, timeouts, other services) goes to connect-es untouched:
 * the returned function answers false before it has read a byte.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { create, type DescMessage, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createServiceImplSpec,
  type ContextValues,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  codeToHttpStatus,
  createMethodSerializationLookup,
  encodeEnvelope,
  endStreamFlag,
  endStreamToJson,
  errorToJsonBytes,
  mergeNonProtocolHeaders,
  parseContentType,
  trailerMux,
  type MethodSerializationLookup,
} from "./connect-internals.js";
import { notValidBinary } from "./decode-guard.js";
import { handlerContext } from "./handler-context.js";
import { invokeServerStreaming, invokeUnary } from "./invoke.js";
import { assertNoMoreEnvelopes, firstEnvelope, readBody, tooLarge } from "./request-body.js";
import { assertInputValues, INPUT_METHODS } from "../input-values.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
/** What connect-node's adapter takes as a response, too. */
type Res = Parameters<ReturnType<typeof connectNodeAdapter>>[1];

export interface FastPathOptions {
  service: DescService;
  impl: ServiceImpl<DescService>;
  interceptors: Interceptor[];
  readMaxBytes: number;
  jsonOptions?: { alwaysEmitImplicit?: boolean };
  /** Aborted at shutdown: open streams end with its reason. */
  shutdownSignal: AbortSignal;
  /** When set, only calls it admits (by their Authorization header) take this path. */
  admit?: (authorization: string | undefined) => boolean;
  /** A call's context values, as connect-node's adapter option of that name. */
  contextValues?: (req: Req) => ContextValues;
  /** Most JSON values a job input may hold, counted before decoding (input-values.ts). */
  maxInputValues?: number;
  /**
   * By streaming method name: whether a message is the stream's last (the
   * implementation ends right after it). A message it calls last is held and
   * written with the end; any other is written at once. Methods without one
   * hold each message for a turn of the event loop to find out (oneTurn).
   */
  lastMessage?: Record<string, (message: Message) => boolean>;
}

interface Route {
  method: DescMethod;
  spec: MethodImplSpec;
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  path: string;
  lastMessage: ((message: Message) => boolean) | undefined;
}

const encoder = new TextEncoder();
/** The end of a stream that ended well with no trailers: what endStreamToJson makes of it, made once. */
const PLAIN_END = encodeEnvelope(endStreamFlag, encoder.encode("{}"));

/** What every call on the path shares. */
interface FastPath {
  o: FastPathOptions;
  /** Ends each open stream at shutdown (one listener for all of them, see createConnectFastPath). */
  openStreams: Set<() => void>;
}

export function createConnectFastPath(o: FastPathOptions): (req: Req, res: Res) => boolean {
  const routes = routesOf(o);
  // One listener for all open streams: node scans a signal's listeners on
  // every add, so one each made opening 10,000 streams quadratic.
  const fp: FastPath = { o, openStreams: new Set() };
  o.shutdownSignal.addEventListener(
    "abort",
    () => {
      for (const end of [...fp.openStreams]) end();
    },
    { once: true },
  );

  return (req, res) => {
    if (req.method !== "POST") return false;
    const route = routes.get(req.url ?? "");
    if (!route) return false;
    const streaming = route.method.methodKind === "server_streaming";
    const binary = takes(o, req.headers, streaming);
    if (binary === undefined) return false;
    if (streaming) void serveStream(fp, route, binary, req, res);
    else void serveUnary(fp, route, binary, req, res);
    return true;
  };
}

/** The unary and server-streaming methods by path. */
function routesOf(o: FastPathOptions): Map<string, Route> {
  const implSpec = createServiceImplSpec(o.service, o.impl);
  const routes = new Map<string, Route>();
  for (const method of o.service.methods) {
    if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") continue;
    const path = `/${o.service.typeName}/${method.name}`;
    routes.set(path, {
      method,
      spec: implSpec.methods[method.localName]!,
      serialization: createMethodSerializationLookup(method, undefined, o.jsonOptions, {
        readMaxBytes: o.readMaxBytes,
        writeMaxBytes: 0xffffffff,
      }),
      path,
      lastMessage: o.lastMessage?.[method.name],
    });
  }
  return routes;
}

/** Whether this path takes a call with these headers: true binary, false JSON, undefined not at all. */
function takes(o: FastPathOptions, h: http.IncomingHttpHeaders, streaming: boolean): boolean | undefined {
  const binary = contentTypeOf(h["content-type"], streaming);
  if (binary === undefined) return undefined;
  if (h["connect-timeout-ms"] !== undefined) return undefined;
  const version = h["connect-protocol-version"];
  if (version !== undefined && version !== "1") return undefined;
  if (!identity(h[streaming ? "connect-content-encoding" : "content-encoding"])) return undefined;
  const length = h["content-length"];
  if (length !== undefined && !(Number(length) <= o.readMaxBytes)) return undefined;
  if (o.admit && !o.admit(h.authorization)) return undefined;
  return binary;
}

function checkInputValues(o: FastPathOptions, route: Route, binary: boolean, message: Uint8Array) {
  if (o.maxInputValues !== undefined && INPUT_METHODS.has(route.method.name)) {
    assertInputValues(message, binary, o.maxInputValues, route.method.name);
  }
}

async function serveUnary({ o }: FastPath, route: Route, binary: boolean, req: Req, res: Res) {
  const ctx = handlerContext(route.method, route.path, req, o.shutdownSignal, o.contextValues?.(req));
  let status = 200;
  let body: Uint8Array;
  try {
    const bytes = await readBody(req, o.readMaxBytes, () => tooLarge(o.readMaxBytes));
    checkInputValues(o, route, binary, bytes);
    const input = parse(route, binary, bytes);
    const spec = route.spec as Extract<MethodImplSpec, { kind: "unary" }>;
    const output = await invokeUnary(spec, ctx, input, o.interceptors);
    body = route.serialization.getO(binary).serialize(output);
    ctx.responseHeader.set("content-type", binary ? "application/proto" : "application/json");
  } catch (e) {
    const error = asConnectError(e);
    status = codeToHttpStatus(error.code);
    ctx.responseHeader.set("content-type", "application/json");
    if (!error.isWireError) mergeNonProtocolHeaders(ctx.responseHeader, error.metadata);
    body = errorToJsonBytes(error, o.jsonOptions);
  }
  const head = headersOf(ctx.responseHeader, ctx.responseTrailer);
  head["content-length"] = String(body.byteLength);
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, head);
  res.end(body);
}

/** A server-streaming call's one input: one envelope, counted and decoded. */
async function streamInput(o: FastPathOptions, route: Route, binary: boolean, req: Req): Promise<Message> {
  // An envelope's payload may be readMaxBytes long (as in connect-es): the body, 5 more.
  const bytes = await readBody(req, o.readMaxBytes + 5, (head) => {
    // What connect-es says once it has read the envelope's header.
    const length = head.byteLength < 5 ? 0 : new DataView(head.buffer, head.byteOffset, 5).getUint32(1);
    return tooLarge(o.readMaxBytes, length > o.readMaxBytes ? length : undefined);
  });
  const [first, rest] = firstEnvelope(bytes, o.readMaxBytes);
  checkInputValues(o, route, binary, first);
  const input = parse(route, binary, first);
  assertNoMoreEnvelopes(rest, o.readMaxBytes);
  return input;
}

async function serveStream(fp: FastPath, route: Route, binary: boolean, req: Req, res: Res) {
  const { o } = fp;
  const abort = new AbortController();
  const onShutdown = () => abort.abort(o.shutdownSignal.reason);
  let ended = false;
  const onClose = () => {
    // writableFinished is no help: node reports a reset h2 stream as finished.
    if (!ended) abort.abort(new ConnectError("the client closed the stream", Code.Canceled));
  };
  if (o.shutdownSignal.aborted) onShutdown();
  else fp.openStreams.add(onShutdown);
  res.once("close", onClose);
  const ctx = handlerContext(route.method, route.path, req, abort.signal, o.contextValues?.(req));
  let wroteHead = false;
  const writeHead = () => {
    if (wroteHead) return;
    wroteHead = true;
    ctx.responseHeader.set("content-type", binary ? "application/connect+proto" : "application/connect+json");
    res.writeHead(200, headersOf(ctx.responseHeader));
  };
  let error: ConnectError | undefined;
  /** The last message, written once we know whether the stream ends right after it. */
  let held: Uint8Array | undefined;
  const writeHeld = async () => {
    const bytes = held!;
    held = undefined;
    if (abort.signal.aborted || res.destroyed) return;
    if (!res.write(bytes)) await drained(res, abort.signal);
  };
  let outputs: AsyncIterator<Message> | undefined;
  let outputsDone = false;
  try {
    const input = await streamInput(o, route, binary, req);
    const serialize = route.serialization.getO(binary);
    const spec = route.spec as Extract<MethodImplSpec, { kind: "server_streaming" }>;
    outputs = (await invokeServerStreaming(spec, ctx, input, o.interceptors))[Symbol.asyncIterator]();
    const { lastMessage } = route;
    for (;;) {
      const next = outputs.next();
      let r: IteratorResult<Message> | typeof NOT_YET =
        held && !lastMessage ? await Promise.race([next, oneTurn()]) : await next;
      if (r === NOT_YET) {
        await writeHeld();
        r = await next;
      }
      if (r.done) {
        outputsDone = true;
        break;
      }
      if (held) await writeHeld();
      if (abort.signal.aborted) break;
      writeHead();
      const full = "$typeName" in r.value ? r.value : create(route.method.output, r.value);
      held = encodeEnvelope(0, serialize.serialize(full));
      // Known not to be the last: no wait for what follows (a setImmediate and a race per message).
      if (lastMessage && !lastMessage(full)) await writeHeld();
    }
    // Cut short (shutdown): the client must not take it for the job's end.
    if (abort.signal.aborted) error = ConnectError.from(abort.signal.reason, Code.Canceled);
  } catch (e) {
    error = asConnectError(e);
  } finally {
    fp.openStreams.delete(onShutdown);
    // Left early (abort, an error of ours): the implementation's finally blocks must run.
    if (outputs && !outputsDone) void outputs.return?.().catch(() => undefined);
  }
  if (res.writableEnded || res.destroyed) return;
  writeHead();
  const end =
    error === undefined && isEmpty(ctx.responseTrailer)
      ? PLAIN_END
      : encodeEnvelope(
          endStreamFlag,
          encoder.encode(JSON.stringify(endStreamToJson(ctx.responseTrailer, error, o.jsonOptions))),
        );
  ended = true;
  // The last message and the end in one DATA frame: a client that stops
  // reading at the last message (a terminal job status) then has seen the
  // end too and resets nothing. nghttp2 closes a connection whose client
  // resets streams faster than ~33 a second beyond a burst of 1,000.
  res.end(held ? Buffer.concat([held, end]) : end);
  res.off("close", onClose);
}

/**
 * What connect-es's Connect handler answers for a throw: ConnectErrors as
 * they are, anything else INTERNAL "internal error" (the cause kept).
 * ConnectError.from would put the thrown error's own message on the wire.
 */
function asConnectError(e: unknown): ConnectError {
  return e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}

/** true: binary, false: JSON, undefined: not a content type this path serves (connect-es's own parsing). */
function contentTypeOf(value: string | undefined, streaming: boolean): boolean | undefined {
  const type = parseContentType(value ?? null);
  return type?.stream === streaming ? type.binary : undefined;
}

function identity(encoding: string | string[] | undefined): boolean {
  return encoding === undefined || (typeof encoding === "string" && encoding.trim().toLowerCase() === "identity");
}

function parse(route: Route, binary: boolean, bytes: Uint8Array): Message {
  if (!binary) return route.serialization.getI(false).parse(bytes);
  try {
    return route.serialization.getI(true).parse(bytes);
  } catch (err) {
    // connect-es calls undecodable binary INTERNAL; it is the client's bytes
    // that are wrong (see decode-guard.ts, which does the same for the rest).
    if (err instanceof ConnectError && err.code === Code.Internal) {
      throw notValidBinary("request body", route.method.input.typeName, err.rawMessage.replace(/^parse binary: /, ""));
    }
    throw err;
  }
}

const NOT_YET = Symbol("not yet");
/** Resolves after the current turn of the event loop. */
const oneTurn = () => new Promise<typeof NOT_YET>((resolve) => setImmediate(resolve, NOT_YET));

function drained(res: Res, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

function isEmpty(headers: Headers): boolean {
  for (const _ of headers.keys()) return false;
  return true;
}

/** Response headers, with trailers of a unary call as `trailer-` headers (the Connect protocol). */
function headersOf(header: Headers, trailer?: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  (trailer ? trailerMux(header, trailer) : header).forEach((v, k) => (out[k] = v));
  return out;
}
