/**
 * Following a job to its terminal state across broken streams: the first
 * stream (SubmitAndStream or StreamStatus) is read until it ends; if it
 * ends early or fails transiently, StreamStatus on the same id resumes it
 * after a backoff (its first message is the current status, so nothing
 * that matters is missed: a terminal state is never skipped). When streams
 * cannot be had at all (UNIMPLEMENTED through a proxy, RESOURCE_EXHAUSTED
 * by the server's stream caps), GetStatus is polled instead, after a unary
 * Submit with the same idempotency key if the refused stream was the
 * SubmitAndStream (a refused one enqueues nothing). docs/ARCHITECTURE.md §8.
 */
import { toJetqError } from "./errors.js";
import type { Job as ProtoJob } from "./gen/jetq/v1/queue_pb.js";
import { JobState as ProtoJobState } from "./gen/jetq/v1/queue_pb.js";
import { callOptions, retryDelayMs, STREAM_FIELDS, streamsRefused, type Rpc } from "./rpc.js";
import { backoffMs, sleep, type Scope } from "./scope.js";

const TERMINAL = new Set([
  ProtoJobState.COMPLETED,
  ProtoJobState.FAILED,
  ProtoJobState.CANCELLED,
  ProtoJobState.EXPIRED,
]);

export function isTerminalProto(job: ProtoJob): boolean {
  return TERMINAL.has(job.state);
}

export interface FollowOptions {
  /** The id, when known; else `open` must yield it first. */
  id?: string | undefined;
  /** The first stream when no id is known (SubmitAndStream, opened again until it gives one); else StreamStatus. */
  open?: (scope: Scope) => AsyncIterable<ProtoJob>;
  /** When `open` is refused before any id is known: the same job by a unary call (Submit with the same key). */
  submit?: (scope: Scope) => Promise<ProtoJob>;
  logs: boolean;
}

/** Yields every status (repeats after a reconnect dropped), returns after the terminal one. */
export async function* follow(rpc: Rpc, scope: Scope, options: FollowOptions): AsyncGenerator<ProtoJob, void> {
  let id = options.id;
  let failures = 0;
  let polling = false;
  let lastKey = "";
  // A stream's first status carries the lines so far, later ones only new
  // lines; callers get them all, each time.
  let lines: ProtoJob["logs"] = [];
  const withLines = (job: ProtoJob, first: boolean) => {
    lines = first ? job.logs : [...lines, ...job.logs];
    job.logs = lines;
    return job;
  };
  const fresh = (job: ProtoJob) => {
    const key = statusKey(job);
    if (key === lastKey) return false;
    lastKey = key;
    return true;
  };
  for (;;) {
    let delay: number | undefined;
    try {
      if (polling) {
        const job =
          id === undefined
            ? await options.submit!(scope)
            : await rpc.client.getStatus({ id, includeLogs: options.logs }, callOptions(rpc, scope));
        id = job.id;
        failures = 0;
        if (fresh(withLines(job, true))) yield job;
        if (isTerminalProto(job)) return;
        await sleep(rpc.pollIntervalMs, scope.signal);
        continue;
      }
      const stream =
        id === undefined
          ? options.open!(scope)
          : rpc.client.streamStatus({ id, includeLogs: options.logs, ...STREAM_FIELDS }, callOptions(rpc, scope));
      let first = true;
      for await (const job of stream) {
        id = job.id;
        failures = 0;
        if (fresh(withLines(job, first))) yield job;
        first = false;
        if (isTerminalProto(job)) return;
      }
      // Ended without a terminal status: cut by a proxy or a server going away.
      delay = backoffMs(++failures);
    } catch (err) {
      if (scope.signal.aborted) throw scope.error(id);
      const cause = toJetqError(err, id);
      const canPoll = id !== undefined || options.submit !== undefined;
      if (!polling && canPoll && streamsRefused(cause)) {
        polling = true;
        continue;
      }
      delay = retryDelayMs(cause, ++failures);
      if (delay === undefined) throw cause;
    }
    try {
      await sleep(delay, scope.signal);
    } catch {
      throw scope.error(id);
    }
  }
}

/** What a caller can see change: state, attempt, position, progress, the lines. */
export function statusKey(job: ProtoJob): string {
  const lastLine = job.logs.at(-1);
  return `${job.state}|${job.attempt}|${job.queuePosition ?? ""}|${job.progress}|${job.logs.length}|${lastLine?.message ?? ""}`;
}
