/** Watch: the current status, then each change in order, ending after the terminal one. */
import { expect, test } from "vitest";
import type { JobStatus } from "../../src/engine/types.js";
import { begin, fetchN, forEachDriver, newJob, refOf } from "./harness.js";

forEachDriver("watch", (env) => {
  test("QUEUED, RUNNING, progress, COMPLETED: each once, then the watch ends", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    const seen: JobStatus[] = [];
    const it = env.api.watch(refOf(status.id), {})[Symbol.asyncIterator]();
    const first = await it.next();
    seen.push(first.value as JobStatus);
    const done = (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) seen.push(r.value);
    })();
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    d!.setProgress(0.5);
    d!.announceProgress(0.5);
    await expect.poll(() => seen.some((s) => s.progress === 0.5), { timeout: 5_000 }).toBe(true);
    expect(await d!.finish("COMPLETED", { output: null, outputJson: "null", progress: 1 })).toBe(true);
    await done;
    expect(seen.map((s) => s.state)).toEqual(["QUEUED", "RUNNING", "RUNNING", "COMPLETED"]);
    expect(seen.at(-1)).toMatchObject({ progress: 1, attempt: 1 });
  });

  test("a watch of a finished job yields its final status and ends", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    await env.api.cancel(refOf(status.id), {});
    const all: JobStatus[] = [];
    for await (const s of env.api.watch(refOf(status.id), {})) all.push(s);
    expect(all.map((s) => s.state)).toEqual(["CANCELLED"]);
  });
});
