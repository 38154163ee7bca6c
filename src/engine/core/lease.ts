/**
 * The JobLease a worker holds, over one DriverDelivery: every decision of an
 * attempt is taken here, once for all drivers (whether it may run, what its
 * log and progress may be, whether its output fits, whether a failure is
 * retried and when); the driver stores what was decided. docs/ARCHITECTURE.md §4.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { outputTooLarge, payloadBytes } from "../errors.js";
import { createLogMeter, type LogBounds, type LogMeter } from "../log-bounds.js";
import { refusalOf } from "../lost-leases.js";
import { pacedProgress, type PacedProgress } from "../progress-pacing.js";
import type { SettingNamer } from "../settings.js";
import type { FailOptions, JobError, JobLease, JobOptions, LogLevel, TraceContext } from "../types.js";
import type { DriverDelivery, RunAccount, TerminalFields, TerminalState } from "../driver/types.js";
import type { JobEventListener } from "../job-events.js";
import { deadlinePassed, expiredError } from "./outcomes.js";
import { afterFailure } from "./retry-policy.js";

export interface LeaseRules {
  /** Where the lease tells what it did (../job-events.ts). */
  emit: JobEventListener;
  logBounds: LogBounds;
  settingName: SettingNamer;
  /** Least time between two progress events of one attempt. */
  progressIntervalMs: number;
  /** Largest output (JSON bytes). */
  maxPayloadBytes: number;
}

export class CoreLease implements JobLease {
  readonly id: string;
  readonly queue: string;
  readonly input: JsonValue;
  readonly createdAt: number;
  readonly options: JobOptions;
  readonly trace?: TraceContext;
  readonly ackWaitMs: number;
  readonly cancelled: AbortSignal;
  private readonly d: DriverDelivery;
  private readonly rules: LeaseRules;
  private run: RunAccount;
  private begun = false;
  private startedAt: number | undefined;
  /** The attempt is ending: its log and progress are closed (the notice written once). */
  private ending = false;
  /** The driver took an outcome, or said another one won. A call that threw leaves it unset: it may be retried. */
  private settled = false;
  private lastProgress = 0;
  private readonly logMeter: LogMeter;
  private readonly progressEvents: PacedProgress;

  constructor(d: DriverDelivery, rules: LeaseRules) {
    this.d = d;
    this.rules = rules;
    this.id = d.ref.id;
    this.queue = d.ref.queue;
    this.input = d.input;
    this.createdAt = d.createdAt;
    this.options = d.options;
    if (d.trace) this.trace = d.trace;
    this.ackWaitMs = d.config.ackWaitMs;
    this.cancelled = d.cancelled;
    this.run = { attempt: d.attempt, interrupted: 0, lost: 0 };
    this.logMeter = createLogMeter(rules.logBounds, rules.settingName);
    this.progressEvents = pacedProgress(rules.progressIntervalMs, (value) => {
      if (!this.ending) d.announceProgress(value);
    });
    d.cancelled.addEventListener("abort", () => this.progressEvents.cancel(), { once: true });
  }

  get attempt(): number {
    return this.begun ? this.run.attempt : this.d.attempt;
  }

  async begin(): Promise<boolean> {
    if (this.begun) return !this.settled;
    if (this.settled) return false;
    if (this.options.runAt !== undefined) await this.untilRunTime(this.options.runAt);
    const found = await this.d.inspect();
    if (found.over) {
      this.settled = true;
      return false;
    }
    const refusal = this.refuse(found.run);
    if (refusal) return this.endUnrun("FAILED", refusal, found.run.attempt - 1);
    const deadline = this.options.startDeadline;
    if (deadline !== undefined && deadlinePassed(deadline, Date.now())) {
      // Not a run: the job keeps the number of its last one (as the embedded engine's timer does).
      return this.endUnrun("EXPIRED", expiredError(deadline), found.run.attempt - 1);
    }
    const startedAt = Date.now();
    const marked = await this.d.markRunning(found.run, startedAt, (r) => this.refuse(r));
    if (!marked) {
      this.settled = true;
      return false;
    }
    this.run = marked;
    this.begun = true;
    this.startedAt = startedAt;
    const { createdAt } = this;
    this.rules.emit({
      kind: "started",
      ...this.who(),
      attempt: marked.attempt,
      createdAt,
      startedAt,
      lostLeases: marked.lost,
    });
    return true;
  }

