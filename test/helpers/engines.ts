/**
 * Every engine the conformance and end-to-end suites run against: adding an
 * engine is one entry in ENGINES.
 */
import type { Engine } from "../../src/engine/types.js";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";

export interface EngineBackend {
  /**
   * A new Engine on this backend, as another process would have (JetStream: a
   * new connection; embedded: the same in-process engine, since it cannot be
   * shared between processes).
   */
  open(): Promise<Engine>;
  /** The nats-server behind it, for engines that have one. */
  readonly nats?: NatsServer;
  /** Closes every engine it opened and stops the backend. */
  stop(): Promise<void>;
}

export interface EngineKind {
  name: "nats" | "memory";
  start(): Promise<EngineBackend>;
}

export const ENGINES: EngineKind[] = [
  {
    name: "memory",
    async start() {
      const engine = createMemoryEngine();
      return {
        open: async () => engine,
        stop: () => engine.close(),
      };
    },
  },
  {
    name: "nats",
    async start() {
      const nats = await startNatsServer();
      const opened: Engine[] = [];
      return {
        nats,
        open: async () => {
          const engine = await createNatsEngine({ servers: nats.url });
          opened.push(engine);
          return engine;
        },
        stop: async () => {
          await Promise.allSettled(opened.map((e) => e.close()));
          await nats.stop();
        },
      };
    },
  },
];

let counter = 0;
/** A queue name no other test uses, so tests sharing a backend stay isolated. */
export function uniqueQueue(prefix = "q"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}
