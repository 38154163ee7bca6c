/**
 * One delivery of a job message from the `workers` consumer, with the ack
 * protocol spoken directly on its reply subject. Settling acks are requests
 * (the server confirms), so a job's queue counts are right the moment
 * complete()/fail() resolve.
 */
import { nanos, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";

export interface Delivery {
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

export function parseAckSubject(reply: string): { deliveryCount: number; streamSeq: number } | undefined {
  const t = reply.split(".");
  if (t[0] !== "$JS" || t[1] !== "ACK") return undefined;
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
  // v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>]
  const base = t.length === 9 ? 4 : 6;
  const deliveryCount = Number(t[base]);
  const streamSeq = Number(t[base + 1]);
  if (!Number.isFinite(deliveryCount) || !Number.isFinite(streamSeq)) return undefined;
  return { deliveryCount, streamSeq };
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
    streamSeq: info.streamSeq,
    deliveryCount: info.deliveryCount,
    headers: msg.headers,
    data: msg.data,
    ack: () => settle("+ACK"),
    nak: (delayMs = 0) =>
      settle(delayMs > 0 ? `-NAK ${JSON.stringify({ delay: nanos(Math.round(delayMs)) })}` : "-NAK"),
    working() {
      if (!nc.isClosed()) nc.publish(reply, "+WPI");
    },
  };
}
