/**
 * Worker.addQueue: a queue added to a running worker (how lanes made at
 * runtime are served) is declared and pulled, with its own concurrency;
 * adding it again is a no-op; after stop() began it is refused.
 */
import { expect, it } from "vitest";
import { forEachEngine, uniqueQueue, waitForState } from "./harness.js";

forEachEngine("worker addQueue", (env) => {
  it("serves a queue added while running, and nothing more after stop()", async () => {
    const worker = env.worker({ queues: {} });
    await worker.start();
    const queue = uniqueQueue("added");
    let running = 0;
    let peak = 0;
    const handler = async (input: unknown) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
      return input as number;
    };
    await worker.addQueue(queue, { handler, concurrency: 1 });
    await worker.addQueue(queue, { handler: () => "second registration is ignored" });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await env.api.submit({ queue, input: i })).id);
    for (const [i, id] of ids.entries()) {
      await waitForState(env.api, id, "COMPLETED");
      expect((await env.api.getResult(id)).output).toBe(i);
    }
    expect(peak).toBe(1);

    await worker.stop({ graceMs: 0 });
    await expect(worker.addQueue(uniqueQueue("late"), handler)).rejects.toThrow(/stopping/);
  });
});
