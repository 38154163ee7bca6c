/**
 * Every way a client reaches jetq over the wire, behind one small interface, so
 * one scenario runs unchanged over Connect (JSON, binary, GET), gRPC, gRPC-Web,
 * an independent gRPC stack (@grpc/grpc-js), `buf curl` and plain fetch.
 *
 * Failures of every client surface as ConnectError with the code the server
 * sent, so tests assert codes and messages (rawMessage) the same way for all.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  create,
  fromJson,
  toJson,
  type DescMessage,
  type DescMethod,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { createGrpcJsClient, grpcJsErrorToConnect, readGrpcJsStream } from "../helpers/grpc-js.js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  QueueService,
  type CancelRequestSchema,
  type CancelResponse,
  type GetResultRequestSchema,
  type GetResultResponse,
  type GetStatusRequestSchema,
  type Job,
  type QueueCountRequestSchema,
  type QueueCountResponse,
  type StreamStatusRequestSchema,
  type SubmitAndStreamRequestSchema,
  type SubmitRequestSchema,
} from "../../gen/jetq/v1/queue_pb.js";

export interface CallOptions {
  signal?: AbortSignal;
}

/** The QueueService as every client here exposes it (the generated client fits as is). */
export interface QueueApi {
  submit(req: MessageInitShape<typeof SubmitRequestSchema>): Promise<Job>;
  submitAndStream(
    req: MessageInitShape<typeof SubmitAndStreamRequestSchema>,
    options?: CallOptions,
  ): AsyncIterable<Job>;
  getStatus(req: MessageInitShape<typeof GetStatusRequestSchema>): Promise<Job>;
  streamStatus(req: MessageInitShape<typeof StreamStatusRequestSchema>, options?: CallOptions): AsyncIterable<Job>;
  getResult(req: MessageInitShape<typeof GetResultRequestSchema>): Promise<GetResultResponse>;
  cancel(req: MessageInitShape<typeof CancelRequestSchema>): Promise<CancelResponse>;
  queueCount(req: MessageInitShape<typeof QueueCountRequestSchema>): Promise<QueueCountResponse>;
}

export interface ProtocolClient extends QueueApi {
  /** Releases connections (HTTP/2 sessions, gRPC channels). */
  close(): void;
}

export interface Protocol {
  /** e.g. "connect+json http/1.1" */
  name: string;
  open(baseUrl: string): ProtocolClient;
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROTO_DIR = `${REPO_ROOT}proto`;
const BUF_BIN = `${REPO_ROOT}node_modules/.bin/buf`;
const SERVICE = QueueService.typeName;

// --- generated client over connect-node transports -------------------------------

function generated(makeTransport: (baseUrl: string, session?: Http2SessionManager) => Transport, h2: boolean) {
  return (baseUrl: string): ProtocolClient => {
    // Our own session manager, so close() really drops the HTTP/2 connection.
    const session = h2 ? new Http2SessionManager(baseUrl) : undefined;
    const client = createClient(QueueService, makeTransport(baseUrl, session));
    return Object.assign(client, { close: () => session?.abort() });
  };
}

const connectH1 = (useBinaryFormat: boolean, useHttpGet = false) =>
  generated((baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat, useHttpGet }), false);
const connectH2 = (useBinaryFormat: boolean, useHttpGet = false) =>
  generated(
    (baseUrl, sessionManager) =>
      createConnectTransport({ baseUrl, httpVersion: "2", sessionManager, useBinaryFormat, useHttpGet }),
    true,
  );

/** A Connect client over HTTP/2 with its own connection: the fan-out test opens a few. */
export function openConnectH2(baseUrl: string, useBinaryFormat = true): ProtocolClient {
  return connectH2(useBinaryFormat)(baseUrl);
}

/** A gRPC (connect-node) client over h2c with its own connection. */
export function openGrpcH2(baseUrl: string): ProtocolClient {
  return generated((url, sessionManager) => createGrpcTransport({ baseUrl: url, sessionManager }), true)(baseUrl);
}

// --- clients built from a raw caller ------------------------------------------------

interface WireCaller {
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    req: MessageShape<I>,
  ): Promise<MessageShape<O>>;
  serverStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    req: MessageShape<I>,
    options?: CallOptions,
  ): AsyncIterable<MessageShape<O>>;
  close(): void;
}

function clientFromCaller(caller: WireCaller): ProtocolClient {
  const m = QueueService.method;
  return {
    submit: (r) => caller.unary(m.submit, create(m.submit.input, r)),
    submitAndStream: (r, o) => caller.serverStream(m.submitAndStream, create(m.submitAndStream.input, r), o),
    getStatus: (r) => caller.unary(m.getStatus, create(m.getStatus.input, r)),
    streamStatus: (r, o) => caller.serverStream(m.streamStatus, create(m.streamStatus.input, r), o),
    getResult: (r) => caller.unary(m.getResult, create(m.getResult.input, r)),
    cancel: (r) => caller.unary(m.cancel, create(m.cancel.input, r)),
    queueCount: (r) => caller.unary(m.queueCount, create(m.queueCount.input, r)),
    close: () => caller.close(),
  };
}

