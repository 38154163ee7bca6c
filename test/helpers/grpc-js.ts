/**
 * @grpc/grpc-js as an independent gRPC client of QueueService: messages are
 * (de)serialised with protobuf-es, so no proto-loader is needed.
 */
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { QueueService } from "../../gen/jetq/v1/queue_pb.js";

export type GrpcJsClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function createGrpcJsClient(baseUrl: string): GrpcJsClient {
  const definition: Record<string, grpc.MethodDefinition<MessageShape<DescMessage>, MessageShape<DescMessage>>> = {};
  for (const method of QueueService.methods) {
    definition[method.name] = {
      path: `/${QueueService.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: (msg: MessageShape<DescMessage>) => Buffer.from(toBinary(method.input, msg)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (msg: MessageShape<DescMessage>) => Buffer.from(toBinary(method.output, msg)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      originalName: method.localName,
    };
  }
  const Ctor = grpc.makeGenericClientConstructor(definition, QueueService.typeName);
  return new Ctor(new URL(baseUrl).host, grpc.credentials.createInsecure()) as GrpcJsClient;
}

/** A grpc-js error as the ConnectError a connect-es client would have raised. */
export function grpcJsErrorToConnect(err: unknown): ConnectError {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e.code !== "number") return ConnectError.from(err);
  const headers = new Headers();
  for (const [k, v] of Object.entries(e.metadata?.getMap() ?? {})) headers.set(k, String(v));
  // grpc-js decodes grpc-message with decodeURI, which leaves reserved
  // characters connect-es percent-encodes (":" → "%3A") as they are.
  let details = e.details ?? "";
  try {
    details = decodeURIComponent(details);
  } catch {
    // not percent-encoded after all
  }
  return new ConnectError(details, e.code as number as Code, headers);
}

/** Reads a server stream until it ends; aborting the signal cancels the call. */
export async function* readGrpcJsStream<T>(
  stream: grpc.ClientReadableStream<T>,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  const onAbort = () => stream.cancel();
  signal?.addEventListener("abort", onAbort);
  try {
    for await (const msg of stream) yield msg as T;
  } catch (err) {
    throw grpcJsErrorToConnect(err);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    stream.cancel();
  }
}
