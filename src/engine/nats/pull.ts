/**
 * One pull request on a durable consumer: `no_wait` with `expires` makes the
 * server (2.9+) wait up to expires for the first message and then return at
 * once with whatever is there (up to batch), so a worker with free slots never
 * waits for a full batch, and never holds more than it asked for.
 */
import { createInbox, nanos, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { toDelivery, type Delivery } from "./delivery.js";

export interface PullRequest {
  stream: string;
  consumer: string;
  batch: number;
  expiresMs: number;
  signal?: AbortSignal;
  /** JetStream API prefix. */
  prefix?: string;
  /** Timeout of the settling acks of the deliveries. */
  ackTimeoutMs?: number;
  /**
   * Receives messages that arrive after the call resolved (it was aborted,
   * or the server's end-of-request status got lost).
   */
  onLate?: (msg: Msg) => void;
  /**
   * Receives, when the call resolves, a promise that settles once the server
   * can no longer deliver to this request (it said so, or it expired): the
   * engine waits for these before closing its connection.
   */
  onOutstanding?: (serverOver: Promise<void>) => void;
  /**
   * Take only what is there now: a plain `no_wait` (no expires), which the
   * server answers at once and never holds (priority-pull.ts: the pass over
   * the levels, highest first).
   */
  immediate?: boolean;
  /**
   * On abort, drop the request at once instead of listening until it
   * expires: the subscription is drained (UNSUB, then a flush, delivering
   * what was already on its way to onLate), and the server skips a waiting
   * request whose reply subject has no interest left, so no later message
   * is handed to it (priority-pull.ts: the levels that lost the wait).
   */
  releaseOnAbort?: boolean;
}

/**
 * The server keeps the request this much longer than the caller waits.
 * nats-server 2.9 can lose (or miscount) a delivery that coincides with a
 * request's expiry; expiring later than the caller's wait moves that moment
 * away from the timers callers align with (ack_wait = fetch wait in tests),
 * and a message arriving in the extra time goes to onLate, not into a void.
 */
const SERVER_EXTRA_MS = 250;
/** How long an abandoned request is still listened to past its server expiry. */
const LINGER_MS = 2_000;

export async function pullBatch(
  nc: NatsConnection,
  req: Omit<PullRequest, "onLate"> & { onLate?: (d: Delivery) => void },
): Promise<Delivery[]> {
  const { onLate, ...rest } = req;
  const msgs = await pullMessages(nc, {
    ...rest,
    ...(onLate
      ? {
          onLate: (msg: Msg) => {
            const d = toDelivery(nc, msg, req.ackTimeoutMs ?? 5_000);
            if (d) onLate(d);
          },
        }
      : {}),
  });
  const out: Delivery[] = [];
  for (const msg of msgs) {
    const d = toDelivery(nc, msg, req.ackTimeoutMs ?? 5_000);
    if (d) out.push(d);
  }
  return out;
}

/** The raw messages of one pull request (status messages left out). */
export async function pullMessages(nc: NatsConnection, req: PullRequest): Promise<Msg[]> {
  const out: Msg[] = [];
  if (req.batch <= 0 || req.signal?.aborted) return out;
  const inbox = createInbox();
  const expiresMs = Math.max(1, Math.floor(req.expiresMs));
  const startedAt = Date.now();
  let serverOver!: () => void;
  const serverOverP = new Promise<void>((r) => (serverOver = r));
  return new Promise<Msg[]>((resolve, reject) => {
    let done = false;
    let over = false;
    let linger: ReturnType<typeof setTimeout> | undefined;
    let expiry: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      over = true;
      clearTimeout(linger);
      clearTimeout(expiry);
      serverOver();
      if (!nc.isClosed() && !sub.isClosed()) sub.unsubscribe();
    };
    /**
     * serverDone: the server said the request is over (status, or batch full),
     * so nothing more can come. Otherwise (abort, our own timer) the server may
     * still hold the request: keep listening a while and hand late messages to
     * onLate, so none is delivered into a void and burns an attempt.
     */
    const finish = (serverDone: boolean, err?: unknown) => {
      if (done) {
        if (serverDone) end();
        return;
      }
      done = true;
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      if (serverDone || !req.onLate) end();
      else if (req.releaseOnAbort && !nc.isClosed()) {
        req.onOutstanding?.(serverOverP);
        sub.drain().then(end, end);
      } else {
        const untilExpiry = Math.max(0, startedAt + expiresMs + SERVER_EXTRA_MS - Date.now());
        linger = setTimeout(end, untilExpiry + LINGER_MS);
        linger.unref();
        expiry = setTimeout(serverOver, untilExpiry + 50);
        expiry.unref();
        req.onOutstanding?.(serverOverP);
      }
      if (err && out.length === 0) reject(err);
      else resolve(out);
    };
    const onAbort = () => finish(false);
    const sub = nc.subscribe(inbox, {
      callback: (err, msg: Msg) => {
        if (over) return;
        if (err) return finish(true, err);
        const code = msg.headers?.code ?? 0;
        if (code !== 0) {
          // 404 no messages, 408 request expired, 409 consumer gone/limits: the pull is over.
          if (code === 409 && out.length === 0 && !done) {
            return finish(
              true,
              new Error(`pull from ${req.stream}/${req.consumer} failed: ${msg.headers?.description ?? code}`),
            );
          }
          return finish(true);
        }
        if (done) {
          req.onLate?.(msg);
          return;
        }
        out.push(msg);
        if (out.length >= req.batch) finish(true);
      },
    });
    // An immediate pull ends with the server's answer; wait for it as for any request.
    const clientWaitMs = req.immediate
      ? (req.ackTimeoutMs ?? 5_000)
      : req.onLate
        ? expiresMs
        : expiresMs + SERVER_EXTRA_MS + LINGER_MS;
    const timer = setTimeout(() => finish(false), clientWaitMs);
    req.signal?.addEventListener("abort", onAbort, { once: true });
    const subject = `${req.prefix ?? "$JS.API"}.CONSUMER.MSG.NEXT.${req.stream}.${req.consumer}`;
    const body = req.immediate
      ? { batch: req.batch, no_wait: true }
      : { batch: req.batch, expires: nanos(expiresMs + SERVER_EXTRA_MS), no_wait: true };
    nc.publish(subject, JSON.stringify(body), { reply: inbox });
  });
}
