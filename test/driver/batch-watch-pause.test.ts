/**
 * The driver contract's batch, queue-watch and pause methods: insertBatch
 * stores each job in list order with each failure its own; watchQueue names
 * the jobs of the queue submitted or changed in any process (on NATS another
 * driver, once it heard the watch's announcement); the paused flag is stored
 * for every process, kept by declareQueue, and not listed as a queue.
 */
import { expect, test } from "vitest";
import { isEngineError } from "../../src/engine/errors.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/engine/types.js";
import { begin, fetchN, forEachDriver, newJob, refOf, uniqueQueue } from "./harness.js";

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

forEachDriver("batch, queue watch and pause", (env) => {
  test("insertBatch: each job stored in list order, an undeclared queue fails only its item", async () => {
    const q = await env.queue();
    const jobs = Array.from({ length: 200 }, (_, i) => newJob(i === 7 ? uniqueQueue("none") : q, i));
    const out = await env.api.insertBatch(jobs);
    expect(out).toHaveLength(200);
    expect("error" in out[7]! && isEngineError(out[7].error, "not_found")).toBe(true);
    const ids = out.flatMap((o) => ("status" in o ? [o.status.id] : []));
    expect(ids).toHaveLength(199);
    expect(ids.map((id) => refOf(id).seq)).toEqual([...ids.map((id) => refOf(id).seq)].sort((a, b) => a - b));
    const delivered = await fetchN(env.worker, q, 199);
    expect(delivered.map((d) => d.ref.id)).toEqual(ids);
    for (const d of delivered) await d.release(false);
  });

  test("watchQueue names jobs submitted and changed in another process, until unsubscribed", async () => {
    const q = await env.queue();
    const named: string[] = [];
    const stop = env.api.watchQueue(q, (id) => named.push(id));
    // On NATS the other process learns of the watch from its announcement.
    const probes: string[] = [];
    await until(async () => {
      probes.push((await env.worker.insert(newJob(q, "probe"))).status.id);
      return probes.some((id) => named.includes(id));
    }, "a probe to be named");
    const { status } = await env.worker.insert(newJob(q, "job"));
    await until(() => named.includes(status.id), "the submit to be named");
    const [d] = await fetchN(env.worker, q, 1 + probes.length).then((all) => {
      const mine = all.filter((x) => x.ref.id === status.id);
      for (const other of all) if (other.ref.id !== status.id) void other.release(false);
      return mine;
    });
    const before = named.filter((id) => id === status.id).length;
    expect(await begin(d!)).toBe(true);
    await until(() => named.filter((id) => id === status.id).length > before, "the RUNNING change to be named");
    stop();
    await d!.finish("COMPLETED", { output: null, outputJson: "null" });
  });

  test("paused: stored for every process, kept by declareQueue, not listed as a queue; NOT_FOUND when undeclared", async () => {
    const q = await env.queue();
    expect(await env.worker.paused(q)).toBe(false);
    await env.api.setPaused(q, true);
    expect(await env.api.paused(q)).toBe(true);
    await until(() => env.worker.paused(q), "the other process to see the pause");
    await env.worker.declareQueue(q, { ...DEFAULT_QUEUE_CONFIG, maxAttempts: 2 });
    expect(await env.worker.paused(q)).toBe(true);
    expect((await env.api.listQueues()).filter((n) => n.includes(q))).toEqual([q]);
    await env.api.setPaused(q, false);
    await until(async () => !(await env.worker.paused(q)), "the other process to see the resume");
    const none = uniqueQueue("none");
    await expect(env.api.paused(none)).rejects.toSatisfy((e) => isEngineError(e, "not_found"));
    await expect(env.api.setPaused(none, true)).rejects.toSatisfy((e) => isEngineError(e, "not_found"));
  });
});
