/**
 * Pending webhook deliveries on JetStream (../webhook-outbox.ts): one
 * message per task in the work-queue stream JETQ_WEBHOOKS, taken through
 * the durable pull consumer `deliverers` by any process that delivers. A
 * retry is a nak with a delay, so a task waits in the stream, not in a
 * process, and survives restarts; the attempt is the delivery count (a
 * deliverer that died holding a task counts an attempt). The message id is
 * the webhook id, so the stream drops a task enqueued twice within its
 * duplicate window.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { PendingWebhook, WebhookOutbox, WebhookTask } from "../webhook-outbox.js";
import type { Connected } from "./connect.js";
import { isConsumerNotFound } from "./errors.js";
import { WEBHOOKS_CONSUMER, WEBHOOKS_STREAM, WEBHOOKS_SUBJECT } from "./layout.js";
import { pullBatch } from "./pull.js";
import type { Delivery } from "./delivery.js";
import { ensureStream, type LayoutOptions } from "./setup.js";

/** Longer than a delivery can take (the sender's 10 s timeout and a DNS lookup). */
const ACK_WAIT_MS = 60_000;

export function createNatsWebhookOutbox(conn: Pick<Connected, "nc" | "js" | "jsm">, o: LayoutOptions): WebhookOutbox {
  let ready: Promise<void> | undefined;
  const ensure = () => {
    ready ??= ensureWebhookLayout(conn.jsm, o).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  const decoder = new TextDecoder();
  const pending = (d: Delivery): PendingWebhook | undefined => {
    let task: WebhookTask;
    try {
      task = JSON.parse(decoder.decode(d.data)) as WebhookTask;
    } catch {
      void d.ack(); // not a task: nothing could ever deliver it
      return undefined;
    }
    return { task, attempt: d.deliveryCount, done: () => d.ack(), retry: (delayMs) => d.nak(delayMs) };
  };
  return {
    async enqueue(task) {
      await ensure();
      await conn.js.publish(WEBHOOKS_SUBJECT, JSON.stringify(task), {
        msgID: task.webhookId,
        timeout: o.requestTimeoutMs,
      });
    },
    async take(max, expiresMs, signal) {
      await ensure();
      const batch = await pullBatch(conn.nc, {
        stream: WEBHOOKS_STREAM,
        consumer: WEBHOOKS_CONSUMER,
        batch: max,
        expiresMs,
        ...(signal ? { signal } : {}),
        ackTimeoutMs: o.requestTimeoutMs,
        // Arrived after the caller stopped waiting: back to the stream at once.
        onLate: (d) => void d.nak(),
      });
      return batch.flatMap((d) => pending(d) ?? []);
    },
  };
}

async function ensureWebhookLayout(jsm: Connected["jsm"], o: LayoutOptions): Promise<void> {
  await ensureStream(jsm, {
    name: WEBHOOKS_STREAM,
    subjects: [WEBHOOKS_SUBJECT],
    retention: RetentionPolicy.Workqueue,
    // A task outliving the job's record could only find it gone.
    max_age: nanos(o.retentionMs),
    storage: o.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: o.replicas,
    discard: DiscardPolicy.Old,
  });
  try {
    await jsm.consumers.info(WEBHOOKS_STREAM, WEBHOOKS_CONSUMER);
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
    try {
      await jsm.consumers.add(WEBHOOKS_STREAM, {
        durable_name: WEBHOOKS_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(ACK_WAIT_MS),
        // Retries and giving up are decided by the sender's policy, not by the server.
        max_deliver: -1,
        max_waiting: 512,
      });
    } catch (addErr) {
      await jsm.consumers.info(WEBHOOKS_STREAM, WEBHOOKS_CONSUMER).catch(() => {
        throw addErr;
      });
    }
  }
}
