/**
 * A jetq server on real sockets for end-to-end tests: the Connect/gRPC/gRPC-Web
 * server on a free port plus an in-process worker serving `echo`, both on an
 * engine of the given backend. With NATS the worker gets its own engine (its own
 * connection), so the two talk only through nats-server, as two processes would.
 */
import type { Engine } from "../../src/engine/types.js";
import { echo } from "../../src/handlers/echo.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker, type WorkerOptions } from "../../src/worker/index.js";
import type { EngineBackend } from "./engines.js";

export interface JetqOptions {
  /** Queues the in-process worker serves; default `{ echo }`. */
  queues?: WorkerOptions["queues"];
}

export interface Jetq {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly server: RunningServer;
  readonly worker: Worker;
  /** The server's engine (stats(), declareQueue() for queues nobody works on). */
  readonly engine: Engine;
  /** The worker's engine: a second connection with NATS, the same engine embedded. */
  readonly workerEngine: Engine;
  /**
   * NATS only: client ids (cid in /connz) of the connections the server's engine
   * opened, so tests can look at exactly its subscriptions. Empty when embedded.
   */
  readonly serverConnectionIds: readonly number[];
  /** Stops the worker and the server; the backend's stop() closes the engines. */
  close(): Promise<void>;
}

export async function startJetq(backend: EngineBackend, options: JetqOptions = {}): Promise<Jetq> {
  const engine = await backend.open();
  // Taken before the worker connects: on a fresh backend, every connection is the server's.
  const serverConnectionIds = backend.nats ? await connectionIds(backend.nats.monitorUrl) : [];
  const server = await startServer({ engine, port: 0 });
  const workerEngine = await backend.open();
  const worker = createWorker({ engine: workerEngine, queues: options.queues ?? { echo } });
  try {
    await worker.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    url: server.url,
    port: server.port,
    server,
    worker,
    engine,
    workerEngine,
    serverConnectionIds,
    async close() {
      await worker.stop({ graceMs: 0 });
      await server.close();
    },
  };
}

export interface NatsConnection {
  cid: number;
  name?: string;
  /** How many subscriptions the connection holds (2.9 calls it `subscriptions`). */
  subscriptions: number;
  /** nats-server 2.9 lists their subjects here with ?subs=1. */
  subscriptions_list?: string[];
}

/** The connections a nats-server reports on /connz, with their subscriptions. */
export async function natsConnections(monitorUrl: string): Promise<NatsConnection[]> {
  const res = await fetch(`${monitorUrl}/connz?subs=1&limit=10000`);
  if (!res.ok) throw new Error(`GET ${monitorUrl}/connz: HTTP ${res.status}`);
  const body = (await res.json()) as { connections?: NatsConnection[] };
  return body.connections ?? [];
}

async function connectionIds(monitorUrl: string): Promise<number[]> {
  return (await natsConnections(monitorUrl)).map((c) => c.cid);
}
