/**
 * subscribe() where streams are refused: with the API key's stream cap
 * (JETQ_MAX_STREAMS_PER_KEY=1) taken by another stream, SubmitAndStream is
 * RESOURCE_EXHAUSTED (and enqueues nothing); the SDK submits with the same
 * idempotency key and polls GetStatus, and still returns the output.
 */
import { createJetqClient, type Job } from "@jetq/client";
import { afterEach, expect, test } from "vitest";
import { freePort } from "../helpers/free-port.js";
import { killAll, startProcess } from "../server/process.js";

afterEach(killAll);

test("stream cap reached: subscribe() falls back to Submit + GetStatus polling and returns the output", async () => {
  const port = await freePort();
  const api = startProcess("start", {
    PORT: String(port),
    HOST: "127.0.0.1",
    JETQ_API_KEYS: "fallback-key=acme",
    JETQ_MAX_STREAMS_PER_KEY: "1",
  });
  await api.waitForLine((l) => l.msg.includes("listening"), 30_000);
  const baseUrl = `http://127.0.0.1:${port}`;

  // One stream open for the key: its cap is reached.
  const holder = createJetqClient({ baseUrl, apiKey: "fallback-key" });
  const long = await holder.submit("echo", { sleep_ms: 60_000 });
  const stop = new AbortController();
  const streaming = long.stream({ signal: stop.signal })[Symbol.asyncIterator]();
  await streaming.next();

  const calls: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    calls.push(new URL(input instanceof Request ? input.url : String(input)).pathname.split("/").at(-1)!);
    return fetch(input, init);
  };
  const client = createJetqClient({ baseUrl, apiKey: "fallback-key", fetch: countingFetch, pollIntervalMs: 100 });
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
  // One job: the refused SubmitAndStream enqueued nothing.
  expect((await holder.queueCount("echo")).running).toBe(1);
}, 60_000);
