/**
 * The JobLease a worker holds, over one DriverDelivery: every decision of an
 * attempt is taken here, once for all drivers (whether it may run, what its
 * log and progress may be, whether its output fits, whether a failure is
 * retried and when); the driver stores what was decided. docs/ARCHITECTURE.md §4.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { outputTooLarge, payloadBytes } from "../errors.js";
import { createLogMeter, type LogBounds } from "../log-bounds.js";
import { refusalOf } from "../lost-leases.js";
import { pacedProgress } from "../progress-pacing.js";
import type { SettingNamer } from "../settings.js";
import type { FailOptions, JobError, JobLease, LogLevel } from "../types.js";
import type { DriverDelivery, RunAccount } from "../driver/types.js";
import { deadlinePassed, expiredError } from "./outcomes.js";
import { afterFailure } from "./retry-policy.js";

export interface LeaseRules {
  logBounds: LogBounds;
  settingName: SettingNamer;
  /** Least time between two progress events of one attempt. */
  progressIntervalMs: number;
  /** Largest output (JSON bytes). */
  maxPayloadBytes: number;
}

export function createLease(d: DriverDelivery, rules: LeaseRules): JobLease {
  const { options, config } = d;
  let run: RunAccount = { attempt: d.attempt, interrupted: 0, lost: 0 };
  let begun = false;
  let settled = false;
  let progress = 0;
  const refuse = (r: RunAccount) => refusalOf(r, options, config);
  const logMeter = createLogMeter(rules.logBounds, rules.settingName);
  const progressEvents = pacedProgress(rules.progressIntervalMs, (value) => {
    if (!settled) d.announceProgress(value);
  });
  d.cancelled.addEventListener("abort", () => progressEvents.cancel(), { once: true });

  /** The attempt is ending: no more progress events, and the dropped-lines notice goes out first. */
  const closeAttempt = () => {
    settled = true;
    progressEvents.cancel();
    const notice = logMeter.finish(Date.now());
    if (notice) d.appendLog(notice);
  };

  /** Ends the job without running this delivery. */
  const endUnrun = async (state: "FAILED" | "EXPIRED", error: JobError, attempt?: number) => {
    closeAttempt();
    await d.finish(state, { error, ...(attempt !== undefined ? { attempt } : {}) });
    return false;
  };

  const begin = async (): Promise<boolean> => {
    if (begun) return !settled;
    if (settled) return false;
    const found = await d.inspect();
    if (found.over) {
      settled = true;
      return false;
    }
    const refusal = refuse(found.run);
    if (refusal) return endUnrun("FAILED", refusal, found.run.attempt - 1);
    const deadline = options.startDeadline;
    if (deadline !== undefined && deadlinePassed(deadline, Date.now())) {
      return endUnrun("EXPIRED", expiredError(deadline));
    }
    const marked = await d.markRunning(found.run, Date.now(), refuse);
    if (!marked) {
      settled = true;
      return false;
    }
    run = marked;
    begun = true;
    return true;
  };

  const complete = async (output: JsonValue): Promise<boolean> => {
    if (settled) return false;
    const json = JSON.stringify(output ?? null) ?? "null";
    const bytes = payloadBytes(json, rules.maxPayloadBytes);
    closeAttempt();
    if (bytes > rules.maxPayloadBytes) {
      // Not retried: the same handler would return the same output.
      const error = outputTooLarge(bytes, rules.maxPayloadBytes, rules.settingName("maxPayloadBytes"));
      return d.finish("FAILED", { error });
    }
    return d.finish("COMPLETED", { output, outputJson: json, progress: 1 });
  };

  const fail = async (error: JobError, failOptions: FailOptions = {}): Promise<boolean> => {
    if (settled) return false;
    const jobError: JobError = { code: String(error.code), message: String(error.message) };
    const next = afterFailure(run, failOptions.retryable !== false, options, config);
    closeAttempt();
    if (!next.retry) return d.finish("FAILED", { error: jobError });
    return d.retry(jobError, next.delayMs);
  };

  return {
    id: d.ref.id,
    queue: d.ref.queue,
    input: d.input,
    get attempt() {
      return begun ? run.attempt : d.attempt;
    },
    createdAt: d.createdAt,
    options,
    ackWaitMs: config.ackWaitMs,
    cancelled: d.cancelled,
    begin,
    async heartbeat() {
      if (!settled) d.heartbeat();
    },
    log(level: LogLevel, message: string) {
      if (settled) return;
      for (const entry of logMeter.admit(level, String(message), Date.now())) d.appendLog(entry);
    },
    progress(fraction: number) {
      if (settled || !Number.isFinite(fraction)) return;
      const value = Math.min(1, Math.max(0, fraction));
      if (value === progress) return;
      progress = value;
      d.setProgress(value);
      progressEvents.set(value);
    },
    complete,
    fail,
    async release() {
      if (settled) return;
      closeAttempt();
      await d.release(begun);
    },
  };
}
