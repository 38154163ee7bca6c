/**
 * clientSecretRequest and friends: third-party API calls through jetq's
 * built-in `http` handler, with `$CLIENT_SECRET` filled in on the server
 * from the secret named `clientSecretName`, so callers never hold it
 * (docs/ARCHITECTURE.md §8). Plain JSON in and out, snake_case where the
 * shapes these names come from have it.
 */
import { Code } from "@connectrpc/connect";
import { toValue } from "./convert.js";
import { JetqError, type JobError } from "./errors.js";
import { JobState as ProtoJobState } from "./gen/jetq/v1/queue_pb.js";
import { jobHandle, scoped } from "./handle.js";
import { callOptions, randomKey, retrying, type Rpc } from "./rpc.js";
import type { ScopeOptions } from "./scope.js";
import type { JsonValue } from "./types.js";

/** What the third-party API answered (the `http` handler's output). */
export interface ClientSecretResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed when the API answered JSON, else the text. */
  body: JsonValue;
}

/** The request failed (JobError: e.g. code HTTP_401 for a 4xx) or jetq could not be asked (JetqError). */
export type ClientSecretError = JobError | JetqError;

export interface ClientSecretCallbacks<R> {
  onResponse?: (response: ClientSecretResponse) => R | Promise<R>;
  /** Without it, errors reject the call. */
  onError?: (error: ClientSecretError) => R | Promise<R>;
}

export interface ClientSecretRequest<R = unknown> extends ClientSecretCallbacks<R>, ScopeOptions {
  /** The server-held secret `$CLIENT_SECRET` stands for (case-insensitive: "openai" finds OPENAI). */
  clientSecretName?: string;
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** The request body: JSON, or a string sent as it is. */
  data?: unknown;
  /** Added to the URL's query. */
  params?: Record<string, string | number>;
  /** A lane of your own ("image-queue"): made on first use, one request at a time by default. */
  queue?: string;
  /** Over 0: follow the request by polling every `poll` ms to its end. */
  poll?: number;
}

export interface ClientSecretPollOptions<R> extends ClientSecretCallbacks<R> {
  /** Milliseconds between two status reads; default the client's pollIntervalMs. */
  latency?: number;
  signal?: AbortSignal;
}

/** A queued request, from clientSecretRequest with a queue and no poll or onResponse. */
export interface ClientSecretRequestHandle {
  id: string;
  status: "running" | "pending";
  /** The lane as you named it, or "http". */
  queue_name: string;
  /** Requests waiting in that queue right after this one was queued. */
  in_queue: number;
  /** Follows the request to its end: the callback's value, or the response without onResponse. */
  poll<R = ClientSecretResponse>(options?: ClientSecretPollOptions<R>): Promise<R>;
}

export interface CancelClientSecretRequest {
  id: string;
  /** Accepted for compatibility: the id names the request's queue already. */
  queue?: string;
  url?: string;
  method?: string;
}

export interface ClientSecretMethods {
  /** With onResponse: its (or onError's) return value, whichever form runs. */
  clientSecretRequest<R>(
    request: ClientSecretRequest<R> & { onResponse: NonNullable<ClientSecretCallbacks<R>["onResponse"]> },
  ): Promise<R>;
  /** A queue and no poll: queued, a handle to follow it with poll(). */
  clientSecretRequest(request: ClientSecretRequest & { queue: string; poll?: 0 }): Promise<ClientSecretRequestHandle>;
  /** No queue and no poll: made directly (one call), its response; with poll > 0: followed to the end. */
  clientSecretRequest(request: ClientSecretRequest): Promise<ClientSecretResponse>;
  cancelClientSecretRequest(request: CancelClientSecretRequest): Promise<{ removed: boolean; message: string }>;
  clientSecretRequestQueueCount(request: { queue: string }): Promise<{ queue_name: string; in_queue: number }>;
}

/** The jetq queue of a lane: `http-lane-<name>` (the server's handlers/http/lanes.ts). */
const LANE_PREFIX = "http-lane-";
const LANE_NAME = /^[a-z0-9][a-z0-9_-]{0,53}$/;

export function laneQueue(name: string): string {
  if (typeof name !== "string" || !LANE_NAME.test(name)) {
    throw new TypeError(
      `queue: ${JSON.stringify(name)} is not a valid lane name: 1 to 54 characters of a-z, 0-9, "_" and "-", starting with a letter or digit`,
    );
  }
  return LANE_PREFIX + name;
}

type Subscribe = (queue: string, input: unknown, opts: ScopeOptions) => Promise<{ output: JsonValue }>;

