/** createJetqClient(): the SDK's entry point. */
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { clientSecretMethods, type ClientSecretMethods } from "./client-secret.js";
import { checkedId, controlMethods, type ControlMethods } from "./control.js";
import { jobFromProto, optionsToProto, toValue } from "./convert.js";
import { QueueService } from "./gen/jetq/v1/queue_pb.js";
import { finish } from "./outcome.js";
import { followToEnd, jobHandle, scoped, type JobHandle } from "./handle.js";
import { callOptions, randomKey, retrying, STREAM_FIELDS, type Rpc } from "./rpc.js";
import type { ScopeOptions } from "./scope.js";
import type { Job, JobOptions, JobOutput, JsonValue, QueueCount, SubmitOptions } from "./types.js";

export interface JetqClientOptions {
  /** Where jetq serves, e.g. "http://localhost:8080". Not needed with `transport`. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>` on every call. */
  apiKey?: string;
  /**
   * A Connect transport of your own, e.g. createConnectTransport from
   * @connectrpc/connect-node for HTTP/2, or createGrpcWebTransport. Default:
   * the Connect protocol over fetch (Node 22+, browsers, Deno, Bun).
   */
  transport?: Transport;
  /** The fetch the default transport uses (e.g. one with a proxy agent). */
  fetch?: typeof globalThis.fetch;
  /** GetStatus interval when streams cannot be used; default 1000. */
  pollIntervalMs?: number;
}

export interface SubscribeOptions extends ScopeOptions {
  /** The job was accepted: its id is known (keep it to resume with client.job(id)). */
  onEnqueue?: (id: string, job: Job) => void;
  /** Every status as it changes, the first one too. */
  onUpdate?: (job: Job) => void;
  /** Include the job's log lines in each status given to onUpdate. */
  logs?: boolean;
  /** Repeated subscribes with the same key follow the original job. Default: a random key per call. */
  idempotencyKey?: string;
  options?: JobOptions;
}

export interface JetqClient extends ClientSecretMethods, ControlMethods {
  /** Submits a job and waits for its end in one call: its output, or a JobError. */
  subscribe<T extends JsonValue = JsonValue>(
    queue: string,
    input: unknown,
    opts?: SubscribeOptions,
  ): Promise<JobOutput<T>>;
  /** Submits a job and returns at once with a handle on it. */
  submit(queue: string, input: unknown, opts?: SubmitOptions): Promise<JobHandle>;
  /** A handle on an existing job (no call is made). */
  job(id: string): JobHandle;
  /** How many jobs wait in a queue, how many run, and whether it is paused. */
  queueCount(queue: string, opts?: ScopeOptions): Promise<QueueCount>;
}

export function createJetqClient(options: JetqClientOptions): JetqClient {
  const rpc = rpcOf(options);
  const subscribe = <T extends JsonValue = JsonValue>(queue: string, input: unknown, opts: SubscribeOptions = {}) =>
    scoped("subscribe", opts, async (scope) => {
      const logs = opts.logs ?? false;
      const submitRequest = {
        queue,
        input: toValue(input),
        // A retried SubmitAndStream (the first one broke before its first
        // message) must name the same job: always send a key.
        idempotencyKey: opts.idempotencyKey ?? randomKey(),
        options: optionsToProto(opts.options),
      };
      const streamRequest = { ...submitRequest, includeLogs: logs, ...STREAM_FIELDS };
      let enqueued = false;
      const terminal = await followToEnd(
        rpc,
        scope,
        {
          open: (s) => rpc.client.submitAndStream(streamRequest, callOptions(rpc, s)),
          submit: (s) => rpc.client.submit(submitRequest, callOptions(rpc, s)),
          logs,
        },
        (status) => {
          const job = jobFromProto(status);
          if (!enqueued) {
            enqueued = true;
            opts.onEnqueue?.(job.id, job);
          }
          opts.onUpdate?.(job);
        },
      );
      return finish<T>(rpc, scope, terminal);
    });
  return {
    subscribe,
    ...clientSecretMethods(rpc, subscribe),
    ...controlMethods(rpc),
    submit: (queue, input, opts = {}) =>
      scoped("submit", opts, async (scope) => {
        const request = {
          queue,
          input: toValue(input),
          idempotencyKey: opts.idempotencyKey ?? randomKey(),
          options: optionsToProto(opts.options),
        };
        const job = await retrying(scope, undefined, () => rpc.client.submit(request, callOptions(rpc, scope)));
        return jobHandle(rpc, job.id);
      }),
    job: (id) => jobHandle(rpc, checkedId("job", id)),
    queueCount: (queue, opts = {}) =>
      scoped("queueCount", opts, async (scope) => {
        const res = await retrying(scope, undefined, () => rpc.client.queueCount({ queue }, callOptions(rpc, scope)));
        return { queue: res.queue, inQueue: res.inQueue, running: res.running, paused: res.paused };
      }),
  };
}

function rpcOf(options: JetqClientOptions): Rpc {
  let transport = options.transport;
  if (!transport) {
    if (typeof options.baseUrl !== "string" || !/^https?:\/\//.test(options.baseUrl)) {
      throw new TypeError(
        `createJetqClient: baseUrl must be an http(s) URL such as "http://localhost:8080" (got ${JSON.stringify(options.baseUrl)}), or pass a transport`,
      );
    }
    transport = createConnectTransport({
      baseUrl: options.baseUrl,
      useBinaryFormat: true,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }
  const headers: Record<string, string> = {};
  if (options.apiKey !== undefined) {
    if (options.apiKey === "" || /\s/.test(options.apiKey)) {
      throw new TypeError("createJetqClient: apiKey must be a non-empty string without spaces");
    }
    headers.authorization = `Bearer ${options.apiKey}`;
  }
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  if (!(pollIntervalMs > 0))
    throw new RangeError(`createJetqClient: pollIntervalMs must be over 0, got ${pollIntervalMs}`);
  return { client: createClient(QueueService, transport), headers, pollIntervalMs };
}
