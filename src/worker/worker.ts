/**
 * The worker runtime: per queue, a loop that pulls exactly as many jobs as it
 * has free slots and runs each through its handler with heartbeats, a cancel
 * / timeout / shutdown signal, and exactly one settlement.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { isEngineError } from "../engine/errors.js";
import { assertQueueName } from "../engine/queue-name.js";
import type { JobError, JobLease, QueueConfig } from "../engine/types.js";
import { silentLogger } from "../logger.js";
import { PermanentError } from "./errors.js";
import type { Handler, JobContext, QueueRegistration, Worker, WorkerOptions } from "./types.js";

const DEFAULT_CONCURRENCY = 16;
const DEFAULT_FETCH_EXPIRES_MS = 2_000;
const DEFAULT_GRACE_MS = 10_000;
const ABORTED_HANDLER_WAIT_MS = 1_000;
/** Pause after a failed pull, so an unreachable engine is not hammered. */
const FETCH_ERROR_PAUSE_MS = 1_000;
/** A pull that comes back empty this fast means the engine is not waiting (closed?): pause. */
const FAST_EMPTY_MS = 20;
const FAST_EMPTY_PAUSE_MS = 200;
/**
 * A lease call that fails UNAVAILABLE (NATS restarting, a cluster electing a
 * leader) is retried, under heartbeats, from this pause doubling to the cap,
 * for at most SETTLE_PATIENCE_MS: giving up on complete() would have the job
 * redelivered and run again (or count as a lost lease though it succeeded).
 */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 1_000;
const SETTLE_PATIENCE_MS = 5 * 60_000;

type AbortReason = "cancel" | "timeout" | "shutdown";
type Outcome = { ok: true; output: JsonValue } | { ok: false; error: unknown };

const isUnreachable = (err: unknown) => isEngineError(err, "unavailable");

interface ActiveJob {
  lease: JobLease;
  controller: AbortController;
  reason?: AbortReason;
  /** Handed back by stop(): nothing else may settle this lease. */
  released: boolean;
  /** complete/fail was called: the handler may still be running, the lease is done. */
  settled: boolean;
  /** An engine call of this job met an outage: pulls wait until the job is settled (see holdPulls). */
  holdsPulls: boolean;
  /** Ends the hold of a job still running one ack wait after the engine answered again. */
  holdTimer?: ReturnType<typeof setTimeout>;
  done: Promise<void>;
}

interface QueueRuntime {
  name: string;
  handler: Handler;
  concurrency: number;
  config?: Partial<QueueConfig>;
  active: Set<ActiveJob>;
  /** Resolves the current waiter when a slot frees up. */
  wake?: () => void;
}

