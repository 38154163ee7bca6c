/**
 * Every engine the conformance and end-to-end suites run against: adding an
 * engine is one entry in engineKinds().
 */
import { afterAll, beforeAll } from "vitest";
import type { Engine } from "../../src/engine/types.js";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { createNatsEngine, type NatsEngineOptions } from "../../src/engine/nats/index.js";
import type { PositionPacerOptions } from "../../src/engine/position-pacer.js";
import type { LogBounds } from "../../src/engine/log-bounds.js";
import type { SettingNames } from "../../src/engine/settings.js";
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

/** Engine options both engines take, for suites that need non-default policies. */
export interface EngineOptions {
  retentionMs?: number;
  maxPayloadBytes?: number;
  positionUpdates?: PositionPacerOptions;
  logBounds?: Partial<LogBounds>;
  progressIntervalMs?: number;
  settingNames?: SettingNames;
}

/** Every engine kind, opening its engines with `options`. */
export function engineKinds(options: EngineOptions = {}): EngineKind[] {
  return [
    {
      name: "memory",
      async start() {
        const engine = createMemoryEngine(options);
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
            const engine = await createNatsEngine({ servers: nats.url, ...options });
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
}

export const ENGINES: EngineKind[] = engineKinds();

/**
 * One nats-server for a test file and the NATS engines its tests open (each a
 * connection of its own, named when given a name), all closed after the file.
 */
export function useNatsEngines(): {
  readonly nats: NatsServer;
  open(name?: string, options?: Omit<NatsEngineOptions, "servers" | "name">): Promise<Engine>;
} {
  let nats: NatsServer | undefined;
  const opened: Engine[] = [];
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.allSettled(opened.map((e) => e.close()));
    await nats?.stop();
  });
  return {
    get nats() {
      if (!nats) throw new Error("useNatsEngines: the server starts in beforeAll");
      return nats;
    },
    async open(name, options = {}) {
      const e = await createNatsEngine({ ...options, servers: this.nats.url, ...(name ? { name } : {}) });
      opened.push(e);
      return e;
    },
  };
}

let counter = 0;
/** A queue name no other test uses, so tests sharing a backend stay isolated. */
export function uniqueQueue(prefix = "q"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}
