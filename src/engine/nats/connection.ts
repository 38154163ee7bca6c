/**
 * The engine's one NATS connection: reconnects forever (a queue service must
 * outlive NATS restarts), while every request carries a bounded timeout so no
 * call hangs while NATS is away: it fails UNAVAILABLE and the client retries.
 */
import { connect, RequestOne, type NatsConnection } from "@nats-io/transport-node";
import { unavailable } from "../errors.js";

/** The parts of nats.js's ProtocolHandler that write coalescing touches. */
interface Protocol {
  flushPending(): void;
  outbound: { size(): number };
  pendingLimit: number;
}

const flushers = new WeakMap<NatsConnection, () => void>();

/**
 * nats.js writes to the socket once per microtask flush: every publish or
 * request made in a separate callback (each HTTP request, each reply from
 * NATS) costs one socket write, a system call each (12% of the jetq process
 * in the bench profile). Deferring the flush to setImmediate sends all that
 * an event-loop turn produced in one write; it still goes out in the same
 * turn (the check phase follows the poll phase). A buffer past nats.js's own
 * limit is still written at once.
 */
function coalesceWrites(nc: NatsConnection): void {
  const protocol = (nc as unknown as { protocol?: Partial<Protocol> }).protocol;
  if (
    !protocol ||
    typeof protocol.flushPending !== "function" ||
    typeof protocol.outbound?.size !== "function" ||
    typeof protocol.pendingLimit !== "number"
  ) {
    return; // another nats.js layout: keep its own flushing
  }
  const p = protocol as Protocol;
  const flushNow = p.flushPending.bind(p);
  let scheduled: ReturnType<typeof setImmediate> | undefined;
  const run = () => {
    scheduled = undefined;
    flushNow();
  };
  p.flushPending = () => {
    if (p.outbound.size() >= p.pendingLimit) {
      if (scheduled) clearImmediate(scheduled);
      run();
      return;
    }
    scheduled ??= setImmediate(run);
  };
  flushers.set(nc, () => {
    if (scheduled) {
      clearImmediate(scheduled);
      run();
    }
  });
}

/** Writes what is buffered for the connection now (before closing it). */
export function flushWrites(nc: NatsConnection): void {
  flushers.get(nc)?.();
}

/**
 * nats.js ends every request by cancelling it, and cancel() builds a
 * RequestError("cancelled") (stack capture included) to reject a promise
 * that a reply already resolved: a no-op costing ~4% of the jetq process's
 * CPU. After a reply the request only needs its timer and mux entry gone.
 */
let requestsPatched = false;
function patchRequestCancel(): void {
  if (requestsPatched) return;
  requestsPatched = true;
  const proto = RequestOne.prototype as unknown as {
    resolver(this: RequestOne, err: Error | null, msg: unknown): void;
  };
  const original = proto.resolver;
  const shape = RequestOne.prototype as unknown as Record<string, unknown>;
  if (typeof original !== "function" || typeof shape.cancel !== "function") return;
  proto.resolver = function (this: RequestOne, err, msg) {
    const self = this as unknown as {
      timer?: { cancel(): void };
      deferred?: { resolve(v: unknown): void };
      mux?: { cancel(r: unknown): void };
    };
    if (err || !self.deferred || !self.mux) return original.call(this, err, msg);
    self.timer?.cancel();
    self.deferred.resolve(msg);
    self.mux.cancel(this);
  };
}

export interface ConnectionOptions {
  servers: string | string[];
  name?: string;
  requestTimeoutMs: number;
}

export async function openConnection(o: ConnectionOptions): Promise<NatsConnection> {
  const servers = Array.isArray(o.servers)
    ? o.servers
    : o.servers.split(",").map((s) => s.trim()).filter(Boolean);
  patchRequestCancel();
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
      // Each request otherwise builds an Error just in case, for its stack
      // trace: about 12% of the API process's CPU per job (bench profile).
      noAsyncTraces: true,
      // Every process dispatches what it publishes (events, cancel signals)
      // to its own listeners at once: the server's copy back would be parsed
      // only to be dropped, two messages in per job (events.ts, cancel-signals.ts).
      noEcho: true,
    });
    coalesceWrites(nc);
    return nc;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw unavailable(`NATS unreachable at ${servers.join(",")}: ${detail}; retry`, err);
  }
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
