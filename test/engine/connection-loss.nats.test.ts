/**
 * A call in flight when the NATS connection drops: its reply cannot come
 * over the lost connection, so the engine answers UNAVAILABLE at once (the
 * client retries) instead of at the request's timeout. A proxy between the
 * engine and nats-server holds the call in flight, then cuts the connection.
 */
import { EngineError } from "../../src/engine/errors.js";
import { expect, test } from "vitest";
import { formatJobId, newToken } from "../../src/engine/job-id.js";
import { createNatsEngine } from "../../src/engine/nats/index.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";
import { startNatsProxy } from "../helpers/nats-proxy.js";
import { eventually } from "./nats-monitor.nats.js";

const fixture = useNatsEngines();
/** Far longer than a dropped connection takes to notice: a call failing this late waited out its timeout. */
const REQUEST_TIMEOUT_MS = 20_000;

async function outcome(p: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const t0 = performance.now();
  const code = await p.then(
    () => "OK",
    (err: unknown) => (err instanceof EngineError ? err.code : String(err)),
  );
  return { code, ms: performance.now() - t0 };
}

test("Submit, GetStatus, GetResult and Cancel in flight when the connection drops answer UNAVAILABLE at once, and work after the reconnect", async () => {
  const proxy = await startNatsProxy(fixture.nats.port);
  const engine = await createNatsEngine({ servers: proxy.url, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  try {
    const queue = uniqueQueue("lost");
    await engine.declareQueue(queue);
    // Jobs this process did not submit: reading them needs NATS.
    const elsewhere = () => formatJobId({ queue, seq: 1_000, token: newToken() });

    proxy.hold();
    const inFlight = [
      outcome(engine.submit({ queue, input: "held" })),
      outcome(engine.getStatus(elsewhere())),
      outcome(engine.getResult(elsewhere())),
      outcome(engine.cancel(elsewhere())),
    ];
    await new Promise((r) => setTimeout(r, 200));
    proxy.cut();
    const results = await Promise.all(inFlight);
    for (const r of results) {
      expect(r.code).toBe("unavailable");
      expect(r.ms).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    }

    // The engine reconnects through the proxy and serves again.
    const submitted = await eventually(() => engine.submit({ queue, input: "after" }), 10_000);
    expect(submitted.state).toBe("QUEUED");
  } finally {
    await engine.close();
    await proxy.close();
  }
});
