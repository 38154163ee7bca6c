/**
 * The job executor: runs one job a pull handed out. It begins the lease,
 * runs the handler with heartbeats and a signal that aborts on cancel,
 * timeout or shutdown, and settles the outcome once (settle.ts). A cancel or
 * timeout settles at once, even if the handler ignores its signal; the job
 * stays active (its slot taken) until the handler really returns.
 */
import type { JobContext, Handler } from "./types.js";
import { abortJob, type ActiveJob } from "./active-job.js";
import { jobScope, type JobRuntime, type JobScope } from "./job-scope.js";
import { isUnreachable } from "./lease-retry.js";
import { toJobError, type Outcome } from "./outcome.js";
import { startRunSpans, type RunSpan } from "../tracing/spans.js";
import { settle } from "./settle.js";

/** Runs the job to its settlement and the handler's return; rejects only on a failed settle. */
export async function runJob(job: ActiveJob, handler: Handler, runtime: JobRuntime): Promise<void> {
  const { lease } = job;
  const scope = jobScope(job, runtime);
  // From the first engine call on: a begin() or settle retried while the
  // engine is unreachable must not let the delivery's ack wait run out.
  const heartbeat = startHeartbeat(job, scope, runtime);
  try {
    if (!(await scope.call("begin", () => lease.begin()))) {
      scope.log.debug("job already finished or expired; not running it");
      return;
    }
    if (job.released) return;
    // begin() numbers the attempt from the job's record (a crash before may have shifted it).
    scope.bindings.attempt = lease.attempt;
    // In the trace the job carries (README "Traces"): queue wait until now, then the run.
    await runHandler(job, handler, scope, startRunSpans(lease, Date.now()));
  } finally {
    clearInterval(heartbeat);
    runtime.hold.release(job);
  }
}

/** Every third of the ack wait; a heartbeat that meets an outage makes the job hold the pulls. */
function startHeartbeat(job: ActiveJob, scope: JobScope, runtime: JobRuntime): ReturnType<typeof setInterval> {
  const { lease } = job;
  return setInterval(
    () => {
      lease.heartbeat().then(
        () => runtime.hold.reachedAgain(job),
        (err: unknown) => {
          if (isUnreachable(err)) runtime.hold.hold(job);
          scope.log.warn({ err }, "heartbeat failed");
        },
      );
    },
    Math.max(100, Math.floor(lease.ackWaitMs / 3)),
  );
}

async function runHandler(job: ActiveJob, handler: Handler, scope: JobScope, spans: RunSpan): Promise<void> {
  const { lease, controller } = job;
  const onCancel = () => abortJob(job, "cancel");
  if (lease.cancelled.aborted) onCancel();
  else lease.cancelled.addEventListener("abort", onCancel, { once: true });
  const timeoutMs = lease.options.timeoutMs;
  const timeout =
    timeoutMs !== undefined && timeoutMs > 0 ? setTimeout(() => abortJob(job, "timeout"), timeoutMs) : undefined;
  const stopWatching = () => {
    clearTimeout(timeout);
    lease.cancelled.removeEventListener("abort", onCancel);
  };

  scope.log.debug("job started");
  const ctx = contextOf(job, spans.traceId);
  // The run span is the handler's active span: its own spans join the job's trace.
  const result: Promise<Outcome> = spans
    .run(async () => handler(lease.input, ctx))
    .then(
      (output) => ({ ok: true, output: output === undefined ? null : output }),
      (error: unknown) => ({ ok: false, error }),
    );
  const aborted = new Promise<undefined>((resolve) => {
    if (controller.signal.aborted) resolve(undefined);
    else controller.signal.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  try {
    const outcome = await Promise.race([result, aborted]);
    stopWatching();
    spans.end(runError(job, outcome));
    if (!job.released) {
      job.settled = true;
      await settle(job, outcome, scope);
    }
  } finally {
    stopWatching();
    await result;
  }
}

/** How the run ended, for its span: an abort's reason, or what the handler threw. */
function runError(job: ActiveJob, outcome: Outcome | undefined): { code: string; message: string } | undefined {
  if (outcome === undefined) return { code: (job.reason ?? "cancel").toUpperCase(), message: `aborted: ${job.reason}` };
  return outcome.ok ? undefined : toJobError(outcome.error);
}

/** What the handler gets besides its input. */
function contextOf(job: ActiveJob, traceId: string | undefined): JobContext {
  const { lease } = job;
  return {
    id: lease.id,
    queue: lease.queue,
    attempt: lease.attempt,
    ...(traceId ? { traceId } : {}),
    signal: job.controller.signal,
    log: (level, message) => lease.log(level, String(message)),
    progress: (fraction) => {
      if (Number.isFinite(fraction)) lease.progress(Math.min(1, Math.max(0, fraction)));
    },
  };
}
