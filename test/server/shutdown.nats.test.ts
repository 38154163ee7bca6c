/**
 * Graceful shutdown of real processes over NATS: on SIGTERM a worker stops
 * pulling, lets jobs finish within JETQ_SHUTDOWN_GRACE_MS, hands the rest back
 * (another worker then runs them as attempt 2) and exits 0; an API process
 * ends its open StreamStatus streams with UNAVAILABLE and exits 0. No job is
 * left RUNNING.
 */
import { Code } from "@connectrpc/connect";
import { expect, it } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { PROTOCOLS, type ProtocolClient } from "../e2e/clients.js";
import { expectCode, pollUntil, value } from "../e2e/harness.js";
import { startApiProcess, startProcess, useNatsForProcesses } from "./process.js";

const backend = useNatsForProcesses();

const open = (url: string): ProtocolClient => PROTOCOLS.find((p) => p.name === "connect+proto h2c")!.open(url);

const startApi = (env: Record<string, string> = {}) => startApiProcess(backend.nats.url, env);

async function startWorker(graceMs: number) {
  const worker = startProcess("worker", {
    NATS_URL: backend.nats.url,
    JETQ_SHUTDOWN_GRACE_MS: String(graceMs),
  });
  await worker.waitForLine((l) => l.msg === "worker started");
  return worker;
}

const running = (client: ProtocolClient, id: string) =>
  pollUntil(
    () => client.getStatus({ id }),
    (j) => j.state === JobState.RUNNING,
    { what: `${id} RUNNING`, timeoutMs: 15_000 },
  );

it("SIGTERM on a worker: a short job finishes within the grace, a long one is handed back and completes on another worker as attempt 2; exit 0", async () => {
  const { api, url } = await startApi();
  const client = open(url);
  try {
    const first = await startWorker(1_500);
    const long = await client.submit({ queue: "echo", input: value({ sleep_ms: 3_500, which: "long" }) });
    const short = await client.submit({ queue: "echo", input: value({ sleep_ms: 700, which: "short" }) });
    await running(client, long.id);
    await running(client, short.id);

    const signalledAt = Date.now();
    first.proc.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    // Bounded: the grace (1.5 s), the hand-back and closing the engine; the
    // long job did not run to its end there (it is QUEUED below).
    expect(Date.now() - signalledAt).toBeLessThan(8_000);
    expect(first.lines.some((l) => l.msg === "job handed back to its queue at shutdown")).toBe(true);

    const s = await client.getStatus({ id: short.id });
    expect(JobState[s.state]).toBe("COMPLETED");
    expect(s.attempt).toBe(1);
    // Not RUNNING on a worker that is gone: waiting for the next one.
    const l = await client.getStatus({ id: long.id });
    expect(JobState[l.state]).toBe("QUEUED");
    expect(l.attempt).toBe(1);

    const second = await startWorker(10_000);
    const done = await pollUntil(
      () => client.getStatus({ id: long.id }),
      (j) => j.state === JobState.COMPLETED,
      {
        what: `${long.id} COMPLETED on the second worker`,
        timeoutMs: 20_000,
      },
    );
    expect(done.attempt).toBe(2);
    expect((await client.getResult({ id: long.id })).output).toEqual(value({ sleep_ms: 3_500, which: "long" }));

    second.proc.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  } finally {
    client.close();
  }
  api.proc.kill("SIGTERM");
  expect(await api.exited).toBe(0);
});

it("SIGTERM on an API process: open StreamStatus streams end with UNAVAILABLE and it exits 0", async () => {
  const { api, url } = await startApi({ JETQ_SHUTDOWN_GRACE_MS: "1000" });
  const client = open(url);
  try {
    // Nobody works on it: the job stays QUEUED, so the stream stays open.
    const job = await client.submit({ queue: "echo", input: value({ waiting: true }) });
    const ac = new AbortController();
    const stream = client.streamStatus({ id: job.id }, { signal: ac.signal })[Symbol.asyncIterator]();
    const firstMessage = await stream.next();
    expect(firstMessage.done).toBe(false);
    expect(JobState[firstMessage.value!.state]).toBe("QUEUED");

    api.proc.kill("SIGTERM");
    const ended = (async () => {
      for (;;) {
        const r = await stream.next();
        if (r.done) throw new Error("stream ended without an error");
      }
    })();
    const err = await expectCode(ended, Code.Unavailable);
    expect(err.rawMessage).toMatch(/shutting down|closed/);
    expect(await api.exited).toBe(0);
    ac.abort();
  } finally {
    client.close();
  }
});

it("SIGTERM on `npm start` with a job running: not ready at once, a Submit during the grace is accepted (JetStream keeps it); exit 0; the next worker runs both jobs", async () => {
  const { api, url } = await startApi({ JETQ_WORKERS: "true", JETQ_SHUTDOWN_GRACE_MS: "4000" });
  const client = open(url);
  let longId: string;
  let lateId: string;
  try {
    // Outlives the grace: handed back at shutdown.
    longId = (await client.submit({ queue: "echo", input: value({ sleep_ms: 6_000, which: "long" }) })).id;
    await running(client, longId);

    api.proc.kill("SIGTERM");
    const notReady = await pollUntil(
      async () => {
        const res = await fetch(`${url}/readyz`);
        return { status: res.status, body: (await res.json()) as unknown };
      },
      (r) => r.status === 503,
      { what: "/readyz 503", timeoutMs: 3_500 },
    );
    expect(notReady.body).toEqual({ ready: false, reason: "server is shutting down" });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const late = await client.submit({ queue: "echo", input: value({ which: "late" }) });
    lateId = late.id;
    expect(JobState[late.state]).toBe("QUEUED");
    expect(await api.exited).toBe(0);
  } finally {
    client.close();
  }

  // Nothing was lost: another API process and a worker finish both jobs.
  const next = await startApi();
  const worker = await startWorker(10_000);
  const client2 = open(next.url);
  try {
    for (const [id, attempt] of [
      [lateId, 1],
      [longId, 2],
    ] as const) {
      const done = await pollUntil(
        () => client2.getStatus({ id }),
        (j) => j.state === JobState.COMPLETED,
        {
          what: `${id} COMPLETED`,
          timeoutMs: 20_000,
        },
      );
      expect(done.attempt).toBe(attempt);
    }
  } finally {
    client2.close();
  }
  worker.proc.kill("SIGTERM");
  next.api.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(await next.api.exited).toBe(0);
});