export function createWorker(options: WorkerOptions): Worker {
  const engine = options.engine;
  const logger = (options.logger ?? silentLogger()).child({ component: "worker" });
  const fetchExpiresMs = options.fetchExpiresMs ?? DEFAULT_FETCH_EXPIRES_MS;
  const queues: QueueRuntime[] = Object.entries(options.queues).map(([name, reg]) => {
    assertQueueName(name, "queues");
    const r: QueueRegistration = typeof reg === "function" ? { handler: reg } : reg;
    const concurrency = r.concurrency ?? options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency of queue "${name}" must be a whole number >= 1, got ${concurrency}`);
    }
    return { name, handler: r.handler, concurrency, config: r.config, active: new Set() };
  });

  // stop() first drains: no new pulls, the one in flight may end on its own,
  // as an abandoned JetStream pull can still be handed a job nobody takes.
  // Pulls are cut only when the grace runs out.
  const draining = new AbortController();
  const cutPulls = new AbortController();
  /** stop()'s grace ran out: lease calls waiting for the engine stop retrying. */
  const graceOver = new AbortController();
  let loops: Promise<void>[] = [];
  /** Leases handed straight back; stop() waits for them before the engine may close. */
  const handingBack = new Set<Promise<void>>();
  let started = false;
  let stopped: Promise<void> | undefined;
  /** Held jobs that met an outage and are not settled yet (see holdPulls). */
  let holdingPulls = 0;
  const pullWaiters: (() => void)[] = [];

  /**
   * A job whose begin(), heartbeat or settle met an outage holds the pulls
   * until it is settled: its delivery's ack wait may have run out meanwhile,
   * and the redelivery, fetched here before the job's outcome is written,
   * would count as another attempt and a lost lease (WORKER_LOST at the cap,
   * for a job that completed). Holding only while a call is being retried is not enough:
   * a begin() that goes through after the outage lets the handler run while
   * the redelivery is already due. A long job does not hold them for its
   * whole run: one ack wait after the engine answered it again, the hold
   * ends (its redelivery, if any, is then a lease expiry like any other).
   */
  function holdPulls(job: ActiveJob): void {
    if (job.holdsPulls) return;
    job.holdsPulls = true;
    holdingPulls++;
  }
  function reachedAgain(job: ActiveJob): void {
    if (!job.holdsPulls || job.holdTimer) return;
    job.holdTimer = setTimeout(() => releasePulls(job), job.lease.ackWaitMs);
    job.holdTimer.unref();
  }
  function releasePulls(job: ActiveJob): void {
    clearTimeout(job.holdTimer);
    if (!job.holdsPulls) return;
    job.holdsPulls = false;
    if (--holdingPulls === 0) for (const wake of pullWaiters.splice(0)) wake();
  }

  async function pull(q: QueueRuntime): Promise<void> {
    while (!draining.signal.aborted) {
      const free = q.concurrency - q.active.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            draining.signal.removeEventListener("abort", done);
            q.wake = undefined;
            resolve();
          };
          q.wake = done;
          draining.signal.addEventListener("abort", done, { once: true });
        });
        continue;
      }
      if (holdingPulls > 0) {
        await noRetriesPending();
        continue;
      }
      let leases: JobLease[];
      const t0 = performance.now();
      try {
        leases = await engine.fetch(q.name, {
          max: free,
          expiresMs: fetchExpiresMs,
          signal: cutPulls.signal,
        });
      } catch (err) {
        if (draining.signal.aborted) break;
        logger.warn({ err, queue: q.name }, "pulling jobs failed; retrying");
        await pause(FETCH_ERROR_PAUSE_MS, draining.signal);
        continue;
      }
      for (const [i, lease] of leases.entries()) {
        // Defensive: a lease beyond our free slots, or one that arrived as we
        // began to stop, goes straight back to the queue.
        if (draining.signal.aborted || i >= free) {
          const back = lease
            .release()
            .catch((err: unknown) => logger.warn({ err, job: lease.id }, "release failed"))
            .finally(() => handingBack.delete(back));
          handingBack.add(back);
          continue;
        }
        run(q, lease);
      }
      if (leases.length === 0 && performance.now() - t0 < FAST_EMPTY_MS) {
        await pause(FAST_EMPTY_PAUSE_MS, draining.signal);
      }
    }
  }

  function run(q: QueueRuntime, lease: JobLease): void {
    const job: ActiveJob = {
      lease,
      controller: new AbortController(),
      released: false,
      settled: false,
      holdsPulls: false,
      done: Promise.resolve(),
    };
    q.active.add(job);
    job.done = execute(q, job)
      .catch((err: unknown) => logger.error({ err, job: lease.id }, "job runtime error"))
      .finally(() => {
        q.active.delete(job);
        q.wake?.();
      });
  }

  async function execute(q: QueueRuntime, job: ActiveJob): Promise<void> {
    const { lease } = job;
    const bindings = { queue: q.name, job: lease.id, attempt: lease.attempt };
    const log = new JobLog(logger, bindings);
    // From the first engine call on: a begin() or settle retried while the
    // engine is unreachable must not let the delivery's ack wait run out.
    const heartbeat = setInterval(
      () => {
        lease.heartbeat().then(
          () => reachedAgain(job),
          (err: unknown) => {
            if (isUnreachable(err)) holdPulls(job);
            log.warn({ err }, "heartbeat failed");
          },
        );
      },
      Math.max(100, Math.floor(lease.ackWaitMs / 3)),
    );
    try {
      if (!(await whileUnreachable("begin", () => lease.begin(), log, job))) {
        log.debug("job already finished or expired; not running it");
        return;
      }
      if (job.released) return;
      // begin() numbers the attempt from the job's record (a crash before may have shifted it).
      bindings.attempt = lease.attempt;
      await runHandler(q, job, log);
    } finally {
      clearInterval(heartbeat);
      releasePulls(job);
    }
  }

  async function runHandler(q: QueueRuntime, job: ActiveJob, log: JobLog): Promise<void> {
    const { lease, controller } = job;

    const abort = (reason: AbortReason) => {
      if (controller.signal.aborted) return;
      job.reason = reason;
      controller.abort(abortError(reason, lease));
    };
    const onCancel = () => abort("cancel");
    if (lease.cancelled.aborted) onCancel();
    else lease.cancelled.addEventListener("abort", onCancel, { once: true });
    const timeoutMs = lease.options.timeoutMs;
    const timeout =
      timeoutMs !== undefined && timeoutMs > 0 ? setTimeout(() => abort("timeout"), timeoutMs) : undefined;
    const ctx: JobContext = {
      id: lease.id,
      queue: lease.queue,
      attempt: lease.attempt,
      signal: controller.signal,
      log: (level, message) => lease.log(level, String(message)),
      progress: (fraction) => {
        if (Number.isFinite(fraction)) lease.progress(Math.min(1, Math.max(0, fraction)));
      },
    };

    log.debug("job started");
    const result: Promise<Outcome> = (async () => q.handler(lease.input, ctx))().then(
      (output) => ({ ok: true, output: output === undefined ? null : output }),
      (error: unknown) => ({ ok: false, error }),
    );
    // A cancel or timeout settles the job at once, even if the handler ignores
    // its signal; its slot stays taken until it really returns.
    const aborted = new Promise<undefined>((resolve) => {
      if (controller.signal.aborted) resolve(undefined);
      else controller.signal.addEventListener("abort", () => resolve(undefined), { once: true });
    });
    try {
      const outcome = await Promise.race([result, aborted]);
      clearTimeout(timeout);
      lease.cancelled.removeEventListener("abort", onCancel);
      if (!job.released) {
        job.settled = true;
        await settle(job, outcome, log);
      }
    } finally {
      clearTimeout(timeout);
      lease.cancelled.removeEventListener("abort", onCancel);
      await result;
    }
  }

  async function settle(job: ActiveJob, outcome: Outcome | undefined, log: JobLog): Promise<void> {
    const { lease } = job;
    switch (job.reason) {
      case "cancel":
        // The cancel already wrote CANCELLED; this only settles our delivery.
        await whileUnreachable(
          "fail",
          () => lease.fail({ code: "CANCELLED", message: "cancelled by a client" }, { retryable: false }),
          log,
          job,
        );
        log.info("job cancelled while running");
        return;
      case "timeout":
        await whileUnreachable("fail", () => lease.fail({ code: "TIMEOUT", message: timeoutMessage(lease) }), log, job);
        log.warn({ timeoutMs: lease.options.timeoutMs }, "job timed out");
        return;
      case "shutdown":
        // stop() hands these back itself.
        return;
    }
    if (outcome === undefined) return;
    if (outcome.ok) {
      let output: JsonValue;
      try {
        output = toJsonValue(outcome.output);
      } catch (err) {
        await whileUnreachable(
          "fail",
          () =>
            lease.fail(
              { code: "OUTPUT_INVALID", message: `handler output is not JSON: ${errorMessage(err)}` },
              { retryable: false },
            ),
          log,
          job,
        );
        log.warn({ err }, "handler output is not JSON");
        return;
      }
      try {
        const won = await whileUnreachable("complete", () => lease.complete(output), log, job);
        log.debug({ won }, "job completed");
      } catch (err) {
        if (isEngineError(err, "resource_exhausted") || isEngineError(err, "invalid_argument")) {
          await whileUnreachable(
            "fail",
            () => lease.fail({ code: "OUTPUT_INVALID", message: errorMessage(err) }, { retryable: false }),
            log,
            job,
          );
        }
        throw err;
      }
      return;
    }
    const error = toJobError(outcome.error);
    const retryable = !(outcome.error instanceof PermanentError);
    await whileUnreachable("fail", () => lease.fail(error, { retryable }), log, job);
    log.info({ code: error.code, retryable, message: error.message }, "job attempt failed");
  }

  /**
   * Runs a lease call, retrying it while the engine answers UNAVAILABLE (the
   * heartbeat keeps the delivery ours meanwhile), until the patience or the
   * stop grace runs out. The job then holds the pulls (holdPulls).
   */
  async function whileUnreachable<T>(what: string, call: () => Promise<T>, log: JobLog, job: ActiveJob): Promise<T> {
    const giveUpAt = Date.now() + SETTLE_PATIENCE_MS;
    let pauseMs = RETRY_MIN_MS;
    for (let tries = 1; ; tries++) {
      try {
        const out = await call();
        if (tries > 1) log.info({ tries }, `${what} went through once the engine was reachable again`);
        reachedAgain(job);
        return out;
      } catch (err) {
        if (!isUnreachable(err) || graceOver.signal.aborted || Date.now() + pauseMs > giveUpAt) throw err;
        if (tries === 1) log.warn({ err }, `${what} failed: engine unreachable; retrying until it is back`);
        holdPulls(job);
        // Unref'd: a retry never holds a process open on its own.
        await pause(pauseMs, graceOver.signal, { unref: true });
        pauseMs = Math.min(RETRY_MAX_MS, pauseMs * 2);
      }
    }
  }

  /**
   * Resolves once no job this worker holds has met an outage without being
   * settled since (holdPulls). The pull loop waits for it: after an outage
   * the server redelivers the jobs whose ack wait ran out, and a job this
   * worker ran meanwhile must be settled before its redelivery is fetched
   * here, or that delivery would count as another attempt.
   */
  function noRetriesPending(): Promise<void> {
    if (holdingPulls === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        draining.signal.removeEventListener("abort", done);
        resolve();
      };
      pullWaiters.push(done);
      draining.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** True when every held job is done within ms. */
  async function allDone(ms: number): Promise<boolean> {
    const all = Promise.all(queues.flatMap((q) => [...q.active].map((j) => j.done)));
    let timer: NodeJS.Timeout | undefined;
    const over = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = await Promise.race([all.then(() => true as const), over]);
    clearTimeout(timer);
    return done;
  }

  async function releaseAll(): Promise<void> {
    const left = queues.flatMap((q) => [...q.active]);
    await Promise.all(
      left.map(async (job) => {
        if (!job.controller.signal.aborted) {
          job.reason = "shutdown";
          job.controller.abort(abortError("shutdown", job.lease));
        }
        if (job.settled) return;
        job.released = true;
        try {
          await job.lease.release();
          logger.info({ job: job.lease.id }, "job handed back to its queue at shutdown");
        } catch (err) {
          logger.warn(
            { err, job: job.lease.id },
            "release at shutdown failed; the job is redelivered after its ack wait",
          );
        }
      }),
    );
  }

  return {
    get running() {
      return queues.reduce((n, q) => n + q.active.size, 0);
    },

    async start() {
      if (started) throw new Error("worker already started");
      started = true;
      for (const q of queues) await engine.declareQueue(q.name, q.config);
      loops = queues.map((q) =>
        pull(q).catch((err: unknown) => logger.error({ err, queue: q.name }, "pull loop ended")),
      );
      logger.info({ queues: queues.map((q) => ({ name: q.name, concurrency: q.concurrency })) }, "worker started");
    },

    stop(stopOptions = {}) {
      stopped ??= (async () => {
        const graceMs = stopOptions.graceMs ?? DEFAULT_GRACE_MS;
        const t0 = performance.now();
        draining.abort();
        if (graceMs <= 0) cutPulls.abort();
        const cut = setTimeout(() => cutPulls.abort(), graceMs);
        await Promise.all(loops);
        clearTimeout(cut);
        cutPulls.abort();
        await Promise.all(handingBack);
        const left = Math.max(0, graceMs - (performance.now() - t0));
        if (!(await allDone(left))) {
          graceOver.abort();
          await releaseAll();
          // Handlers that honour their signal return within moments; give
          // them those, so a stopped worker holds nothing, but never hang on
          // one that does not.
          if (!(await allDone(ABORTED_HANDLER_WAIT_MS))) {
            logger.warn(
              { running: queues.reduce((n, q) => n + q.active.size, 0) },
              "handlers still running after their signal aborted",
            );
          }
        }
        logger.info("worker stopped");
      })();
      return stopped;
    },
  };
}

/**
 * A job's logger: pino's child() serializes its bindings when it is made,
 * which every job paid although most log nothing at the active level. The
 * child is made on the first line that is actually written.
 */
class JobLog {
  private child: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private at(level: "debug" | "info" | "warn" | "error"): Logger | undefined {
    if (!this.parent.isLevelEnabled(level)) return undefined;
    return (this.child ??= this.parent.child(this.bindings));
  }

  debug(obj: object | string, msg?: string): void {
    this.write("debug", obj, msg);
  }

  info(obj: object | string, msg?: string): void {
    this.write("info", obj, msg);
  }

  warn(obj: object | string, msg?: string): void {
    this.write("warn", obj, msg);
  }

  error(obj: object | string, msg?: string): void {
    this.write("error", obj, msg);
  }

  private write(level: "debug" | "info" | "warn" | "error", obj: object | string, msg?: string): void {
    const log = this.at(level);
    if (!log) return;
    if (typeof obj === "string") log[level](obj);
    else log[level](obj, msg);
  }
}

function abortError(reason: AbortReason, lease: JobLease): Error {
  switch (reason) {
    case "cancel":
      return new DOMException(`job ${lease.id} was cancelled`, "AbortError");
    case "timeout":
      return new DOMException(timeoutMessage(lease), "TimeoutError");
    case "shutdown":
      return new DOMException("the worker is shutting down", "AbortError");
  }
}

function timeoutMessage(lease: JobLease): string {
  return `attempt ${lease.attempt} exceeded the job's time limit of ${formatMs(lease.options.timeoutMs ?? 0)}`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function toJobError(err: unknown): JobError {
  if (err instanceof PermanentError) return { code: err.code, message: errorMessage(err) };
  return { code: "HANDLER_ERROR", message: errorMessage(err) };
}

/** What the output looks like once it went through JSON: what a client will get. */
function toJsonValue(value: JsonValue): JsonValue {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

function pause(ms: number, signal: AbortSignal, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    if (options.unref) timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
