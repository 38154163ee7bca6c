/**
 * Pending webhook deliveries on JetStream (../webhook-outbox.ts): one
 * message per task in the work-queue stream JETQ_WEBHOOKS, taken through
 * the durable pull consumer `deliverers` by any process that delivers. A
 * retry publishes the task again with the next attempt's number and the
 * time it is due, then acks the old message; a task taken before it is due
 * is naked with the rest of the delay. So a task waits in the stream, not
 * in a process, and survives restarts, and its attempt number is in the
 * message: nats-server 2.9's delivery count can restart at 1 after a nak
 * (a deliverer that dies holding a task redoes that attempt after the ack
 * wait). Message ids (webhook id and attempt) make the stream drop a task
 * published twice within its duplicate window.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { PendingWebhook, WebhookOutbox, WebhookTask } from "../webhook-outbox.js";
import type { Connected } from "./connect.js";
import { isConsumerNotFound } from "./errors.js";
import { WEBHOOKS_CONSUMER, WEBHOOKS_STREAM, WEBHOOKS_SUBJECT } from "./layout.js";
import { pullBatch } from "./pull.js";
import type { Delivery } from "./delivery.js";
import { ensureMaxAge, ensureStream, type LayoutOptions } from "./setup.js";

/** Longer than a delivery can take (the sender's 10 s timeout and a DNS lookup). */
const ACK_WAIT_MS = 60_000;

/** A task as stored: with its attempt's number and when it is due (epoch ms). */
interface StoredTask extends WebhookTask {
  attempt?: number;
  dueAt?: number;
}

export function createNatsWebhookOutbox(
  conn: Pick<Connected, "nc" | "js" | "jsm">,
  o: LayoutOptions,
  logger?: Logger,
): WebhookOutbox {
  let ready: Promise<void> | undefined;
  const ensure = () => {
    ready ??= ensureWebhookLayout(conn.jsm, o).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  const decoder = new TextDecoder();
  const publish = async (stored: StoredTask) => {
    await ensure();
    await conn.js.publish(WEBHOOKS_SUBJECT, JSON.stringify(stored), {
      msgID: `${stored.webhookId}#${stored.attempt ?? 1}`,
      timeout: o.requestTimeoutMs,
    });
  };
  const pending = (d: Delivery): PendingWebhook | undefined => {
    let stored: StoredTask;
    try {
      stored = JSON.parse(decoder.decode(d.data)) as StoredTask;
    } catch {
      void d.ack(); // not a task: nothing could ever deliver it
      return undefined;
    }
    const wait = (stored.dueAt ?? 0) - Date.now();
    if (wait > 0) {
      // A retry not due yet: back to the stream for the rest of its delay.
      void d
        .nak(wait)
        .then(() => logger?.debug({ webhookId: stored.webhookId, waitMs: wait }, "webhook task not due yet"));
      return undefined;
    }
    const { attempt = 1, dueAt: _dueAt, ...task } = stored;
    return {
      task,
      attempt,
      done: () => d.ack(),
      retry: async (delayMs) => {
        await publish({ ...task, attempt: attempt + 1, dueAt: Date.now() + delayMs });
        await d.ack();
      },
    };
  };
  return {
    enqueue: (task) => publish(task),
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
  await ensureMaxAge(jsm, WEBHOOKS_STREAM, o.retentionMs);
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
