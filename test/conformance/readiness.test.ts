/**
 * Engine readiness: an open engine says it is ready without a round trip,
 * and close() makes it not ready with a reason, telling its listeners once.
 * (The JetStream engine losing NATS: test/server/readiness.nats.test.ts.)
 */
import { expect, test } from "vitest";
import type { Readiness } from "../../src/engine/types.js";
import { forEachEngine } from "./harness.js";

forEachEngine("readiness", (env) => {
  test("an open engine is ready; close() makes it not ready and tells each listener once", async () => {
    expect(env.api.readiness()).toEqual({ ready: true });
    expect(env.worker.readiness()).toEqual({ ready: true });
    // close() on a backend of its own: it ends the engine for every later test.
    const backend = await env.kind.start();
    try {
      const engine = await backend.open();
      expect(engine.readiness()).toEqual({ ready: true });
      const heard: Readiness[] = [];
      engine.onReadinessChange((r) => heard.push(r));
      const unsubscribed: Readiness[] = [];
      engine.onReadinessChange((r) => unsubscribed.push(r))();

      await engine.close();
      expect(engine.readiness()).toEqual({ ready: false, reason: "engine closed" });
      expect(heard).toEqual([{ ready: false, reason: "engine closed" }]);
      expect(unsubscribed).toEqual([]);
      await engine.close();
      expect(heard).toHaveLength(1);
    } finally {
      await backend.stop().catch(() => undefined);
    }
  });
});
