/**
 * @jetq/client against `npm start` (embedded engine) with API keys: job
 * handles (stream, wait, result, poll), the caller's signal, errors no retry
 * can fix as JetqError at once, and subscribe() where streams are refused (the key's stream cap,
 * JETQ_MAX_STREAMS_PER_KEY=1, taken by another stream: SubmitAndStream is
 * RESOURCE_EXHAUSTED and enqueues nothing; the SDK submits with the same
 * idempotency key and polls GetStatus).
 */
import { Code, createJetqClient, JetqError, JobError, type Job, type JobOutput } from "@jetq/client";
import { afterAll, beforeAll, expect, test } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { killAll, startProcess } from "../server/process.js";

let baseUrl: string;
beforeAll(async () => {
  const port = await freePort();
  const api = startProcess("start", {
    PORT: String(port),
    HOST: "127.0.0.1",
    JETQ_API_KEYS: "key-handles=acme,key-poll=acme,key-signal=acme,key-cap=acme",
    JETQ_MAX_STREAMS_PER_KEY: "1",
    JETQ_MAX_PAYLOAD_BYTES: "2048",
  });
  await api.waitForLine((l) => l.msg.includes("listening"), 30_000);
  baseUrl = `http://127.0.0.1:${port}`;
});
afterAll(killAll);

test("a handle: stream() with every log line so far, wait() the output, result() the outcome", async () => {
  const client = createJetqClient({ baseUrl, apiKey: "key-handles" });
  const input = { sleep_ms: 300, progress: 3, logs: ["one", "two"] };
  const job = await client.submit("echo", input, { idempotencyKey: "handles-1" });
  expect((await client.submit("echo", input, { idempotencyKey: "handles-1" })).id).toBe(job.id);

  const seen: Job[] = [];
  for await (const status of job.stream({ logs: true })) seen.push(status);
  const last = seen.at(-1)!;
  expect(last.state).toBe("COMPLETED");
  expect(last.logs.map((l) => l.message)).toEqual(["one", "two"]);
  expect(last.progress).toBe(1);
  expect(seen.map((s) => s.state)).toContain("RUNNING");

  expect(await job.wait()).toMatchObject({ id: job.id, output: input, job: { state: "COMPLETED" } });
  expect(await client.job(job.id).result()).toEqual({
    id: job.id,
    state: "COMPLETED",
    output: input,
    error: undefined,
  });
});

test("poll(): onUpdate then onResult; a failing job goes to onError as JobError; stop() ends it", async () => {
  const client = createJetqClient({ baseUrl, apiKey: "key-poll" });
  const ok = await client.submit("echo", { sleep_ms: 200, n: 1 });
  const updates: Job[] = [];
  const result = await new Promise<JobOutput>((resolve, reject) => {
    ok.poll({ intervalMs: 50, onUpdate: (j) => updates.push(j), onResult: resolve, onError: reject });
  });
  expect(result.output).toEqual({ sleep_ms: 200, n: 1 });
  expect(updates.at(-1)?.state).toBe("COMPLETED");

  const bad = await client.submit("echo", { fail: "poll saw it", permanent: true });
  const failure = await new Promise<unknown>((resolve) => bad.poll({ intervalMs: 50, onError: resolve }));
  expect(failure).toBeInstanceOf(JobError);
  expect((failure as JobError).rawMessage).toBe("poll saw it");

  const long = await client.submit("echo", { sleep_ms: 60_000 });
  const poller = long.poll({ intervalMs: 50, onResult: () => expect.fail("no result expected") });
  poller.stop();
  await poller.done;
  await long.cancel();
});

test("the caller's signal ends subscribe() with JetqError CANCELED naming the job; input too large and a bad key fail at once", async () => {
  const client = createJetqClient({ baseUrl, apiKey: "key-signal" });
  const controller = new AbortController();
  const err = await client
    .subscribe("echo", { sleep_ms: 60_000 }, { signal: controller.signal, onEnqueue: () => controller.abort() })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(JetqError);
  expect((err as JetqError).code).toBe(Code.Canceled);
  const id = (err as JetqError).jobId!;
  expect(id).toMatch(/^echo-/);
  await client.job(id).cancel();

  // RESOURCE_EXHAUSTED that no retry can fix (not the stream caps, not a rate limit): at once.
  const big = await client
    .subscribe("echo", { blob: "x".repeat(5_000) }, { timeoutMs: 20_000 })
    .catch((e: unknown) => e);
  expect(big).toBeInstanceOf(JetqError);
  expect((big as JetqError).code).toBe(Code.ResourceExhausted);
  expect((big as JetqError).rawMessage).toContain("JETQ_MAX_PAYLOAD_BYTES");

  const stranger = createJetqClient({ baseUrl, apiKey: "not-a-key" });
  const denied = await stranger.queueCount("echo").catch((e: unknown) => e);
  expect(denied).toBeInstanceOf(JetqError);
  expect(denied).not.toBeInstanceOf(JobError);
  expect((denied as JetqError).code).toBe(Code.Unauthenticated);
  expect((denied as JetqError).rawMessage).toBe("unknown API key");
});

test("stream cap reached: subscribe() falls back to Submit + GetStatus polling and returns the output", async () => {
  // One stream open for the key: its cap is reached.
  const holder = createJetqClient({ baseUrl, apiKey: "key-cap" });
  const long = await holder.submit("echo", { sleep_ms: 60_000 });
  const stop = new AbortController();
  const streaming = long.stream({ signal: stop.signal })[Symbol.asyncIterator]();
  await streaming.next();

  const calls: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    calls.push(new URL(input instanceof Request ? input.url : String(input)).pathname.split("/").at(-1)!);
    return fetch(input, init);
  };
  const client = createJetqClient({ baseUrl, apiKey: "key-cap", fetch: countingFetch, pollIntervalMs: 100 });
  const updates: Job[] = [];
  const done = await client.subscribe(
    "echo",
    { polled: true, sleep_ms: 300 },
    { onUpdate: (j) => updates.push(j), timeoutMs: 30_000 },
  );
  stop.abort();
  await streaming.return?.();

  expect(done.output).toEqual({ polled: true, sleep_ms: 300 });
  expect(calls.filter((c) => c === "SubmitAndStream").length).toBeGreaterThanOrEqual(1);
  expect(calls.filter((c) => c === "Submit")).toHaveLength(1);
  expect(calls.filter((c) => c === "GetStatus").length).toBeGreaterThanOrEqual(1);
  expect(calls).not.toContain("StreamStatus");
  expect(updates.at(-1)?.state).toBe("COMPLETED");
  await long.cancel();
});

test("options.priority reaches the server and every status says the job's priority", async () => {
  const client = createJetqClient({ baseUrl, apiKey: "key-handles" });
  const urgent = await client.submit("echo", { n: 1 }, { options: { priority: 9 } });
  const normal = await client.submit("echo", { n: 2 });
  expect([(await urgent.status()).priority, (await normal.status()).priority]).toEqual([9, 5]);
  expect(await urgent.wait()).toMatchObject({ output: { n: 1 }, job: { state: "COMPLETED", priority: 9 } });
  await expect(client.submit("echo", { n: 3 }, { options: { priority: 0 } })).rejects.toMatchObject({
    code: Code.InvalidArgument,
  });
});
