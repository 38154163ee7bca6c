/**
 * Clients that send an API key (or none) over each protocol family: the
 * generated client on connect-node transports, and @grpc/grpc-js, an
 * independent gRPC stack, with the key as call metadata.
 * Errors surface as ConnectError with the server's code, message and
 * headers/trailers (metadata), whatever the protocol.
 */
import { create } from "@bufbuild/protobuf";
import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { QueueService } from "../../gen/jetq/v1/queue_pb.js";
import type { ProtocolClient, QueueApi } from "../e2e/clients.js";
import { createGrpcJsClient, grpcJsErrorToConnect, readGrpcJsStream } from "../helpers/grpc-js.js";

export interface KeyedProtocol {
  name: string;
  /** key undefined: no Authorization header at all. */
  open(baseUrl: string, key?: string): ProtocolClient;
}

const bearer =
  (key: string | undefined): Interceptor =>
  (next) =>
  (req) => {
    if (key !== undefined) req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };

function generated(
  make: (baseUrl: string, interceptors: Interceptor[], session?: Http2SessionManager) => Transport,
  h2: boolean,
) {
  return (baseUrl: string, key?: string): ProtocolClient => {
    const session = h2 ? new Http2SessionManager(baseUrl) : undefined;
    const client = createClient(QueueService, make(baseUrl, [bearer(key)], session));
    return Object.assign(client, { close: () => session?.abort() });
  };
}

function grpcJs(baseUrl: string, key?: string): ProtocolClient {
  const client = createGrpcJsClient(baseUrl);
  const metadata = () => {
    const md = new grpc.Metadata();
    if (key !== undefined) md.set("authorization", `Bearer ${key}`);
    return md;
  };
  const unary = (name: string) => (req: unknown) =>
    new Promise<never>((resolve, reject) => {
      const m = QueueService.methods.find((x) => x.name === name)!;
      client[name]!.call(client, create(m.input, req as never), metadata(), (err: unknown, res: never) =>
        err ? reject(grpcJsErrorToConnect(err)) : resolve(res),
      );
    });
  const serverStream = (name: string) =>
    async function* (req: unknown, options?: { signal?: AbortSignal }) {
      const m = QueueService.methods.find((x) => x.name === name)!;
      const stream = client[name]!.call(
        client,
        create(m.input, req as never),
        metadata(),
      ) as grpc.ClientReadableStream<never>;
      yield* readGrpcJsStream(stream, options?.signal);
    };
  const api: QueueApi = {
    submit: unary("Submit"),
    getStatus: unary("GetStatus"),
    getResult: unary("GetResult"),
    cancel: unary("Cancel"),
    queueCount: unary("QueueCount"),
    streamStatus: serverStream("StreamStatus"),
    submitAndStream: serverStream("SubmitAndStream"),
  };
  return { ...api, close: () => client.close() };
}

export const KEYED_PROTOCOLS: KeyedProtocol[] = [
  {
    name: "connect+json http/1.1",
    open: generated(
      (baseUrl, interceptors) => createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }),
      false,
    ),
  },
  {
    name: "connect+json http/1.1 (GET)",
    open: generated(
      (baseUrl, interceptors) =>
        createConnectTransport({ baseUrl, httpVersion: "1.1", useHttpGet: true, interceptors }),
      false,
    ),
  },
  {
    name: "connect+proto h2c",
    open: generated(
      (baseUrl, interceptors, sessionManager) =>
        createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager, interceptors }),
      true,
    ),
  },
  {
    name: "grpc h2c",
    open: generated(
      (baseUrl, interceptors, sessionManager) => createGrpcTransport({ baseUrl, sessionManager, interceptors }),
      true,
    ),
  },
  {
    name: "grpc-web http/1.1",
    open: generated(
      (baseUrl, interceptors) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
      false,
    ),
  },
  { name: "@grpc/grpc-js", open: grpcJs },
];

export const keyed = (name: string): KeyedProtocol => {
  const p = KEYED_PROTOCOLS.find((x) => x.name === name);
  if (!p) throw new Error(`no protocol ${name}`);
  return p;
};
