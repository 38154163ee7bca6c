/** Insert: a QUEUED job with its position; idempotency keys; the input as the worker gets it. */
import { expect, test } from "vitest";
import { fetchN, forEachDriver, newJob, refOf } from "./harness.js";

forEachDriver("insert", (env) => {
  test("jobs come back QUEUED, fresh, at positions 0, 1, 2 in insert order", async () => {
    const q = await env.queue();
    const inserted = [];
    for (let i = 0; i < 3; i++) inserted.push(await env.api.insert(newJob(q, i)));
    expect(inserted.map((x) => [x.fresh, x.status.state, x.status.queuePosition])).toEqual([
      [true, "QUEUED", 0],
      [true, "QUEUED", 1],
      [true, "QUEUED", 2],
    ]);
    expect(await env.api.count(q)).toEqual({ queue: q, inQueue: 3, running: 0 });
  });

  test("one idempotency key of one tenant names one job; other tenants get their own", async () => {
    const q = await env.queue();
    const a = await env.api.insert(newJob(q, 1, { idempotencyKey: "k", tenant: "t1" }));
    const again = await env.api.insert(newJob(q, 2, { idempotencyKey: "k", tenant: "t1" }));
    const other = await env.api.insert(newJob(q, 3, { idempotencyKey: "k", tenant: "t2" }));
    expect(again).toMatchObject({ fresh: false, status: { id: a.status.id } });
    expect(other.fresh).toBe(true);
    expect(other.status.id).not.toBe(a.status.id);
  });

  test("the worker gets the input the JSON text holds, options and creation time", async () => {
    const q = await env.queue();
    const input = { text: "héllo", n: [1, 2.5, null], nested: { ok: true } };
    const { status } = await env.api.insert(newJob(q, input, { options: { maxAttempts: 3, timeoutMs: 900 } }));
    const [d] = await fetchN(env.worker, q, 1);
    expect(d!.ref).toEqual(refOf(status.id));
    expect(d!.input).toEqual(input);
    expect(d!.options).toEqual({ maxAttempts: 3, timeoutMs: 900 });
    expect(d!.createdAt).toBe(status.createdAt);
    await d!.release(false);
  });

  test("the trace context a job was inserted with comes back on every delivery; none when it had none", async () => {
    const q = await env.queue();
    const trace = {
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: "vendor=abc,other=x:y",
    };
    await env.api.insert(newJob(q, "traced", { trace }));
    await env.api.insert(newJob(q, "plain"));
    const [traced, plain] = await fetchN(env.worker, q, 2);
    expect(traced!.input).toBe("traced");
    expect(traced!.trace).toEqual(trace);
    expect(plain!.trace).toBeUndefined();
    await traced!.release(false);
    await plain!.release(false);
    // Redelivered after a release: the same context.
    const again = await fetchN(env.worker, q, 2);
    expect(again.find((d) => d.input === "traced")!.trace).toEqual(trace);
    for (const d of again) await d.release(false);
  });
});
