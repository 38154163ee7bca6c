/**
 * The engine's one NATS connection: reconnects forever (a queue service must
 * outlive NATS restarts), while every request carries a bounded timeout so no
 * call hangs while NATS is away: it fails UNAVAILABLE and the client retries.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { unavailable } from "../errors.js";
import { adaptConnection, flushWrites } from "./nats-adapter.js";

export interface ConnectionOptions {
  servers: string | string[];
  name?: string;
  requestTimeoutMs: number;
}

export async function openConnection(o: ConnectionOptions): Promise<NatsConnection> {
  const servers = Array.isArray(o.servers)
    ? o.servers
    : o.servers
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
  try {
    const nc = await connect({
      servers,
      name: o.name ?? "jetq",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: o.requestTimeoutMs,
      // Notice a dead server within seconds, not minutes.
      pingInterval: 5_000,
      maxPingOut: 2,
      // Otherwise every request builds an Error up front, only for the stack
      // trace of a failure that rarely comes.
      noAsyncTraces: true,
      // Every process dispatches what it publishes (events, cancel signals)
      // to its own listeners at once: the server's copy back would be parsed
      // only to be dropped, two messages in per job (events.ts, cancel-signals.ts).
      noEcho: true,
    });
    adaptConnection(nc);
    return nc;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw unavailable(`NATS unreachable at ${servers.join(",")}: ${detail}; retry`, err);
  }
}

/**
 * Closes nc once the server has read what was published on it: nats.js's
 * close() drops writes not yet on the socket (the last acks and events). The
 * round trip is bounded: a server that is away must not hold up a shutdown.
 */
export async function closeConnection(nc: NatsConnection, timeoutMs: number): Promise<void> {
  if (nc.isClosed()) return;
  flushWrites(nc);
  await serverBarrier(nc, timeoutMs).catch(() => undefined);
  await nc.close().catch(() => undefined);
}

/** Calls onReconnect each time the connection comes back, until it closes. */
export function watchReconnects(nc: NatsConnection, onReconnect: () => void): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "reconnect") onReconnect();
    }
  })().catch(() => undefined);
}

export interface Link {
  /**
   * Throws UNAVAILABLE while the connection is down: the NATS client drops
   * what is published while it reconnects, so a request made now could only
   * wait out its whole timeout. Failing at once lets the caller retry as soon
   * as the link is back (a restarted server, another node of a cluster).
   */
  assertConnected(what?: string): void;
  /**
   * p, or UNAVAILABLE as soon as the connection drops while p is pending: the
   * reply of a request sent over the lost connection cannot come any more,
   * so the caller hears it at once rather than at the request's timeout.
   */
  whileConnected<T>(p: Promise<T>, what?: string): Promise<T>;
}

export function watchLink(nc: NatsConnection): Link {
  let down = false;
  const pending = new Set<() => void>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        down = true;
        for (const lost of [...pending]) lost();
      } else if (s.type === "reconnect") down = false;
    }
  })().catch(() => undefined);
  const lostError = (what?: string) =>
    unavailable(`NATS unreachable (reconnecting)${what ? `: ${what} failed` : ""}; retry`);
  return {
    assertConnected(what) {
      if (!down || nc.isClosed()) return;
      throw lostError(what);
    },
    whileConnected(p, what) {
      return new Promise((resolve, reject) => {
        const lost = () => {
          pending.delete(lost);
          reject(lostError(what));
        };
        pending.add(lost);
        p.then(
          (v) => {
            pending.delete(lost);
            resolve(v);
          },
          (err: unknown) => {
            pending.delete(lost);
            reject(err);
          },
        );
      });
    },
  };
}

/**
 * Resolves once the server answered a PING sent after this call: every
 * message the server handed this connection before it read that PING has
 * been dispatched to our subscriptions by then (one TCP stream, in order).
 * Far cheaper than a request: no JetStream, no store, no reply subject.
 */
export function serverBarrier(nc: NatsConnection, timeoutMs: number): Promise<void> {
  const pong = nc.flush().catch((err: unknown) => {
    throw unavailable(`NATS connection lost; retry`, err);
  });
  return withinTimeout(pong, timeoutMs, () => unavailable(`NATS did not answer a ping within ${timeoutMs} ms; retry`));
}

/** p, or the error of onTimeout once timeoutMs have passed without p settling. */
export function withinTimeout<T>(p: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
