/**
 * The REST layer's only way to the queue: the QueueService implementation
 * the RPCs use, called through the same interceptors (logging, drain, auth,
 * roles, rate limit, stream caps) with a HandlerContext built as the Connect
 * fast path builds it. No engine call and no rule of its own here
 * (docs/ARCHITECTURE.md §8).
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  createServiceImplSpec,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { QueueService } from "../../../gen/jetq/v1/queue_pb.js";
import { handlerContext } from "../connect/handler-context.js";
import { invokeServerStreaming, invokeUnary, type ServerStreamingSpec, type UnarySpec } from "../connect/invoke.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Methods = typeof QueueService.method;
type UnaryName = { [K in keyof Methods]: Methods[K]["methodKind"] extends "unary" ? K : never }[keyof Methods];
type StreamName = {
  [K in keyof Methods]: Methods[K]["methodKind"] extends "server_streaming" ? K : never;
}[keyof Methods];
type InputOf<K extends keyof Methods> = MessageInitShape<Methods[K]["input"]>;
type OutputOf<K extends keyof Methods> = MessageShape<Methods[K]["output"]>;

export interface ServiceCallsOptions {
  /** The object createQueueService made, as the router and the fast path get it. */
  impl: ServiceImpl<DescService>;
  interceptors: Interceptor[];
  /** A call's context values (the connection it came on), as for the RPCs. */
  contextValues?: (req: Req) => ContextValues;
}

export interface ServiceCalls {
  /** A unary RPC's answer; throws its ConnectError. */
  unary<K extends UnaryName>(name: K, req: Req, input: InputOf<K>, signal: AbortSignal): Promise<OutputOf<K>>;
  /** A server-streaming RPC's messages; `signal` ends the stream. */
  stream<K extends StreamName>(
    name: K,
    req: Req,
    input: InputOf<K>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<OutputOf<K>>>;
}

export function createServiceCalls(o: ServiceCallsOptions): ServiceCalls {
  const spec = createServiceImplSpec(QueueService as DescService, o.impl);
  const context = (name: keyof Methods, req: Req, signal: AbortSignal): HandlerContext => {
    const method = QueueService.method[name];
    const path = `/${QueueService.typeName}/${method.name}`;
    return handlerContext(method, path, req, signal, o.contextValues?.(req), req.method ?? "GET");
  };
  return {
    async unary(name, req, input, signal) {
      const method = spec.methods[name] as UnarySpec;
      const message = create(method.method.input as DescMessage, input as never);
      return (await invokeUnary(method, context(name, req, signal), message, o.interceptors)) as never;
    },
    async stream(name, req, input, signal) {
      const method = spec.methods[name] as ServerStreamingSpec;
      const message = create(method.method.input as DescMessage, input as never);
      return (await invokeServerStreaming(method, context(name, req, signal), message, o.interceptors)) as never;
    },
  };
}
