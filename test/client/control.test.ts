/**
 * @jetq/client's job-control methods against `npm start`, on the embedded
 * (memory) engine and on NATS (with in-process workers): listQueues, pause/resume,
 * listJobs and the jobs() iterator over several pages, retry with the
 * attempt history, submitBatch's per-item errors, delayed and prioritized
 * submits, and watchJobs by ids and by queue (ended by the caller's
 * signal). Each test uses a key of its own tenant, so its listings hold
 * its own jobs only.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { Code, createJetqClient, JetqError, JobError, type Job, type JetqClient } from "@jetq/client";
import { WatchJobsRequestSchema } from "@jetq/client/gen/jetq/v1/queue_pb.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { killAll, startProcess } from "../server/process.js";

const KEYS = ["pause", "pages", "retry", "batch", "delay", "watch-ids", "watch-queue"];

describe.each(["memory", "nats"] as const)("on the %s engine", (engine) => {
  let baseUrl: string;
  let nats: NatsServer | undefined;
  beforeAll(async () => {
    const port = await freePort();
    if (engine === "nats") nats = await startNatsServer();
    const api = startProcess("start", {
      PORT: String(port),
      HOST: "127.0.0.1",
      JETQ_API_KEYS: KEYS.map((k) => `key-${k}=${k}`).join(","),
      ...(nats ? { NATS_URL: nats.url, JETQ_WORKERS: "true" } : {}),
    });
    await api.waitForLine((l) => l.msg.includes("listening"), 30_000);
    baseUrl = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(async () => {
    killAll();
    await nats?.stop();
  });
  const clientOf = (key: string, fetchFn?: typeof fetch): JetqClient =>
    createJetqClient({ baseUrl, apiKey: `key-${key}`, ...(fetchFn ? { fetch: fetchFn } : {}) });

  test("pauseQueue holds the queue's jobs, listQueues and queueCount say paused, resumeQueue lets them run", async () => {
    const client = clientOf("pause");
    const paused = await client.pauseQueue("echo");
    try {
      expect(paused).toEqual({ name: "echo", waiting: expect.any(Number), running: expect.any(Number), paused: true });
      expect((await client.queueCount("echo")).paused).toBe(true);
      const echo = (await client.listQueues()).find((q) => q.name === "echo");
      expect(echo).toMatchObject({
        paused: true,
        delayed: expect.any(Number),
        lastHour: { completed: expect.any(Number) },
      });
      const held = await client.submit("echo", { held: true });
      expect((await held.status()).state).toBe("QUEUED");
      expect((await client.resumeQueue("echo")).paused).toBe(false);
      expect(await held.wait({ timeoutMs: 20_000 })).toMatchObject({ output: { held: true } });
      expect((await client.queueCount("echo")).paused).toBe(false);
    } finally {
      await client.resumeQueue("echo");
    }
    await expect(client.pauseQueue("no-such-queue!")).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  test("listJobs pages with a cursor; jobs() iterates every page without duplicates or skips", async () => {
    const calls: string[] = [];
    const counting: typeof fetch = (input, init) => {
      calls.push(new URL(input instanceof Request ? input.url : String(input)).pathname.split("/").at(-1)!);
      return fetch(input, init);
    };
    const client = clientOf("pages", counting);
    const batch = await client.submitBatch(
      "echo",
      Array.from({ length: 7 }, (_, n) => ({ input: { n } })),
    );
    const ids = batch.map((r) => r.id!);
    expect(ids.every((id) => typeof id === "string")).toBe(true);
    for await (const _ of client.watchJobs({ ids, timeoutMs: 30_000 })) {
      // until the stream ends: every job terminal
    }

    const first = await client.listJobs({ queue: "echo", state: "COMPLETED", pageSize: 3 });
    expect(first.jobs).toHaveLength(3);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await client.listJobs({ queue: "echo", state: "COMPLETED", pageSize: 3, cursor: first.nextCursor });
    const firstIds = new Set(first.jobs.map((j) => j.id));
    expect(second.jobs.length).toBeGreaterThan(0);
    expect(second.jobs.filter((j) => firstIds.has(j.id))).toEqual([]);

    calls.length = 0;
    const listed: Job[] = [];
    for await (const job of client.jobs({ queue: "echo", state: "COMPLETED", pageSize: 2 })) listed.push(job);
    expect(listed.map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(listed.every((j) => j.state === "COMPLETED")).toBe(true);
    expect(calls.filter((c) => c === "ListJobs").length).toBeGreaterThanOrEqual(4);

    expect(await client.listJobs({ queue: "echo", state: "FAILED" })).toEqual({ jobs: [], nextCursor: undefined });
    await expect(client.listJobs({ queue: "echo", state: "COMPLETED", cursor: "not-a-cursor" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("cursor"),
    });
    await expect(client.listJobs({ queue: "echo", state: "DONE" as "FAILED" })).rejects.toThrow(
      /state: must be one of/,
    );
  });

  test("retry: a FAILED job runs again under its id; status({ attempts: true }) shows both attempts", async () => {
    const client = clientOf("retry");
    const job = await client.submit("echo", { fail_attempts: 1 }, { options: { maxAttempts: 1 } });
    await expect(job.wait()).rejects.toBeInstanceOf(JobError);

    const again = await job.retry();
    // The answer is read after the job is queued again: a worker may have taken it already.
    expect(again.id).toBe(job.id);
    expect(again.state).not.toBe("FAILED");
    expect(await job.wait({ timeoutMs: 20_000 })).toMatchObject({ job: { state: "COMPLETED", attempt: 2 } });
    const status = await job.status({ attempts: true });
    expect(status.attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "FAILED"],
      [2, "COMPLETED"],
    ]);
    expect(status.attempts[0]!.error?.code).toBe("HANDLER_ERROR");
    expect(status.attempts[0]!.startedAt).toBeInstanceOf(Date);
    expect((await job.status()).attempts).toEqual([]);
    expect((await job.status({ input: true })).input).toEqual({ fail_attempts: 1 });
    expect((await job.status()).input).toBeUndefined();

    const refused = await client.retry(job.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JetqError);
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, jobId: job.id });
    expect(() => client.retry("")).toThrow(TypeError);
  });

  test("submitBatch: one result per item at its index, a bad item failing alone; keys make a repeat a no-op", async () => {
    const client = clientOf("batch");
    const items = [
      { input: { n: 0 }, idempotencyKey: "b-0" },
      { input: { n: 1 }, options: { priority: 0 } },
      { input: { n: 2 }, idempotencyKey: "b-2", options: { priority: 8 } },
    ];
    const results = await client.submitBatch("echo", items);
    expect(results).toHaveLength(3);
    expect(results[0]).toMatchObject({
      index: 0,
      id: expect.stringMatching(/^echo-/),
      job: { state: expect.any(String) },
    });
    expect(results[1]).toEqual({
      index: 1,
      error: { code: "invalid_argument", message: expect.stringContaining("jobs[1].options.priority") },
    });
    expect(results[2]).toMatchObject({ index: 2, job: { priority: 8 } });

    const repeat = await client.submitBatch("echo", [items[0]!, items[2]!]);
    expect(repeat.map((r) => r.id)).toEqual([results[0]!.id, results[2]!.id]);
    await expect(client.submitBatch("echo", [])).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.submitBatch("echo", [{ input: { big: 1n } }])).rejects.toThrow(/items\[0\]\.input/);
  });

  test("runAt and delayMs schedule a job (scheduledAt, no position, counted as delayed); priority is kept", async () => {
    const client = clientOf("delay");
    const runAt = new Date(Date.now() + 3_600_000);
    const later = await client.submit("echo", { later: true }, { options: { runAt, priority: 7 } });
    const status = await later.status();
    expect(status).toMatchObject({ state: "QUEUED", queuePosition: undefined, priority: 7 });
    expect(status.scheduledAt?.getTime()).toBe(runAt.getTime());
    expect((await client.listQueues()).find((q) => q.name === "echo")!.delayed).toBeGreaterThanOrEqual(1);
    await later.cancel();

    const before = Date.now();
    const soon = await client.submit("echo", { soon: true }, { options: { delayMs: 300 } });
    const done = await soon.wait({ timeoutMs: 20_000 });
    expect(done.job.scheduledAt!.getTime()).toBeGreaterThanOrEqual(before + 300);
    expect(done.job.startedAt!.getTime()).toBeGreaterThanOrEqual(done.job.scheduledAt!.getTime());
    await expect(
      client.submit("echo", {}, { options: { delayMs: 1_000, runAt: new Date(Date.now() + 5_000) } }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  test("watchJobs by ids: each job's changes with its log lines, then the iteration ends by itself", async () => {
    const client = clientOf("watch-ids");
    const a = await client.submit("echo", { sleep_ms: 200, progress: 2, logs: ["a1"] });
    const b = await client.submit("echo", { fail: "b failed", permanent: true });
    const seen = new Map<string, Job[]>();
    for await (const job of client.watchJobs({ ids: [a.id, b.id], logs: true, timeoutMs: 30_000 })) {
      seen.set(job.id, [...(seen.get(job.id) ?? []), job]);
    }
    const aStates = seen.get(a.id)!.map((j) => j.state);
    expect(aStates.at(-1)).toBe("COMPLETED");
    expect(aStates).toContain("RUNNING");
    expect(
      seen
        .get(a.id)!
        .at(-1)!
        .logs.map((l) => l.message),
    ).toEqual(["a1"]);
    expect(seen.get(a.id)!.at(-1)!.progress).toBe(1);
    expect(seen.get(b.id)!.at(-1)).toMatchObject({ state: "FAILED", error: { message: "b failed" } });
    // Each status once: no two equal statuses of a job in a row.
    for (const list of seen.values()) {
      const keys = list.map((j) => `${j.state}|${j.progress}|${j.logs.length}`);
      expect(keys).toEqual([...new Set(keys)]);
    }
  });

  test("watchJobs resumes a stream cut mid-way with the jobs not yet ended, and gives no status twice", async () => {
    const seen: Job[] = [];
    // The ids each WatchJobs asked for, and how many statuses the caller had then.
    const asked: { ids: string[]; given: number }[] = [];
    // The first WatchJobs response breaks after its first two messages (the two jobs' first
    // statuses, which the server sends before any change), as a dropped connection does.
    const cutting: typeof fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.endsWith("/WatchJobs")) return fetch(input, init);
      // The request: one enveloped message (5 bytes of flags and length, then the protobuf).
      const { ids } = fromBinary(WatchJobsRequestSchema, (init!.body as Uint8Array).subarray(5));
      asked.push({ ids, given: seen.length });
      const res = await fetch(input, init);
      if (asked.length > 1 || !res.body) return res;
      return new Response(cutAfterMessages(res.body, 2), { status: res.status, headers: res.headers });
    };
    const client = clientOf("watch-ids", cutting);
    const done = await client.submit("echo", { quick: true });
    await done.wait();
    const slow = await client.submit("echo", { sleep_ms: 600, progress: 3 });
    for await (const job of client.watchJobs({ ids: [done.id, slow.id], timeoutMs: 30_000 })) seen.push(job);

    expect(asked.map((a) => a.ids.length)).toEqual([2, expect.any(Number)]);
    // The second stream names exactly the jobs not seen ending on the first.
    const endedBefore = new Set(
      seen
        .slice(0, asked[1]!.given)
        .filter((j) => j.state === "COMPLETED")
        .map((j) => j.id),
    );
    expect(asked[1]!.ids).toEqual([done.id, slow.id].filter((id) => !endedBefore.has(id)));
    expect(seen.filter((j) => j.id === done.id).map((j) => j.state)).toEqual(["COMPLETED"]);
    const slowKeys = seen.filter((j) => j.id === slow.id).map((j) => `${j.state}|${j.progress}`);
    expect(slowKeys.at(-1)).toBe("COMPLETED|1");
    expect(slowKeys).toEqual([...new Set(slowKeys)]);
  });

  test("watchJobs by queue: the caller's jobs as they change, until the caller's signal ends it", async () => {
    const client = clientOf("watch-queue");
    const stop = new AbortController();
    const watch = client.watchJobs({ queue: "echo", signal: stop.signal })[Symbol.asyncIterator]();
    // The stream opens asynchronously: a probe job per round until the watch shows one.
    const probes = new Set<string>();
    const firstSeen = watch.next();
    let first: IteratorResult<Job> | undefined;
    for (let round = 0; round < 50 && !first; round++) {
      probes.add((await client.submit("echo", { probe: round })).id);
      const round200ms = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200));
      first = await Promise.race([firstSeen, round200ms]);
    }
    expect(first?.done).toBe(false);
    expect(probes.has(first!.value.id)).toBe(true);

    const job = await client.submit("echo", { sleep_ms: 300, progress: 3 });
    const states: string[] = [];
    for (let next = await watch.next(); !next.done; next = await watch.next()) {
      if (next.value.id !== job.id) continue;
      states.push(next.value.state);
      if (next.value.state === "COMPLETED") break;
    }
    expect(states).toContain("RUNNING");
    expect(states.at(-1)).toBe("COMPLETED");

    const pending = watch.next();
    stop.abort();
    const ended = await pending.catch((e: unknown) => e);
    expect(ended).toBeInstanceOf(JetqError);
    expect((ended as JetqError).code).toBe(Code.Canceled);
    await expect(watch.next()).resolves.toEqual({ done: true, value: undefined });
    const both = client.watchJobs({ queue: "echo", ids: [job.id] } as never)[Symbol.asyncIterator]();
    await expect(both.next()).rejects.toThrow(/exactly one of ids and queue/);
  });
});

/** The body up to the end of its n-th Connect envelope (5 bytes of flags and length, then the message), then a network error. */
function cutAfterMessages(body: ReadableStream<Uint8Array>, n: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let buffered = new Uint8Array(0);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read();
      if (chunk.done) return controller.close();
      buffered = new Uint8Array([...buffered, ...chunk.value]);
      let end = 0;
      for (let i = 0; i < n && end + 5 <= buffered.length; i++) {
        const next = end + 5 + new DataView(buffered.buffer).getUint32(end + 1);
        if (next > buffered.length) break;
        end = next;
        if (i === n - 1) {
          controller.enqueue(buffered.subarray(0, end));
          await reader.cancel();
          return controller.error(new TypeError("terminated"));
        }
      }
    },
  });
}
