/**
 * For consumers' tests: a whole jetq on a free port, in process, with the
 * embedded engine, echo and any handlers the test brings.
 */
import type { ApiKeyInput, RateLimit } from "./auth/index.js";
import { createMemoryEngine } from "./engine/memory/index.js";
import type { Engine } from "./engine/types.js";
import { builtinHandlers } from "./handlers/index.js";
import { startServer } from "./server/server.js";
import { createWorker, type Handler } from "./worker/index.js";

export interface TestServerOptions {
  /** Queue name → handler, served next to echo. */
  handlers?: Record<string, Handler>;
  /** API keys the server requires (Authorization: Bearer <key>); default none (open). */
  apiKeys?: readonly ApiKeyInput[];
  /** Default per-key rate limit; default none. */
  rateLimit?: RateLimit;
  /** Origins allowed for browser calls (CORS); default none. */
  corsOrigins?: readonly string[];
}

export interface TestServer {
  /** http://127.0.0.1:<port> */
  url: string;
  engine: Engine;
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const engine = createMemoryEngine();
  const worker = createWorker({ engine, queues: { ...builtinHandlers, ...options.handlers } });
  try {
    await worker.start();
    const server = await startServer({
      engine,
      port: 0,
      host: "127.0.0.1",
      apiKeys: options.apiKeys,
      rateLimit: options.rateLimit,
      corsOrigins: options.corsOrigins,
    });
    let closed: Promise<void> | undefined;
    return {
      url: server.url,
      engine,
      close() {
        closed ??= (async () => {
          // Tests want to be done now: running handlers are aborted, not awaited.
          await worker.stop({ graceMs: 0 });
          await server.close();
          await engine.close();
        })();
        return closed;
      },
    };
  } catch (err) {
    await worker.stop({ graceMs: 0 }).catch(() => undefined);
    await engine.close().catch(() => undefined);
    throw err;
  }
}
