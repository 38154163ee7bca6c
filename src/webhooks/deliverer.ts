/**
 * The deliverer: takes due tasks from the engine's outbox (any process on
 * the backend may), builds the body, signs and sends it, and says what
 * happened in the job's log ("jetq" lines) and the process's. What to do
 * after a failure is the policy's (policy.ts).
 */
import type { Logger } from "pino";
import { isEngineError } from "../engine/errors.js";
import type { Engine, LogLevel } from "../engine/types.js";
import type { PendingWebhook } from "../engine/webhook-outbox.js";
import type { HostAllowed } from "./address-policy.js";
import { webhookBody } from "./job-json.js";
import { afterWebhookFailure, type WebhookPolicy } from "./policy.js";
import { sendWebhook, type SendResult } from "./sender.js";
import { signWebhook } from "./signing.js";

export interface DelivererOptions {
  engine: Engine;
  key: Buffer;
  allowed: HostAllowed;
  policy: WebhookPolicy;
  logger?: Logger;
  /** Deliveries in flight at once. */
  concurrency?: number;
}

/**
 * How long one take waits for a task. Short: nats-server 2.9 may hand a
 * task to a pull of a process that just died, and the task then waits the
 * outbox's ack wait; a pull that ends within a second cannot take a retry
 * due later than that.
 */
const TAKE_WAIT_MS = 1_000;
/** The pause after the outbox failed. */
const PAUSE_AFTER_ERROR_MS = 1_000;

export function startDeliverer(o: DelivererOptions): { stop(): Promise<void> } {
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      let batch: PendingWebhook[];
      try {
        batch = await o.engine.webhooks.take(o.concurrency ?? 16, TAKE_WAIT_MS, stopping.signal);
      } catch (err) {
        o.logger?.warn({ err }, "webhook: could not take deliveries; trying again");
        await pause(PAUSE_AFTER_ERROR_MS, stopping.signal);
        continue;
      }
      // A step that failed (the outbox unreachable) leaves the task unsettled: it comes back after the outbox's lease.
      await Promise.all(
        batch.map((p) =>
          deliver(o, p).catch((err: unknown) => {
            o.logger?.warn({ err, id: p.task.jobId }, "webhook: a delivery step failed; the task will be taken again");
          }),
        ),
      );
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function deliver(o: DelivererOptions, p: PendingWebhook): Promise<void> {
  const { task, attempt } = p;
  let body: string;
  try {
    body = await webhookBody(o.engine, task.jobId);
  } catch (err) {
    if (isEngineError(err, "not_found")) {
      o.logger?.warn({ id: task.jobId }, `webhook: job ${task.jobId} is gone (retention); its webhook is dropped`);
      return p.done();
    }
    return failed(o, p, `could not read the job: ${(err as Error).message}`);
  }
  const headers = signWebhook(o.key, task.webhookId, Math.floor(Date.now() / 1000), body);
  const result = await sendWebhook(task.url, body, { timeoutMs: o.policy.timeoutMs, allowed: o.allowed, headers });
  if ("status" in result && result.status >= 200 && result.status < 300) {
    await p.done();
    o.logger?.debug({ id: task.jobId, attempt, status: result.status }, "webhook delivered");
    return note(o, task.jobId, "info", `webhook delivered (${result.status}) attempt ${attempt}`);
  }
  if ("refused" in result && result.refused) {
    // Where it points will not change by waiting: refused once, for good.
    await p.done();
    o.logger?.warn({ id: task.jobId, url: task.url }, `webhook refused: ${result.error}`);
    return note(o, task.jobId, "warn", `webhook refused: ${result.error}`);
  }
  return failed(o, p, whyOf(result));
}

const whyOf = (r: SendResult) => ("status" in r ? String(r.status) : r.error);

async function failed(o: DelivererOptions, p: PendingWebhook, why: string): Promise<void> {
  const { task, attempt } = p;
  const next = afterWebhookFailure(attempt, task.endedAt, o.policy);
  if (next.retry) {
    await p.retry(next.delayMs);
    // The job's line first: the process's line then says both are written.
    const line = `webhook attempt ${attempt} failed: ${why}, retrying in ${seconds(next.delayMs)}`;
    await note(o, task.jobId, "warn", line);
    o.logger?.info({ id: task.jobId, attempt, delayMs: next.delayMs }, `webhook attempt ${attempt} failed: ${why}`);
    return;
  }
  await p.done();
  o.logger?.warn({ id: task.jobId, attempt, url: task.url }, `webhook attempt ${attempt} failed: ${why}; giving up`);
  return note(o, task.jobId, "error", `webhook attempt ${attempt} failed: ${why}; giving up`);
}

const seconds = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${ms} ms`);

/** A line in the job's log: best effort, like every log line. */
async function note(o: DelivererOptions, id: string, level: LogLevel, message: string): Promise<void> {
  await o.engine.appendLog(id, { message, level, source: "jetq", timestamp: Date.now() }).catch((err: unknown) => {
    o.logger?.debug({ err, id }, "webhook: could not add the line to the job's log");
  });
}
