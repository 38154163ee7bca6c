/**
 * Calling a QueueService method the way connect-es does: through the
 * server's interceptors (logging, drain, auth, rate limit, stream caps),
 * then the implementation. The Connect fast path (fast-path.ts) and the REST
 * layer (../rest/) both call the service only through here, so every way in
 * gets the same checks (docs/ARCHITECTURE.md §8).
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import { invokeUnaryImplementation } from "./connect-internals.js";
import { contextWithRequest } from "./handler-context.js";

export type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;
export type ServerStreamingSpec = Extract<MethodImplSpec, { kind: "server_streaming" }>;

/** A unary method's output, through the interceptors. */
export function invokeUnary(
  spec: UnarySpec,
  ctx: HandlerContext,
  input: Message,
  interceptors: Interceptor[],
): Promise<Message> {
  return invokeUnaryImplementation(spec, ctx, input, interceptors);
}

/**
 * The interceptors, then the implementation, with the request message
 * interceptors expect of a stream (an iterable of the one input). Unlike
 * connect-es's transformInvokeImplementation, the implementation's own
 * iterable is what comes back: no wrapping generators per message.
 */
export async function invokeServerStreaming(
  spec: ServerStreamingSpec,
  ctx: HandlerContext,
  input: Message,
  interceptors: Interceptor[],
): Promise<AsyncIterable<Message>> {
  const method = spec.method;
  let next: StreamingFn = async (req) => {
    const it = req.message[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done === true) {
      throw new ConnectError("protocol error: missing input message for server-streaming method", Code.Unimplemented);
    }
    const message = spec.impl(first.value, contextWithRequest(ctx, req.header, req.signal, req.contextValues));
    // Implementations may yield init shapes; callers complete them.
    return {
      stream: true,
      service: method.parent,
      method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: message as AsyncIterable<Message>,
    };
  };
  for (const i of [...interceptors].reverse()) next = i(next as never) as StreamingFn;
  const res = await next({
    stream: true,
    service: method.parent,
    method,
    requestMethod: ctx.requestMethod,
    url: ctx.url,
    signal: ctx.signal,
    header: ctx.requestHeader,
    contextValues: ctx.values,
    message: oneMessage(input),
  });
  return res.message;
}

/**
 * The request stream of one message: what connect-es's createAsyncIterable
 * makes of [input], without an async generator (and its promises) per call.
 */
function oneMessage<T>(message: T): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      let read = false;
      return {
        next: () => {
          if (read) return Promise.resolve({ done: true as const, value: undefined });
          read = true;
          return Promise.resolve({ done: false, value: message });
        },
        return: (value?: unknown) => {
          read = true;
          return Promise.resolve({ done: true as const, value: value as undefined });
        },
      };
    },
  };
}

type StreamingFn = (req: StreamRequest<DescMessage>) => Promise<StreamResponse<DescMessage>>;
