/** Cancel: a waiting job leaves the queue; a running one's delivery hears it and goes stale. */
import { expect, test } from "vitest";
import { begin, fetchN, forEachDriver, newJob, refOf, waitForState } from "./harness.js";

forEachDriver("cancel", (env) => {
  test("a QUEUED job is removed, CANCELLED, and never delivered", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    const out = await env.api.cancel(refOf(status.id), {});
    expect(out).toMatchObject({ removed: true, job: { state: "CANCELLED", error: { code: "CANCELLED" } } });
    expect(await env.worker.fetch(q, 1, 300)).toEqual([]);
    await expect.poll(() => env.api.count(q), { timeout: 5_000 }).toEqual({ queue: q, inQueue: 0, running: 0 });
  });

  test("a RUNNING job's delivery is signalled, and its finish no longer counts", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    await waitForState(env.api, status.id, "RUNNING");
    const heard = new Promise<void>((resolve) => d!.cancelled.addEventListener("abort", () => resolve()));
    expect(await env.api.cancel(refOf(status.id), {})).toMatchObject({ removed: true });
    await heard;
    expect(await d!.finish("COMPLETED", { output: 1, outputJson: "1" })).toBe(false);
    expect((await env.api.read(refOf(status.id), {})).state).toBe("CANCELLED");
  });

  test("a finished job is not cancelled again", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    expect(await d!.finish("COMPLETED", { output: 2, outputJson: "2" })).toBe(true);
    expect(await env.api.cancel(refOf(status.id), {})).toMatchObject({ removed: false, job: { state: "COMPLETED" } });
  });
});
