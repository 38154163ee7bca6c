/**
 * Pending webhook deliveries (src/webhooks/, docs/ARCHITECTURE.md §8): a
 * small durable queue with delayed redelivery, one per backend. The
 * JetStream driver keeps it in the work-queue stream JETQ_WEBHOOKS (any
 * process may deliver, and a restart loses nothing); the embedded one in
 * memory. What to send, when to retry and when to give up is decided once,
 * above the engine (src/webhooks/policy.ts); a store only keeps tasks.
 */

/** One delivery to make: which job's end, to where. The body is built when sent. */
export interface WebhookTask {
  /** The Standard Webhooks message id: the same on every attempt. */
  webhookId: string;
  jobId: string;
  url: string;
  /** When the job ended (epoch ms): retries stop a while after it. */
  endedAt: number;
}

/** A task handed to a deliverer: exactly one of done() or retry(). */
export interface PendingWebhook {
  readonly task: WebhookTask;
  /** This attempt's number, from 1 (a deliverer that died holding it may leave it to be redone). */
  readonly attempt: number;
  /** Delivered or given up: the task is gone. */
  done(): Promise<void>;
  /** Hand it back, to be taken again after delayMs. */
  retry(delayMs: number): Promise<void>;
}

export interface WebhookOutbox {
  /** Stores a task, to be taken at once. */
  enqueue(task: WebhookTask): Promise<void>;
  /** Up to max due tasks, waiting at most expiresMs for the first; [] when the signal aborts. */
  take(max: number, expiresMs: number, signal?: AbortSignal): Promise<PendingWebhook[]>;
}