export function clientSecretMethods(rpc: Rpc, subscribe: Subscribe): ClientSecretMethods {
  return {
    clientSecretRequest: ((request: ClientSecretRequest) => send(rpc, subscribe, request)) as never,
    cancelClientSecretRequest: ({ id }) =>
      scoped("cancelClientSecretRequest", {}, async () => {
        const res = await jobHandle(rpc, id).cancel();
        return { removed: res.removed, message: res.message };
      }),
    clientSecretRequestQueueCount: ({ queue }) =>
      scoped("clientSecretRequestQueueCount", {}, async (scope) => {
        const lane = laneQueue(queue);
        const res = await retrying(scope, undefined, () =>
          rpc.client.queueCount({ queue: lane }, callOptions(rpc, scope)),
        );
        return { queue_name: queue, in_queue: res.inQueue };
      }),
  };
}

async function send(rpc: Rpc, subscribe: Subscribe, request: ClientSecretRequest): Promise<unknown> {
  const { queue, poll = 0, onResponse, onError, signal, timeoutMs } = request;
  if (!(typeof poll === "number" && poll >= 0))
    throw new RangeError(`poll: must be a number >= 0 (ms), got ${String(poll)}`);
  const input = httpInput(request);
  if (queue === undefined && poll === 0) {
    // Direct: one SubmitAndStream on the `http` queue, its response in the same call.
    return settle(() => subscribe("http", input, { signal, timeoutMs }).then((r) => r.output), request);
  }
  const handle = await submitQueued(rpc, queue, input, { signal, timeoutMs });
  if (poll > 0) return handle.poll({ latency: poll, onResponse, onError, signal });
  if (onResponse) {
    const wait = scoped("clientSecretRequest", { signal, timeoutMs }, () => jobHandle(rpc, handle.id).wait());
    return settle(() => wait.then((r) => r.output), request);
  }
  return handle;
}

/** The `http` handler's input (undefined fields dropped). */
function httpInput(r: ClientSecretRequest): unknown {
  if (typeof r.url !== "string" || r.url === "") throw new TypeError("url: must be a non-empty string");
  return {
    url: r.url,
    method: r.method,
    headers: r.headers,
    data: r.data,
    params: r.params,
    clientSecretName: r.clientSecretName,
  };
}

/** The response to onResponse (or as the value), an error to onError (or thrown). */
async function settle<R>(response: () => Promise<JsonValue>, callbacks: ClientSecretCallbacks<R>): Promise<unknown> {
  let value: ClientSecretResponse;
  try {
    value = (await response()) as unknown as ClientSecretResponse;
  } catch (err) {
    if (!callbacks.onError) throw err;
    return callbacks.onError(err as ClientSecretError);
  }
  return callbacks.onResponse ? callbacks.onResponse(value) : value;
}

async function submitQueued(
  rpc: Rpc,
  queue: string | undefined,
  input: unknown,
  scopeOptions: ScopeOptions,
): Promise<ClientSecretRequestHandle> {
  const jetqQueue = queue === undefined ? "http" : laneQueue(queue);
  return scoped("clientSecretRequest", scopeOptions, async (scope) => {
    const request = { queue: jetqQueue, input: toValue(input), idempotencyKey: randomKey() };
    const job = await retrying(scope, undefined, () => rpc.client.submit(request, callOptions(rpc, scope)));
    const count = await retrying(scope, job.id, () =>
      rpc.client.queueCount({ queue: jetqQueue }, callOptions(rpc, scope)),
    );
    return {
      id: job.id,
      status: job.state === ProtoJobState.QUEUED ? "pending" : "running",
      queue_name: queue ?? "http",
      in_queue: count.inQueue,
      poll: <R>(options: ClientSecretPollOptions<R> = {}) => pollToEnd(rpc, job.id, options),
    };
  });
}

/** Polls GetStatus (the handle's poll()) until the end, then runs the callback. */
async function pollToEnd<R>(rpc: Rpc, id: string, options: ClientSecretPollOptions<R>): Promise<R> {
  const latency = options.latency ?? rpc.pollIntervalMs;
  if (!(latency > 0)) throw new RangeError(`poll: latency must be over 0 ms, got ${latency}`);
  let outcome: (() => Promise<JsonValue>) | undefined;
  const poller = jobHandle(rpc, id).poll({
    intervalMs: latency,
    onResult: (out) => (outcome = () => Promise.resolve(out.output)),
    onError: (err) => (outcome = () => Promise.reject(err)),
  });
  const stop = () => poller.stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    await poller.done;
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
  if (!outcome) throw new JetqError(Code.Canceled, `poll: aborted by the caller's signal (request ${id} goes on)`);
  return (await settle(outcome, options)) as R;
}
