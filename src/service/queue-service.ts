/**
 * QueueService: each RPC validates its request, calls the engine and converts
 * the answer. Nothing here knows which engine runs underneath.
 */
import type { JsonValue, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { JobState as ProtoJobState, QueueService, type Job, type SubmitRequest } from "../../gen/jetq/v1/queue_pb.js";
import { checkQueue, readTenant, submitTenant, type Principal } from "../auth/index.js";
import { invalidArgument } from "../engine/errors.js";
import { parseJobId } from "../engine/job-id.js";
import { assertQueueName } from "../engine/queue-name.js";
import { traceContextOfHeaders, type TraceContext } from "../engine/trace-context.js";
import { endingOnFirst, startSubmitSpan } from "../tracing/spans.js";
import {
  isTerminal,
  type Engine,
  type JobStatus,
  type LogEntry,
  type ReadOptions,
  type SubmitInput,
} from "../engine/types.js";
import { isLaneQueue, type LaneRegistry } from "../handlers/http/lanes.js";
import { webhookSubmitCheck, type WebhookSubmitCheck } from "../webhooks/submit-check.js";
import { callerKey } from "./caller.js";
import { createErrorMapper } from "./errors.js";
import type { InputValidators } from "./input-validators.js";
import { jobControlRpcs } from "./job-control/index.js";
import { countsWithPause } from "./job-control/pause.js";
import { cancelToProto, jobOptionsFromProto, jobToProto, jsonToValue, resultToProto, valueToJson } from "./convert.js";

export interface QueueServiceOptions {
  logger?: Logger;
  /** Submit-time input checks by queue (see input-validators.ts). */
  inputValidators?: InputValidators;
  /** Caller-named http queues, made on first Submit; unset = Submits to them are refused. */
  lanes?: LaneRegistry;
  /** Where a job's webhook_url may point (webhooks/submit-check.ts); unset = webhooks are off: refused. */
  webhookCheck?: WebhookSubmitCheck;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

const WEBHOOKS_OFF = webhookSubmitCheck(false);

export function createQueueService(
  engine: Engine,
  options: QueueServiceOptions = {},
): ServiceImpl<typeof QueueService> {
  const toClientError = createErrorMapper(options.logger);
  return {
    ...submitRpcs(engine, options, toClientError),

    async getStatus(req, ctx) {
      try {
        const read = readOptions(req.id, ctx);
        const include = {
          includeLogs: req.includeLogs,
          includeAttempts: req.includeAttempts,
          includeInput: req.includeInput,
        };
        return jobToProto(await engine.getStatus(req.id, { ...read, ...include }));
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },

    async *streamStatus(req, ctx) {
      try {
        const read = readOptions(req.id, ctx);
        const updates = engine.watch(req.id, {
          ...read,
          includeLogs: req.includeLogs,
          signal: ctx.signal,
        });
        const message = statusMessages(req.includeOutput ? outputReader(engine, read) : undefined);
        // yield awaits a message whose output is still being read.
        for await (const status of updates) yield message(status);
        // A watch ends quietly when its signal aborts; the client must learn
        // that the stream was cut (server shutdown, deadline), not that the
        // job finished.
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },

    async getResult(req, ctx) {
      try {
        return resultToProto(await engine.getResult(req.id, readOptions(req.id, ctx)));
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },

    async cancel(req, ctx) {
      try {
        return cancelToProto(await engine.cancel(req.id, readOptions(req.id, ctx)));
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },

    async queueCount(req, ctx) {
      try {
        assertQueueName(req.queue, "queue");
        requireQueue(ctx.values.get(callerKey), req.queue);
        return await countsWithPause(engine, req.queue);
      } catch (err) {
        throw toClientError(err, ctx);
      }
    },

    ...jobControlRpcs(engine, options),
  };
}

type Impl = ServiceImpl<typeof QueueService>;

/** Submit and SubmitAndStream: both check the request, open the submit span and enqueue. */
function submitRpcs(
  engine: Engine,
  options: QueueServiceOptions,
  toClientError: ReturnType<typeof createErrorMapper>,
): Pick<Impl, "submit" | "submitAndStream"> {
  const submitInput = async (req: SubmitFields, ctx: HandlerContext, trace: TraceContext | undefined) => {
    const input = checkedSubmitInput(req, ctx, options.inputValidators, options.webhookCheck);
    if (trace) input.trace = trace;
    if (isLaneQueue(input.queue)) await ensureLane(options.lanes, input);
    return input;
  };
  return {
    async submit(req, ctx) {
      // The job carries the span's context (or the caller's, tracing off): README "Traces".
      const span = startSubmitSpan(incomingTrace(ctx.requestHeader), "Submit", req.queue);
      try {
        const job = await engine.submit(await submitInput(req, ctx, span.trace));
        span.end(job.id);
        return jobToProto(job);
      } catch (err) {
        span.end(undefined, err);
        throw toClientError(err, ctx);
      }
    },

    async *submitAndStream(req, ctx) {
      const span = startSubmitSpan(incomingTrace(ctx.requestHeader), "SubmitAndStream", req.queue);
      try {
        const input = await submitInput(req, ctx, span.trace);
        // The span covers the submit: it ends with the first status (or the submit's error).
        const updates = endingOnFirst(
          engine.submitAndWatch(input, { includeLogs: req.includeLogs, signal: ctx.signal }),
          span,
        );
        // The submitter reads its own job, as submitAndWatch does.
        const message = statusMessages(req.includeOutput ? outputReader(engine, { tenant: input.tenant }) : undefined);
        for await (const status of updates) yield message(status);
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      } catch (err) {
        span.end(undefined, err);
        throw toClientError(err, ctx);
      }
    },
  };
}

const TERMINAL_STATES: ReadonlySet<number> = new Set([
  ProtoJobState.COMPLETED,
  ProtoJobState.FAILED,
  ProtoJobState.CANCELLED,
  ProtoJobState.EXPIRED,
]);

/**
 * StreamStatus and SubmitAndStream end right after a job's terminal status
 * (statusMessages): the Connect fast path writes that message with the
 * stream's end and every other one at once (its option lastMessage).
 */
export const STATUS_STREAM_ENDS: Record<string, (message: Message) => boolean> = {
  StreamStatus: (m) => TERMINAL_STATES.has((m as Job).state),
  SubmitAndStream: (m) => TERMINAL_STATES.has((m as Job).state),
};

/** What Submit and SubmitAndStream take (SubmitAndStreamRequest repeats SubmitRequest's fields). */
export type SubmitFields = Pick<SubmitRequest, "queue" | "input" | "idempotencyKey" | "options">;

/**
 * The engine's SubmitInput of a valid request whose queue the caller may
 * use. `webhookCheck`: where a webhook_url may point; unset = webhooks are off.
 */
export function checkedSubmitInput(
  req: SubmitFields,
  ctx: HandlerContext,
  validators?: InputValidators,
  webhookCheck: WebhookSubmitCheck = WEBHOOKS_OFF,
): SubmitInput {
  assertQueueName(req.queue, "queue");
  if (req.idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw invalidArgument(
      `idempotency_key: ${req.idempotencyKey.length} characters is over the limit of ${MAX_IDEMPOTENCY_KEY_LENGTH}`,
    );
  }
  const input = valueToJson(req.input);
  const options = jobOptionsFromProto(req.options);
  const caller = ctx.values.get(callerKey);
  requireQueue(caller, req.queue);
  if (options.webhookUrl !== undefined) webhookCheck(options.webhookUrl);
  // Lanes take http jobs: the http queue's check (shape, hosts, secret grants) applies.
  const validator = validators?.get(req.queue) ?? (isLaneQueue(req.queue) ? validators?.get("http") : undefined);
  validator?.(input, caller);
  return {
    queue: req.queue,
    input,
    idempotencyKey: req.idempotencyKey === "" ? undefined : req.idempotencyKey,
    tenant: submitTenant(caller),
    options,
  };
}

/** The call's W3C trace context; headers that are not one are ignored, as W3C asks. */
function incomingTrace(header: Headers): TraceContext | undefined {
  const traceparent = header.get("traceparent");
  return traceparent === null ? undefined : traceContextOfHeaders(traceparent, header.get("tracestate"));
}

/** Reads a finished job's output (include_output). */
type OutputReader = (status: JobStatus) => Promise<JsonValue | undefined>;

/**
 * include_output through the engine's getResult, so every engine and protocol
 * gets it from the one place. Only a COMPLETED job has an output: the other
 * terminal states carry their error on the status already, with no read.
 * Engines announce a terminal state after storing its result, so the read
 * finds it.
 */
function outputReader(engine: Engine, read: ReadOptions): OutputReader {
  return async (status) => {
    if (status.state !== "COMPLETED") return undefined;
    const result = await engine.getResult(status.id, read);
    return result.output ?? null;
  };
}

/**
 * Makes a watch's statuses into stream messages, one status at a time (the
 * stream's generator yields each: one async generator per stream, not one
 * more per layer). The contract: the lines so far in the first message, then
 * only new ones; engines report a job's status with all its lines. With
 * readOutput, the terminal message carries the output.
 */
function statusMessages(readOutput?: OutputReader): (status: JobStatus) => Job | Promise<Job> {
  const logs = createLogDelta();
  return (status) => {
    const job = jobToProto(status.logs ? { ...status, logs: logs.fresh(status.logs) } : status);
    if (!readOutput || !isTerminal(status.state)) return job;
    return readOutput(status).then((output) => {
      if (output !== undefined) job.output = jsonToValue(output);
      return job;
    });
  };
}

/**
 * PERMISSION_DENIED naming the queue when the caller's key may not use it.
 * A key that may use `http` may use its lanes too.
 */
export function requireQueue(caller: Principal | undefined, queue: string): void {
  const denied = checkQueue(caller, queue);
  if (denied && !(isLaneQueue(queue) && checkQueue(caller, "http") === undefined)) {
    throw new ConnectError(denied, Code.PermissionDenied);
  }
}

/** A lane is declared (and served) on its first Submit; FAILED_PRECONDITION where lanes are not on. */
export async function ensureLane(lanes: LaneRegistry | undefined, input: SubmitInput): Promise<void> {
  if (!lanes) {
    throw new ConnectError(
      `queue "${input.queue}": caller-named http queues (lanes) need the http queue: set JETQ_HTTP_ALLOWED_HOSTS on this server`,
      Code.FailedPrecondition,
    );
  }
  await lanes.ensure(input.queue, input.tenant ?? "");
}

/**
 * Validates a job id and checks the caller may use its queue (the id names
 * it, so the answer says nothing about whether the job exists). Other
 * tenants' jobs then answer NOT_FOUND from the engine, worded as for an id
 * that never existed.
 */
export function readOptions(id: string, ctx: HandlerContext): ReadOptions {
  const { queue } = parseJobId(id, "id");
  const caller = ctx.values.get(callerKey);
  requireQueue(caller, queue);
  return { tenant: readTenant(caller) };
}

/**
 * Turns successive full log lists into what is new in each. A list that does
 * not start with the lines already sent is taken as new lines only, so an
 * engine that sends just the new lines works too.
 */
export function createLogDelta() {
  let sent: LogEntry[] = [];
  const same = (a: LogEntry, b: LogEntry) =>
    a.timestamp === b.timestamp && a.message === b.message && a.level === b.level && a.source === b.source;
  return {
    fresh(all: LogEntry[]): LogEntry[] {
      const cumulative = all.length >= sent.length && sent.every((line, i) => same(line, all[i]!));
      if (cumulative) {
        const fresh = all.slice(sent.length);
        sent = all;
        return fresh;
      }
      sent = [...sent, ...all];
      return all;
    },
  };
}
