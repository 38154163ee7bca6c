/**
 * A jetq with API keys on real sockets: the server on one engine of the
 * backend, an echo worker on another (its own connection with NATS).
 */
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll } from "vitest";
import type { ApiKeyInput, RateLimit } from "../../src/auth/index.js";
import type { Engine } from "../../src/engine/types.js";
import type { InputValidators } from "../../src/service/input-validators.js";
import { echo } from "../../src/handlers/echo.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { ENGINES, type EngineBackend, type EngineKind } from "../helpers/engines.js";

export interface AuthJetqOptions {
  apiKeys?: ApiKeyInput[];
  rateLimit?: RateLimit;
  corsOrigins?: string[];
  readMaxBytes?: number;
  closeGraceMs?: number;
  logger?: Logger;
  streamCaps?: { perKey?: number; perConnection?: number };
  inputValidators?: InputValidators;
}

export interface AuthJetq {
  readonly url: string;
  readonly server: RunningServer;
  /** The server's engine (declareQueue for queues nobody works on). */
  readonly engine: Engine;
  readonly worker: Worker;
}

export async function startAuthJetq(backend: EngineBackend, options: AuthJetqOptions): Promise<AuthJetq> {
  const engine = await backend.open();
  const server = await startServer({ engine, port: 0, host: "127.0.0.1", ...options });
  const worker = createWorker({ engine: await backend.open(), queues: { echo } });
  await worker.start();
  return { url: server.url, server, engine, worker };
}

/** One backend and one jetq for the file's tests (memory engine unless kind is given). */
export function useAuthJetq(options: AuthJetqOptions, kind: EngineKind = ENGINES.find((e) => e.name === "memory")!) {
  let backend: EngineBackend | undefined;
  let jetq: AuthJetq | undefined;
  beforeAll(async () => {
    backend = await kind.start();
    jetq = await startAuthJetq(backend, options);
  });
  afterAll(async () => {
    await jetq?.worker.stop({ graceMs: 0 });
    await jetq?.server.close();
    await backend?.stop();
  });
  return {
    get jetq(): AuthJetq {
      if (!jetq) throw new Error("jetq not started");
      return jetq;
    },
  };
}

/** A pino logger at trace level whose every line lands in `text`. */
export function captureLogger(): { logger: Logger; text: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level: "trace" }, sink), text: () => text };
}
