/**
 * Whether the JetStream engine can serve: its connection is up and JetStream
 * answers. The connection's state comes from the client's status events, at
 * once. JetStream can be away while the connection is up (a cluster without
 * a meta leader, a server starting up), so one small request ($JS.API.INFO)
 * checks it every probeIntervalMs while ready and every RETRY_MS while not:
 * one request per interval per process, and /readyz never waits on NATS.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { createReadinessState, type ReadinessState } from "../readiness.js";
import { withinTimeout } from "./connection.js";

export interface NatsReadinessOptions {
  nc: NatsConnection;
  /** Resolves when JetStream answers. */
  probe: () => Promise<unknown>;
  probeIntervalMs: number;
  timeoutMs: number;
  logger?: Logger;
}

export interface NatsReadiness {
  readonly state: ReadinessState;
  close(): void;
}

/** How soon a JetStream that did not answer is asked again. */
const RETRY_MS = 1_000;
const CONNECTION_LOST = "NATS connection lost (reconnecting)";
const JETSTREAM_SILENT = "JetStream not answering";

export function watchNatsReadiness(o: NatsReadinessOptions): NatsReadiness {
  const state = createReadinessState();
  let connected = true;
  /** Why JetStream is not usable; undefined = it answered last time. */
  let jetStreamDown: string | undefined;
  /** Bumped on every connection change: a probe sent before it says nothing about now. */
  let epoch = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const update = () => {
    if (closed) return;
    const wasReady = state.get().ready;
    const reason = !connected ? CONNECTION_LOST : jetStreamDown;
    state.set(reason === undefined ? { ready: true } : { ready: false, reason });
    if (wasReady && reason !== undefined) o.logger?.warn({ reason }, "jetq nats engine: not ready");
    else if (!wasReady && reason === undefined) o.logger?.info("jetq nats engine: ready again");
  };

  const schedule = (ms: number) => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void probe(), ms);
    timer.unref();
  };

  const probe = async () => {
    timer = undefined;
    const sentIn = epoch;
    if (connected) {
      try {
        await withinTimeout(o.probe(), o.timeoutMs, () => new Error(`no answer within ${o.timeoutMs} ms`));
        if (sentIn === epoch) jetStreamDown = undefined;
      } catch (err) {
        // The reason is shown to anyone asking /readyz: a fixed phrase; the details go to the log.
        if (sentIn === epoch) {
          if (jetStreamDown === undefined)
            o.logger?.warn({ err }, "jetq nats engine: JetStream did not answer the readiness probe");
          jetStreamDown = JETSTREAM_SILENT;
        }
      }
      if (sentIn === epoch) update();
    }
    if (timer === undefined) schedule(state.get().ready ? o.probeIntervalMs : RETRY_MS);
  };

  void (async () => {
    for await (const s of o.nc.status()) {
      if (s.type === "disconnect") {
        epoch++;
        connected = false;
        update();
      } else if (s.type === "reconnect") {
        epoch++;
        connected = true;
        // Ready only once JetStream answers on the new connection.
        jetStreamDown = "reconnected; waiting for JetStream to answer";
        update();
        schedule(0);
      }
    }
  })().catch(() => undefined);
  schedule(o.probeIntervalMs);

  return {
    state,
    close() {
      if (timer) clearTimeout(timer);
      state.set({ ready: false, reason: "engine closed" });
      closed = true;
    },
  };
}
