/** A handle on one job, from client.submit() or client.job(id). */
import { jobFromProto, resultFromProto } from "./convert.js";
import { toJetqError, type JetqError, type JobError } from "./errors.js";
import { follow, isTerminalProto, type FollowOptions } from "./follow.js";
import type { Job as ProtoJob } from "./gen/jetq/v1/queue_pb.js";
import { finish } from "./outcome.js";
import { callOptions, retrying, type Rpc } from "./rpc.js";
import { openScope, sleep, type Scope, type ScopeOptions } from "./scope.js";
import type { CancelResult, Job, JobOutput, JobResult, JsonValue } from "./types.js";

export type CallOpts = ScopeOptions;

export interface StreamOpts extends ScopeOptions {
  /** Include the job's log lines in each status. */
  logs?: boolean;
}

export interface StatusOpts extends StreamOpts {
  /** Include the attempts that ended (Job.attempts), oldest first. */
  attempts?: boolean;
  /** Include the job's input as it was submitted (Job.input). */
  input?: boolean;
}

export interface WaitOpts extends StreamOpts {
  /** Every status as it changes (the first one too). */
  onUpdate?: (job: Job) => void;
}

export interface PollOpts {
  /** Between two GetStatus calls; default 1000. */
  intervalMs?: number;
  logs?: boolean;
  /** Each status that differs from the last one. */
  onUpdate?: (job: Job) => void;
  /** The job COMPLETED. */
  onResult?: (result: JobOutput) => void;
  /** The job ended FAILED/CANCELLED/EXPIRED (JobError), or jetq could not be asked (JetqError). */
  onError?: (error: JobError | JetqError) => void;
}

export interface Poller {
  /** Stops polling; no callback runs after it. */
  stop(): void;
  /** Settles when polling ended (result, error or stop); rejects only when an error found no onError. */
  done: Promise<void>;
}

export interface JobHandle {
  readonly id: string;
  /** The current status (GetStatus); with `attempts: true` also the attempts that ended, with `input: true` its input. */
  status(opts?: StatusOpts): Promise<Job>;
  /** Every status until the terminal one, resuming across broken streams. */
  stream(opts?: StreamOpts): AsyncIterable<Job>;
  /** The outcome of a finished job, whatever it was; JetqError FAILED_PRECONDITION while it runs. */
  result(opts?: CallOpts): Promise<JobResult>;
  /** Waits for the end: the output when COMPLETED, else rejects with JobError. */
  wait<T extends JsonValue = JsonValue>(opts?: WaitOpts): Promise<JobOutput<T>>;
  /** Cancels the job (queued: removed; running: its handler is told to stop). */
  cancel(opts?: CallOpts): Promise<CancelResult>;
  /** Runs a FAILED, CANCELLED or EXPIRED job again under the same id (QUEUED again); JetqError FAILED_PRECONDITION otherwise. */
  retry(opts?: CallOpts): Promise<Job>;
  /** Polls GetStatus instead of streaming, for environments where streams do not get through. */
  poll(opts?: PollOpts): Poller;
}

/** Runs `fn` in a scope of its own and turns the scope's end into its error. */
export async function scoped<T>(what: string, opts: ScopeOptions, fn: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = openScope(what, opts);
  try {
    return await fn(scope);
  } finally {
    scope.dispose();
  }
}

/** Follows to the end, telling onUpdate every status; returns the terminal message. */
export async function followToEnd(
  rpc: Rpc,
  scope: Scope,
  options: FollowOptions,
  onUpdate: ((job: ProtoJob) => void) | undefined,
): Promise<ProtoJob> {
  for await (const job of follow(rpc, scope, options)) {
    onUpdate?.(job);
    if (isTerminalProto(job)) return job;
  }
  throw new Error("unreachable: follow() returns after a terminal status only");
}

export function jobHandle(rpc: Rpc, id: string): JobHandle {
  return {
    id,
    status: (opts = {}) =>
      scoped("status", opts, (scope) => {
        const request = {
          id,
          includeLogs: opts.logs ?? false,
          includeAttempts: opts.attempts ?? false,
          includeInput: opts.input ?? false,
        };
        return retrying(scope, id, () => rpc.client.getStatus(request, callOptions(rpc, scope))).then(jobFromProto);
      }),
    async *stream(opts = {}) {
      const scope = openScope("stream", opts);
      try {
        const logs = opts.logs ?? false;
        for await (const job of follow(rpc, scope, { id, logs })) yield jobFromProto(job);
      } finally {
        scope.dispose();
      }
    },
    result: (opts = {}) =>
      scoped("result", opts, (scope) =>
        retrying(scope, id, () => rpc.client.getResult({ id }, callOptions(rpc, scope))).then(resultFromProto),
      ),
    wait: <T extends JsonValue = JsonValue>(opts: WaitOpts = {}) =>
      scoped("wait", opts, async (scope) => {
        const logs = opts.logs ?? false;
        const onUpdate = opts.onUpdate;
        const terminal = await followToEnd(
          rpc,
          scope,
          { id, logs },
          onUpdate && ((job) => onUpdate(jobFromProto(job))),
        );
        return finish<T>(rpc, scope, terminal);
      }),
    cancel: (opts = {}) =>
      scoped("cancel", opts, async (scope) => {
        const res = await retrying(scope, id, () => rpc.client.cancel({ id }, callOptions(rpc, scope)));
        return { removed: res.removed, message: res.message, job: jobFromProto(res.job!) };
      }),
    // Made once: a repeat after a lost answer would fail FAILED_PRECONDITION (the job is QUEUED again).
    retry: (opts = {}) =>
      scoped("retry", opts, async (scope) => {
        try {
          return jobFromProto(await rpc.client.retry({ id }, callOptions(rpc, scope)));
        } catch (err) {
          throw scope.signal.aborted ? scope.error(id) : toJetqError(err, id);
        }
      }),
    poll: (opts = {}) => startPolling(rpc, id, opts),
  };
}

function startPolling(rpc: Rpc, id: string, opts: PollOpts): Poller {
  const stopper = new AbortController();
  const intervalMs = opts.intervalMs ?? 1_000;
  const done = scoped("poll", { signal: stopper.signal }, async (scope) => {
    let lastKey = "";
    try {
      for (;;) {
        const status = await retrying(scope, id, () =>
          rpc.client.getStatus({ id, includeLogs: opts.logs ?? false }, callOptions(rpc, scope)),
        );
        const job = jobFromProto(status);
        const key = JSON.stringify([job.state, job.attempt, job.queuePosition, job.progress, job.logs.length]);
        if (key !== lastKey) opts.onUpdate?.(job);
        lastKey = key;
        if (isTerminalProto(status)) {
          const out = await finish(rpc, scope, status);
          if (!stopper.signal.aborted) opts.onResult?.(out);
          return;
        }
        await sleep(intervalMs, scope.signal);
      }
    } catch (err) {
      if (stopper.signal.aborted) return;
      if (!opts.onError) throw err;
      opts.onError(err as JobError | JetqError);
    }
  });
  return { stop: () => stopper.abort(), done };
}
