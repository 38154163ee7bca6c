/**
 * One delivery of a job message from the `workers` consumer, with the ack
 * protocol spoken directly on its reply subject. The final ack is a plain
 * publish: it is sent after the conditional record that decides the job's
 * outcome, so a lost ack only redelivers a job whose next delivery finds
 * that record and settles. Naks stay requests (the server confirms), so a
 * retry's redelivery is scheduled when fail()/release() resolve. Queue
 * counts read right after an ack may lag it by the server's processing
 * (they are cached a few hundred ms anyway).
 */
import { nanos, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";

export interface Delivery {
  /** The stream the message is in (a queue has one per priority level in use). */
  readonly stream: string;
  readonly streamSeq: number;
  readonly deliveryCount: number;
  readonly headers: MsgHdrs | undefined;
  readonly data: Uint8Array;
  /** Removes the message (the job is settled). */
  ack(): Promise<void>;
  /** Redeliver after delayMs (0 = now). */
  nak(delayMs?: number): Promise<void>;
  /** Restarts the ack_wait timer. */
  working(): void;
}

export function parseAckSubject(
  reply: string,
): { stream: string; deliveryCount: number; streamSeq: number } | undefined {
  const t = reply.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
  // v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>]
  const base = t.length === 9 ? 4 : 6;
  const deliveryCount = Number(t[base]);
  const streamSeq = Number(t[base + 1]);
  if (!Number.isFinite(deliveryCount) || !Number.isFinite(streamSeq)) return undefined;
  return { stream: t[base - 2]!, deliveryCount, streamSeq };
}

export function toDelivery(nc: NatsConnection, msg: Msg, timeoutMs: number): Delivery | undefined {
  const reply = msg.reply;
  if (!reply) return undefined;
  const info = parseAckSubject(reply);
  if (!info) return undefined;
  const settle = async (body: string) => {
    if (nc.isClosed()) return;
    try {
      await nc.request(reply, body, { timeout: timeoutMs });
    } catch {
      // Lost ack: the message is redelivered after ack_wait and the next
      // delivery finds the terminal record, so nothing is lost.
    }
  };
  return {
    stream: info.stream,
    streamSeq: info.streamSeq,
    deliveryCount: info.deliveryCount,
    headers: msg.headers,
    data: msg.data,
    ack: async () => {
      if (nc.isClosed()) return;
      try {
        nc.publish(reply, "+ACK");
      } catch {
        // As a lost ack: redelivered after ack_wait, settled by the record.
      }
    },
    nak: (delayMs = 0) =>
      settle(delayMs > 0 ? `-NAK ${JSON.stringify({ delay: nanos(Math.round(delayMs)) })}` : "-NAK"),
    working() {
      if (!nc.isClosed()) nc.publish(reply, "+WPI");
    },
  };
}
