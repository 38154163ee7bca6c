/**
 * A lean Connect client: the Connect protocol (binary, or JSON as curl and
 * browsers send it) spoken over node's own
 * http2 and http modules with the generated message schemas, without
 * connect-node's transport. It stands for the cheap clients other services
 * use (grpc-go, connect-go, a tuned Node caller): connect-node's client costs
 * ~0.25 ms of CPU per call, and on a 2-core machine the bench's clients share
 * the cores with jetq and nats-server, so that alone would cap any server.
 * Both clients are measured; the report says which is which.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import {
  create,
  fromBinary,
  fromJsonString,
  toBinary,
  toJsonString,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "../src/server/connect/connect-internals.js";
import {
  GetResultRequestSchema,
  GetResultResponseSchema,
  JobSchema,
  QueueCountRequestSchema,
  QueueCountResponseSchema,
  StreamStatusRequestSchema,
  SubmitAndStreamRequestSchema,
  SubmitBatchRequestSchema,
  SubmitBatchResponseSchema,
  SubmitRequestSchema,
  WatchJobsRequestSchema,
  type GetResultResponse,
  type Job,
  type QueueCountResponse,
  type SubmitBatchResponse,
} from "../gen/jetq/v1/queue_pb.js";
import type { HttpVersion } from "./client.js";

/** The calls the throughput and latency scenarios make. */
export interface JobsApi {
  submit(req: MessageInitShape<typeof SubmitRequestSchema>): Promise<Job>;
  streamStatus(
    req: MessageInitShape<typeof StreamStatusRequestSchema>,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<Job>;
  submitAndStream(
    req: MessageInitShape<typeof SubmitAndStreamRequestSchema>,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<Job>;
  queueCount(req: MessageInitShape<typeof QueueCountRequestSchema>): Promise<QueueCountResponse>;
  getResult(req: MessageInitShape<typeof GetResultRequestSchema>): Promise<GetResultResponse>;
  submitBatch(req: MessageInitShape<typeof SubmitBatchRequestSchema>): Promise<SubmitBatchResponse>;
  watchJobs(
    req: MessageInitShape<typeof WatchJobsRequestSchema>,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<Job>;
}

/** How messages are written: binary Protobuf, or Connect JSON (what curl and browsers send). */
export type Codec = "proto" | "json";

interface Coder {
  unaryType: string;
  streamType: string;
  encode<I extends DescMessage>(schema: I, msg: MessageShape<I>): Uint8Array;
  decode<O extends DescMessage>(schema: O, bytes: Uint8Array): MessageShape<O>;
}

const CODERS: Record<Codec, Coder> = {
  proto: {
    unaryType: "application/proto",
    streamType: "application/connect+proto",
    encode: (schema, msg) => toBinary(schema, msg),
    decode: (schema, bytes) => fromBinary(schema, bytes),
  },
  json: {
    unaryType: "application/json",
    streamType: "application/connect+json",
    encode: (schema, msg) => Buffer.from(toJsonString(schema, msg)),
    decode: (schema, bytes) => fromJsonString(schema, Buffer.from(bytes).toString("utf8")),
  },
};

export interface LeanClient {
  readonly api: JobsApi;
  close(): void;
}

/** One exchange: the status and headers, then body chunks as they come. */
interface Exchange {
  onResponse(status: number, header: Record<string, string | string[] | undefined>): void;
  onData(chunk: Buffer): void;
  onEnd(err?: Error): void;
}

type Send = (path: string, contentType: string, body: Uint8Array, x: Exchange) => () => void;

const PREFIX = "/jetq.v1.QueueService/";

function h2Sender(baseUrl: string): { send: Send; close(): void } {
  let session: http2.ClientHttp2Session | undefined;
  const open = () => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = http2.connect(baseUrl);
    s.on("error", () => undefined);
    s.on("close", () => {
      if (session === s) session = undefined;
    });
    session = s;
    return s;
  };
  return {
    send(path, contentType, body, x) {
      const stream = open().request({
        ":method": "POST",
        ":path": path,
        "content-type": contentType,
        "connect-protocol-version": "1",
      });
      stream.on("response", (h) => x.onResponse(Number(h[":status"]), h));
      stream.on("data", (c: Buffer) => x.onData(c));
      stream.on("end", () => x.onEnd());
      stream.on("error", (err) => x.onEnd(err));
      stream.end(body);
      return () => stream.close(http2.constants.NGHTTP2_CANCEL);
    },
    close: () => session?.close(),
  };
}

function h1Sender(baseUrl: string): { send: Send; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const url = new URL(baseUrl);
  return {
    send(path, contentType, body, x) {
      const req = http.request({
        agent,
        host: url.hostname,
        port: url.port,
        method: "POST",
        path,
        headers: { "content-type": contentType, "connect-protocol-version": "1", "content-length": body.byteLength },
      });
      req.on("response", (res) => {
        x.onResponse(res.statusCode ?? 0, res.headers);
        res.on("data", (c: Buffer) => x.onData(c));
        res.on("end", () => x.onEnd());
        res.on("error", (err) => x.onEnd(err));
      });
      req.on("error", (err) => x.onEnd(err));
      req.end(body);
      return () => req.destroy();
    },
    close: () => agent.destroy(),
  };
}

function unary<I extends DescMessage, O extends DescMessage>(
  send: Send,
  coder: Coder,
  method: string,
  input: I,
  output: O,
): (req: MessageInitShape<I>) => Promise<MessageShape<O>> {
  return (req) =>
    new Promise((resolve, reject) => {
      let status = 0;
      const chunks: Buffer[] = [];
      send(PREFIX + method, coder.unaryType, coder.encode(input, create(input, req)), {
        onResponse: (s) => (status = s),
        onData: (c) => chunks.push(c),
        onEnd(err) {
          if (err) return reject(ConnectError.from(err, Code.Unavailable));
          const body = Buffer.concat(chunks);
          if (status === 200) return resolve(coder.decode(output, body));
          reject(errorFromJsonBytes(body, undefined, new ConnectError(`HTTP ${status}`, Code.Unknown)));
        },
      });
    });
}

/** A server-streaming call whose messages are Jobs (StreamStatus, SubmitAndStream). */
function jobStream<I extends DescMessage>(send: Send, coder: Coder, method: string, input: I) {
  return (req: MessageInitShape<I>, options: { signal?: AbortSignal } = {}): AsyncIterable<Job> => ({
    [Symbol.asyncIterator]() {
      const ready: Job[] = [];
      let failure: Error | undefined;
      let done = false;
      let wake: (() => void) | undefined;
      let buffered: Buffer = Buffer.alloc(0);
      const poke = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const frame = coder.encode(input, create(input, req));
      const envelope = Buffer.alloc(5 + frame.byteLength);
      envelope.writeUInt32BE(frame.byteLength, 1);
      envelope.set(frame, 5);
      const cancel = send(PREFIX + method, coder.streamType, envelope, {
        onResponse(status) {
          if (status !== 200) failure = new ConnectError(`HTTP ${status}`, Code.Unknown);
        },
        onData(chunk) {
          buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
          while (buffered.length >= 5) {
            const length = buffered.readUInt32BE(1);
            if (buffered.length < 5 + length) break;
            const flags = buffered[0]!;
            const data = buffered.subarray(5, 5 + length);
            buffered = buffered.subarray(5 + length);
            if (flags & 0b10) {
              const end = JSON.parse(data.toString("utf8")) as { error?: unknown };
              if (end.error) {
                failure = errorFromJsonBytes(
                  Buffer.from(JSON.stringify(end.error)),
                  undefined,
                  new ConnectError("stream failed", Code.Unknown),
                );
              }
              done = true;
            } else ready.push(coder.decode(JobSchema, data));
          }
          poke();
        },
        onEnd(err) {
          if (err && !done) failure ??= ConnectError.from(err, Code.Unavailable);
          done = true;
          poke();
        },
      });
      options.signal?.addEventListener(
        "abort",
        () => {
          failure ??= new ConnectError("aborted", Code.Canceled);
          cancel();
          poke();
        },
        { once: true },
      );
      return {
        async next(): Promise<IteratorResult<Job>> {
          for (;;) {
            if (ready.length > 0) return { done: false, value: ready.shift()! };
            if (failure) throw failure;
            if (done) return { done: true, value: undefined };
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<Job>> {
          if (!done) cancel();
          done = true;
          return { done: true, value: undefined };
        },
      };
    },
  });
}

export function openLeanClient(baseUrl: string, httpVersion: HttpVersion, codec: Codec = "proto"): LeanClient {
  const sender = httpVersion === "2" ? h2Sender(baseUrl) : h1Sender(baseUrl);
  const send = sender.send;
  const c = CODERS[codec];
  return {
    api: {
      submit: unary(send, c, "Submit", SubmitRequestSchema, JobSchema),
      streamStatus: jobStream(send, c, "StreamStatus", StreamStatusRequestSchema),
      submitAndStream: jobStream(send, c, "SubmitAndStream", SubmitAndStreamRequestSchema),
      queueCount: unary(send, c, "QueueCount", QueueCountRequestSchema, QueueCountResponseSchema),
      getResult: unary(send, c, "GetResult", GetResultRequestSchema, GetResultResponseSchema),
      submitBatch: unary(send, c, "SubmitBatch", SubmitBatchRequestSchema, SubmitBatchResponseSchema),
      watchJobs: jobStream(send, c, "WatchJobs", WatchJobsRequestSchema),
    },
    close: () => sender.close(),
  };
}