  async heartbeat(): Promise<void> {
    if (!this.settled) this.d.heartbeat();
  }

  log(level: LogLevel, message: string): void {
    if (this.ending) return;
    for (const entry of this.logMeter.admit(level, String(message), Date.now())) this.d.appendLog(entry);
  }

  progress(fraction: number): void {
    if (this.ending || !Number.isFinite(fraction)) return;
    const value = Math.min(1, Math.max(0, fraction));
    if (value === this.lastProgress) return;
    this.lastProgress = value;
    this.d.setProgress(value);
    this.progressEvents.set(value);
  }

  async complete(output: JsonValue): Promise<boolean> {
    if (this.settled) return false;
    const json = JSON.stringify(output ?? null) ?? "null";
    const { maxPayloadBytes, settingName } = this.rules;
    const bytes = payloadBytes(json, maxPayloadBytes);
    if (bytes > maxPayloadBytes) {
      // Not retried: the same handler would return the same output.
      const error = outputTooLarge(bytes, maxPayloadBytes, settingName("maxPayloadBytes"));
      return this.finish("FAILED", { error });
    }
    return this.finish("COMPLETED", { output, outputJson: json, progress: 1 });
  }

  async fail(error: JobError, failOptions: FailOptions = {}): Promise<boolean> {
    if (this.settled) return false;
    const jobError: JobError = { code: String(error.code), message: String(error.message) };
    const next = afterFailure(this.run, failOptions.retryable !== false, this.options, this.d.config);
    if (!next.retry) return this.finish("FAILED", { error: jobError });
    const taken = await this.settle(() => this.d.retry(jobError, next.delayMs));
    if (taken) {
      const event = {
        kind: "retried",
        ...this.who(),
        attempt: this.attempt,
        error: jobError,
        delayMs: next.delayMs,
      } as const;
      this.rules.emit(event);
    }
    return taken;
  }

  async release(): Promise<void> {
    if (this.settled) return;
    await this.settle(async () => {
      await this.d.release(this.begun);
      return true;
    });
    this.rules.emit({ kind: "released", ...this.who(), attempt: this.attempt });
  }

  /**
   * A delayed job never starts before its run time. A driver may hand it
   * out a moment early (JetStream moves it to its queue ahead of time, so
   * that it starts on time: ../nats/delayed.ts): the lease waits for it.
   */
  private async untilRunTime(runAt: number): Promise<void> {
    const wait = runAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, this.ackWaitMs / 2)));
  }

  private who(): { queue: string; id: string; tenant: string } {
    return { queue: this.queue, id: this.id, tenant: this.d.tenant };
  }

  /** Ends the job through the driver and, when this write won, tells observers. */
  private async finish(state: TerminalState, fields: TerminalFields): Promise<boolean> {
    const taken = await this.settle(() => this.d.finish(state, fields));
    if (!taken) return false;
    this.rules.emit({
      kind: "finished",
      state,
      ...this.who(),
      attempt: fields.attempt ?? this.attempt,
      createdAt: this.createdAt,
      ...(this.startedAt !== undefined ? { startedAt: this.startedAt } : {}),
      finishedAt: Date.now(),
      ...(fields.error ? { error: fields.error } : {}),
      ...(state === "COMPLETED" ? { output: fields.output ?? null } : {}),
      options: this.options,
    });
    return true;
  }

  private refuse(run: RunAccount): JobError | undefined {
    return refusalOf(run, this.options, this.d.config);
  }

  /**
   * Hands the outcome to the driver. The attempt's log and progress close
   * first (the dropped-lines notice goes out before the outcome); a driver
   * call that throws (UNAVAILABLE while NATS is away) leaves the lease
   * unsettled, so the worker may call again.
   */
  private async settle(outcome: () => Promise<boolean>): Promise<boolean> {
    if (!this.ending) {
      this.ending = true;
      this.progressEvents.cancel();
      const notice = this.logMeter.finish(Date.now());
      if (notice) this.d.appendLog(notice);
    }
    const taken = await outcome();
    this.settled = true;
    return taken;
  }

  /** Ends the job without running this delivery. */
  private async endUnrun(state: "FAILED" | "EXPIRED", error: JobError, attempt?: number): Promise<false> {
    await this.finish(state, { error, ...(attempt !== undefined ? { attempt } : {}) });
    return false;
  }
}
