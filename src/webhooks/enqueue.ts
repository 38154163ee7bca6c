/**
 * Who enqueues a webhook: the process whose write ended the job, told by
 * the engine's job events (../engine/job-events.ts): the API process for a
 * cancel, the worker's for an outcome, either for an expiry. The URL is the
 * job's own, else its queue's default. A crash between the terminal write
 * and this enqueue loses the webhook (docs/ARCHITECTURE.md §9).
 */
import type { Logger } from "pino";
import type { FinishedEvent } from "../engine/job-events.js";
import type { Engine } from "../engine/types.js";

/** Stable per job and terminal state: retries and a second enqueue carry the same id. */
export function webhookIdOf(jobId: string, state: FinishedEvent["state"]): string {
  return `msg_${jobId}_${state.toLowerCase()}`;
}

/** Observes the engine's terminal events and enqueues their webhooks; returns the unsubscribe. */
export function enqueueWebhooks(engine: Engine, logger?: Logger): () => void {
  return engine.observe((event) => {
    if (event.kind === "finished") void enqueueFor(engine, event, logger);
  });
}

async function enqueueFor(engine: Engine, event: FinishedEvent, logger?: Logger): Promise<void> {
  try {
    const url = event.options?.webhookUrl ?? (await engine.queueConfig(event.queue)).webhookUrl;
    if (!url) return;
    await engine.webhooks.enqueue({
      webhookId: webhookIdOf(event.id, event.state),
      jobId: event.id,
      url,
      endedAt: event.finishedAt,
    });
  } catch (err) {
    logger?.warn({ err, id: event.id }, `webhook: could not enqueue the webhook of job ${event.id}; it is not sent`);
  }
}
