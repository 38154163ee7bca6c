/** Deliveries: fetch, begin, finish, retry, release; a stale delivery changes nothing. */
import { expect, test } from "vitest";
import { begin, fetchN, forEachDriver, newJob, refOf, waitForState } from "./harness.js";

forEachDriver("deliveries", (env) => {
  test("fetch takes at most max, oldest first, and waits at most expiresMs when nothing waits", async () => {
    const q = await env.queue();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await env.api.insert(newJob(q, i))).status.id);
    const first = await fetchN(env.worker, q, 2);
    expect(first.map((d) => d.ref.id)).toEqual(ids.slice(0, 2));
    const rest = await fetchN(env.worker, q, 1);
    expect(rest[0]!.ref.id).toBe(ids[2]);
    expect(await env.worker.fetch(q, 5, 200)).toEqual([]);
    for (const d of [...first, ...rest]) await d.release(false);
  });

  test("begin marks RUNNING; finish COMPLETED stores the output; a second finish is refused", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, "in"));
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    const running = await waitForState(env.api, status.id, "RUNNING");
    expect(running.attempt).toBe(1);
    expect(await d!.finish("COMPLETED", { output: { ok: 1 }, outputJson: '{"ok":1}', progress: 1 })).toBe(true);
    expect(await env.api.readResult(refOf(status.id), {})).toEqual({
      id: status.id,
      state: "COMPLETED",
      output: { ok: 1 },
    });
    expect(await d!.finish("FAILED", { error: { code: "X", message: "late" } })).toBe(false);
    await expect.poll(() => env.api.count(q), { timeout: 5_000 }).toEqual({ queue: q, inQueue: 0, running: 0 });
  });

  test("retry stores QUEUED with the error, then redelivers as attempt 2 after the delay", async () => {
    const q = await env.queue({ maxAttempts: 3 });
    const { status } = await env.api.insert(newJob(q, 1));
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    expect(await d!.retry({ code: "E", message: "try again" }, 50)).toBe(true);
    const queued = await env.api.read(refOf(status.id), {});
    expect(queued).toMatchObject({ state: "QUEUED", error: { code: "E", message: "try again" } });
    const [again] = await fetchN(env.worker, q, 1);
    expect(again!.ref.id).toBe(status.id);
    const found = await again!.inspect();
    expect(found).toMatchObject({ over: false, run: { attempt: 2 } });
    await again!.release(false);
  });

  test("release before begin is no attempt: the next delivery is attempt 1 again", async () => {
    const q = await env.queue();
    await env.api.insert(newJob(q, 1));
    const [d] = await fetchN(env.worker, q, 1);
    await d!.release(false);
    const [again] = await fetchN(env.worker, q, 1);
    expect(await again!.inspect()).toMatchObject({ over: false, run: { attempt: 1 } });
    await again!.release(false);
  });

  test("release after begin keeps the number: the rerun is attempt 2, one interrupted", async () => {
    const q = await env.queue();
    await env.api.insert(newJob(q, 1));
    const [d] = await fetchN(env.worker, q, 1);
    expect(await begin(d!)).toBe(true);
    await d!.release(true);
    const [again] = await fetchN(env.worker, q, 1);
    expect(await again!.inspect()).toMatchObject({ over: false, run: { attempt: 2, interrupted: 1 } });
    await again!.release(false);
  });

  test("a finish with an attempt of its own (a refusal) records that attempt", async () => {
    const q = await env.queue();
    const { status } = await env.api.insert(newJob(q, 1));
    const [d] = await fetchN(env.worker, q, 1);
    await d!.inspect();
    expect(await d!.finish("FAILED", { error: { code: "ATTEMPTS_EXHAUSTED", message: "none" }, attempt: 0 })).toBe(
      true,
    );
    expect(await env.api.read(refOf(status.id), {})).toMatchObject({ state: "FAILED", attempt: 0 });
  });
});
