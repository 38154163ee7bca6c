/** A handler that logs, reports progress and then waits until the test opens its gate: a job held RUNNING. */
import type { Handler } from "../../src/worker/index.js";

export function gatedHandler() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const handler: Handler = async (input, ctx) => {
    ctx.log("info", "started");
    ctx.progress(0.5);
    await Promise.race([
      opened,
      new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
    ]);
    ctx.log("error", "finishing");
    return { done: true, input };
  };
  return { handler, open };
}
