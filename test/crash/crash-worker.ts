/**
 * A worker process for the crash tests: one queue whose handler says on
 * stdout when it starts ("start", id, attempt) and when it has finished its
 * work ("done", id), so a test counts executions per job across processes,
 * including ones it kills. Input: { sleep_ms, first_attempt_ms }. JSON lines, like pino's, so test/server/process.ts
 * reads them. Env: NATS_URL, CRASH_QUEUE, JETQ_ACK_WAIT_MS, JETQ_REPLICAS,
 * CRASH_CONCURRENCY, CRASH_MAX_ATTEMPTS, CRASH_MAX_LOST_LEASES ("default" or unset:
 * the engine's default).
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { createLogger } from "../../src/logger.js";
import { createWorker } from "../../src/worker/index.js";

const say = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ level: 30, ...fields })}\n`);
const env = (name: string, fallback: string) => process.env[name] ?? fallback;

const queue = env("CRASH_QUEUE", "crash");
const logger = createLogger({ level: "warn", name: "crash-worker" });
const engine = await createNatsEngine({
  servers: env("NATS_URL", "nats://127.0.0.1:4222").split(","),
  replicas: Number(env("JETQ_REPLICAS", "1")),
  logger,
});

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

/** A queue setting from the environment; "default" leaves it to the engine. */
const setting = (name: string, fallback: string) => {
  const v = env(name, fallback);
  return v === "default" ? undefined : Number(v);
};

const worker = createWorker({
  engine,
  logger,
  queues: {
    [queue]: {
      concurrency: Number(env("CRASH_CONCURRENCY", "16")),
      config: {
        ackWaitMs: Number(env("JETQ_ACK_WAIT_MS", "2000")),
        maxAttempts: setting("CRASH_MAX_ATTEMPTS", "3"),
        maxLostLeases: setting("CRASH_MAX_LOST_LEASES", "default"),
      },
      handler: async (input: JsonValue, ctx) => {
        say({ msg: "start", id: ctx.id, attempt: ctx.attempt });
        const o = input && typeof input === "object" && !Array.isArray(input) ? input : {};
        // first_attempt_ms: attempt 1 runs that long (long enough to be killed in it).
        const ms = Number((ctx.attempt === 1 ? o.first_attempt_ms : undefined) ?? o.sleep_ms ?? 0);
        if (ms > 0) await sleep(ms, ctx.signal);
        say({ msg: "done", id: ctx.id, attempt: ctx.attempt });
        return input;
      },
    },
  },
});
await worker.start();
say({ msg: "crash worker started", queue });

process.on("SIGTERM", () => {
  void worker
    .stop({ graceMs: 1_000 })
    .then(() => engine.close())
    .then(() => process.exit(0));
});
