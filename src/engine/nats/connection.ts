/**
 * The engine's one NATS connection: reconnects forever (a queue service must
 * outlive NATS restarts), while every request carries a bounded timeout so no
 * call hangs while NATS is away: it fails UNAVAILABLE and the client retries.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { unavailable } from "../errors.js";

export interface ConnectionOptions {
  servers: string | string[];
  name?: string;
  requestTimeoutMs: number;
}

export async function openConnection(o: ConnectionOptions): Promise<NatsConnection> {
  const servers = Array.isArray(o.servers)
    ? o.servers
    : o.servers.split(",").map((s) => s.trim()).filter(Boolean);
  try {
    return await connect({
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
    });
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
}

export function watchLink(nc: NatsConnection): Link {
  let down = false;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") down = true;
      else if (s.type === "reconnect") down = false;
    }
  })().catch(() => undefined);
  return {
    assertConnected(what) {
      if (!down || nc.isClosed()) return;
      throw unavailable(`NATS unreachable (reconnecting)${what ? `: ${what} failed` : ""}; retry`);
    },
  };
}
