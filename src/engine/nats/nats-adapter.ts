/**
 * The one place jetq works around nats.js, on jetq's own connection and
 * never for the process: other connections and libraries get nats.js as it
 * ships. docs/ARCHITECTURE.md §9 says why; test/engine/nats-adapter.nats.test.ts
 * fails if the pinned nats.js no longer fits a workaround.
 */
import {
  createInbox,
  errors,
  type Msg,
  type NatsConnection,
  type Payload,
  type RequestOptions,
} from "@nats-io/transport-node";

export interface AdapterState {
  /** Socket writes are deferred to the end of the event-loop turn. */
  writeCoalescing: boolean;
  /** nc.request() goes through jetq's reply mux. */
  requestMux: boolean;
  /** Where the mux's replies arrive (`<inbox>.`), when it is installed. */
  replyPrefix?: string;
}

const state = new WeakMap<NatsConnection, AdapterState>();
const flushers = new WeakMap<NatsConnection, () => void>();

/** Installs both workarounds on nc; a missing shape leaves that part as nats.js ships it. */
export function adaptConnection(nc: NatsConnection): AdapterState {
  const replyPrefix = muxRequests(nc);
  const installed: AdapterState = {
    writeCoalescing: coalesceWrites(nc),
    requestMux: replyPrefix !== undefined,
    ...(replyPrefix ? { replyPrefix } : {}),
  };
  state.set(nc, installed);
  return installed;
}

/** What adaptConnection installed on nc (both false for a connection it never saw). */
export function adapterState(nc: NatsConnection): AdapterState {
  return state.get(nc) ?? { writeCoalescing: false, requestMux: false };
}

/** Writes what is buffered for the connection now (before closing it). */
export function flushWrites(nc: NatsConnection): void {
  flushers.get(nc)?.();
}

/** The private part of nats.js's ProtocolHandler that write coalescing relies on. */
interface Protocol {
  flushPending(): void;
  outbound: { size(): number };
  pendingLimit: number;
}

function protocolOf(nc: NatsConnection): Protocol | undefined {
  const p = (nc as unknown as { protocol?: Partial<Protocol> }).protocol;
  const fits =
    typeof p?.flushPending === "function" &&
    typeof p.outbound?.size === "function" &&
    typeof p.pendingLimit === "number";
  return fits ? (p as Protocol) : undefined;
}

/**
 * nats.js writes to the socket at the end of each microtask run, so every
 * publish made in its own callback (each HTTP request, each reply from NATS)
 * is its own write system call. Flushing at setImmediate sends what one
 * event-loop turn produced in one write, still within that turn (the check
 * phase follows the poll phase). A buffer past nats.js's limit goes at once.
 */
export function coalesceWrites(nc: NatsConnection): boolean {
  const p = protocolOf(nc);
  if (!p) return false;
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
  return true;
}

interface Pending {
  subject: string;
  resolve(msg: Msg): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * nats.js ends every request, answered or not, by rejecting its settled
 * promise with a new RequestError("cancelled"), a stack capture nothing
 * observes, on top of a timeout promise and a race per request. Requests on
 * nc (jetq's, and those the JetStream, KV and object-store clients make over
 * it) go through this mux instead: public subscribe/publish only, failing
 * with the errors nats.js's request() fails with. Requests with their own
 * reply subject or trace options keep nats.js's path. Returns the mux's
 * reply prefix, or undefined when nc's request() was already replaced.
 */
export function muxRequests(nc: NatsConnection): string | undefined {
  const shipped = nc.request;
  if (typeof shipped !== "function" || Object.hasOwn(nc, "request")) return undefined;
  const base = `${createInbox()}.`;
  const pending = new Map<string, Pending>();
  let next = 0;
  const sub = nc.subscribe(`${base}*`, {
    callback: (err, msg) => {
      if (err) return failAll(new errors.RequestError(err.message, { cause: err }));
      const r = pending.get(msg.subject.slice(base.length));
      if (!r) return;
      settle(msg.subject.slice(base.length), r);
      if (msg.data.length === 0 && msg.headers?.code === 503) {
        const cause = new errors.NoRespondersError(r.subject);
        r.reject(new errors.RequestError(cause.message, { cause }));
      } else r.resolve(msg);
    },
  });
  const settle = (token: string, r: Pending) => {
    clearTimeout(r.timer);
    pending.delete(token);
  };
  const failAll = (err: Error) => {
    for (const [token, r] of pending) {
      settle(token, r);
      r.reject(err);
    }
  };
  void sub.closed.then(() => failAll(new errors.RequestError("connection closed")));
  const request = (subject: string, payload?: Payload, opts: RequestOptions = { timeout: 1_000 }): Promise<Msg> => {
    if (opts.noMux || opts.reply || opts.traceDestination || opts.traceOnly || sub.isClosed())
      return shipped.call(nc, subject, payload, opts);
    const timeout = opts.timeout || 1_000;
    if (timeout < 1) return Promise.reject(errors.InvalidArgumentError.format("timeout", "must be greater than 0"));
    if (nc.isDraining()) return Promise.reject(new errors.DrainingConnectionError());
    const token = (next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const r: Pending = { subject, resolve, reject, timer: undefined as never };
      r.timer = setTimeout(() => {
        settle(token, r);
        reject(new errors.TimeoutError());
      }, timeout);
      pending.set(token, r);
      try {
        nc.publish(subject, payload, { reply: base + token, headers: opts.headers });
      } catch (err) {
        settle(token, r);
        reject(err as Error);
      }
    });
  };
  Object.defineProperty(nc, "request", { value: request, configurable: true, writable: true });
  return base;
}