// --- @grpc/grpc-js: an independent gRPC implementation --------------------------------

function grpcJsCaller(baseUrl: string): WireCaller {
  const client = createGrpcJsClient(baseUrl);
  return {
    unary: (method, req) =>
      new Promise((resolve, reject) => {
        client[method.name]!.call(client, req, (err: unknown, res: unknown) => {
          if (err) reject(grpcJsErrorToConnect(err));
          else resolve(res as never);
        });
      }),
    serverStream(method, req, options) {
      const stream = client[method.name]!.call(client, req) as grpc.ClientReadableStream<never>;
      return readGrpcJsStream(stream, options?.signal);
    },
    close: () => client.close(),
  };
}

// --- buf curl ----------------------------------------------------------------------

type BufProtocol = "connect" | "grpc" | "grpcweb";

const CONNECT_CODES: Record<string, Code> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/** Splits a stream of concatenated JSON documents (buf curl prints one per message). */
export function createJsonSplitter() {
  let buffer = "";
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let scanned = 0;
  return (chunk: string): JsonValue[] => {
    buffer += chunk;
    const docs: JsonValue[] = [];
    for (let i = scanned; i < buffer.length; i++) {
      const c = buffer[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === "{" || c === "[") {
        if (depth === 0) start = i;
        depth++;
      } else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) {
          docs.push(JSON.parse(buffer.slice(start, i + 1)) as JsonValue);
          buffer = buffer.slice(i + 1);
          i = -1;
          start = -1;
        }
      }
    }
    scanned = buffer.length;
    return docs;
  };
}

const BUF_TIMEOUT_MS = 30_000;

/**
 * Each buf curl is a process that compiles the schema first; dozens at once
 * (polling tests running concurrently) starve two cores. Unary calls take turns;
 * streams, which live long, do not wait for a turn.
 */
const BUF_UNARY_AT_ONCE = 2;
let bufRunning = 0;
const bufWaiting: (() => void)[] = [];
async function bufTurn<T>(fn: () => Promise<T>): Promise<T> {
  if (bufRunning >= BUF_UNARY_AT_ONCE) await new Promise<void>((r) => bufWaiting.push(r));
  bufRunning++;
  try {
    return await fn();
  } finally {
    bufRunning--;
    bufWaiting.shift()?.();
  }
}

