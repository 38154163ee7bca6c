import { invalidArgument } from "./errors.js";

/** Queue names become NATS subjects and stream names: nothing else may pass. */
export const QUEUE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function assertQueueName(queue: string, field = "queue"): void {
  if (!QUEUE_NAME_PATTERN.test(queue)) {
    const shown = JSON.stringify(queue.length > 80 ? `${queue.slice(0, 80)}…` : queue);
    throw invalidArgument(
      `${field}: ${shown} is not a valid queue name: use 1 to 64 characters of a-z, 0-9, "_" and "-", starting with a letter or digit`,
    );
  }
}