function bufCurlCaller(baseUrl: string, protocol: BufProtocol, http2: boolean): WireCaller {
  const children = new Set<ReturnType<typeof spawn>>();

  /** Runs buf curl; yields every response message, throws the RPC's error. */
  async function* run(method: DescMethod, req: MessageShape<DescMessage>, signal?: AbortSignal) {
    const args = [
      "curl",
      "--schema",
      PROTO_DIR,
      "--protocol",
      protocol,
      ...(http2 ? ["--http2-prior-knowledge"] : []),
      "-d",
      "@-",
      `${baseUrl}/${SERVICE}/${method.name}`,
    ];
    const child = spawn(BUF_BIN, args, { stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    const timer = setTimeout(() => child.kill("SIGKILL"), BUF_TIMEOUT_MS);
    const onAbort = () => child.kill("SIGKILL");
    signal?.addEventListener("abort", onAbort);
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    child.stdin!.end(JSON.stringify(toJson(method.input, req)));
    const split = createJsonSplitter();
    try {
      child.stdout!.setEncoding("utf8");
      for await (const chunk of child.stdout! as AsyncIterable<string>) {
        for (const doc of split(chunk)) yield fromJson(method.output, doc, { ignoreUnknownFields: true });
      }
      const code = await exited;
      if (code !== 0) throw bufCurlError(code, stderr);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      children.delete(child);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }

  return {
    unary: (method, req) =>
      bufTurn(async () => {
        const out: MessageShape<DescMessage>[] = [];
        for await (const msg of run(method, req)) out.push(msg);
        if (out.length !== 1) throw new Error(`buf curl ${method.name}: ${out.length} responses to a unary call`);
        return out[0] as never;
      }),
    serverStream: (method, req, options) => run(method, req, options?.signal) as AsyncIterable<never>,
    close: () => {
      for (const c of children) c.kill("SIGKILL");
    },
  };
}

/** buf curl exits with the gRPC code shifted left by 3 and prints the error as JSON on stderr. */
function bufCurlError(exitCode: number | null, stderr: string): ConnectError {
  if (exitCode === null || exitCode < 8) {
    return new ConnectError(`buf curl failed (exit ${exitCode}): ${stderr.trim()}`, Code.Internal);
  }
  const code = (exitCode >> 3) as Code;
  let message = stderr.trim();
  const doc = createJsonSplitter()(stderr)[0];
  if (doc && typeof doc === "object" && !Array.isArray(doc) && typeof doc.message === "string") {
    message = doc.message;
  }
  return new ConnectError(message, code);
}

// --- plain fetch, speaking the Connect protocol by hand ---------------------------------

function connectErrorFromBody(status: number, body: string): ConnectError {
  try {
    const json = JSON.parse(body) as { code?: string; message?: string };
    if (json.code && json.code in CONNECT_CODES) {
      return new ConnectError(json.message ?? "", CONNECT_CODES[json.code]);
    }
  } catch {
    // not a Connect error body: fall back on the HTTP status below
  }
  const byStatus: Record<number, Code> = {
    400: Code.InvalidArgument,
    401: Code.Unauthenticated,
    403: Code.PermissionDenied,
    404: Code.Unimplemented,
    408: Code.DeadlineExceeded,
    409: Code.Aborted,
    412: Code.FailedPrecondition,
    413: Code.ResourceExhausted,
    415: Code.Internal,
    429: Code.Unavailable,
    431: Code.ResourceExhausted,
    502: Code.Unavailable,
    503: Code.Unavailable,
    504: Code.Unavailable,
  };
  return new ConnectError(`HTTP ${status}: ${body}`, byStatus[status] ?? Code.Unknown);
}

export const CONNECT_HEADERS = { "connect-protocol-version": "1" };

function fetchCaller(baseUrl: string, useGet: boolean): WireCaller {
  return {
    async unary(method, req) {
      const url = `${baseUrl}/${SERVICE}/${method.name}`;
      const json = JSON.stringify(toJson(method.input, req));
      const res =
        useGet && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
          ? await fetch(`${url}?connect=v1&encoding=json&message=${encodeURIComponent(json)}`)
          : await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json", ...CONNECT_HEADERS },
              body: json,
            });
      const body = await res.text();
      if (!res.ok) throw connectErrorFromBody(res.status, body);
      return fromJson(method.output, JSON.parse(body) as JsonValue, { ignoreUnknownFields: true }) as never;
    },
    async *serverStream(method, req, options) {
      const data = Buffer.from(JSON.stringify(toJson(method.input, req)));
      const envelope = Buffer.alloc(5 + data.length);
      envelope.writeUInt32BE(data.length, 1);
      data.copy(envelope, 5);
      const res = await fetch(`${baseUrl}/${SERVICE}/${method.name}`, {
        method: "POST",
        headers: { "content-type": "application/connect+json", ...CONNECT_HEADERS },
        body: envelope,
        signal: options?.signal,
      });
      if (!res.ok || !res.body) throw connectErrorFromBody(res.status, await res.text());
      let buf = Buffer.alloc(0);
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
          const flags = buf[0]!;
          const payload = buf.subarray(5, 5 + buf.readUInt32BE(1)).toString("utf8");
          buf = buf.subarray(5 + buf.readUInt32BE(1));
          const doc = JSON.parse(payload) as JsonValue;
          if (flags & 0b10) {
            const end = doc as { error?: { code?: string; message?: string } };
            if (end.error) throw connectErrorFromBody(0, JSON.stringify(end.error));
            return;
          }
          yield fromJson(method.output, doc, { ignoreUnknownFields: true }) as never;
        }
      }
      throw new ConnectError("stream ended without an end-stream message", Code.DataLoss);
    },
    close: () => {},
  };
}

// --- the matrix -------------------------------------------------------------------

export const PROTOCOLS: Protocol[] = [
  { name: "connect+json http/1.1", open: connectH1(false) },
  { name: "connect+json http/1.1 (GET for no-side-effect RPCs)", open: connectH1(false, true) },
  { name: "connect+proto http/1.1", open: connectH1(true) },
  { name: "connect+json h2c", open: connectH2(false) },
  { name: "connect+proto h2c", open: connectH2(true) },
  { name: "connect+proto h2c (GET)", open: connectH2(true, true) },
  {
    name: "grpc h2c",
    open: generated((baseUrl, sessionManager) => createGrpcTransport({ baseUrl, sessionManager }), true),
  },
  {
    name: "grpc-web http/1.1",
    open: generated((baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }), false),
  },
  {
    name: "grpc-web+json http/1.1",
    open: generated(
      (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
      false,
    ),
  },
  {
    name: "grpc-web h2c",
    open: generated(
      (baseUrl, sessionManager) => createGrpcWebTransport({ baseUrl, httpVersion: "2", sessionManager }),
      true,
    ),
  },
  { name: "@grpc/grpc-js", open: (url) => clientFromCaller(grpcJsCaller(url)) },
  { name: "buf curl connect http/1.1", open: (url) => clientFromCaller(bufCurlCaller(url, "connect", false)) },
  { name: "buf curl grpc h2c", open: (url) => clientFromCaller(bufCurlCaller(url, "grpc", true)) },
  { name: "buf curl grpcweb http/1.1", open: (url) => clientFromCaller(bufCurlCaller(url, "grpcweb", false)) },
  { name: "fetch connect+json", open: (url) => clientFromCaller(fetchCaller(url, false)) },
  { name: "fetch connect+json (GET)", open: (url) => clientFromCaller(fetchCaller(url, true)) },
];
