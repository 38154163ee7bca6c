/**
 * Issue 14, "must show" 2: client.subscribe() against jetq processes on
 * NATS. The API process is killed (-9) mid-job and started again on the
 * same port: the status stream breaks, the SDK reconnects and returns the
 * job's output. timeoutMs bounds the wait (also while nothing answers);
 * a failing job rejects with a JobError carrying the handler's message.
 */
import { createJetqClient, Code, JetqError, JobError, type Job } from "@jetq/client";
import { expect, test } from "vitest";
import { crash } from "../crash/harness.js";
import { startApiProcess, startProcess, useNatsForProcesses } from "../server/process.js";

const backend = useNatsForProcesses();

async function startWorker() {
  const worker = startProcess("worker", { NATS_URL: backend.nats.url });
  await worker.waitForLine((l) => l.msg === "worker started", 30_000);
  return worker;
}

/** `npm start` without workers on a given port (a restart keeps the client's URL). */
async function startApiOn(port: string) {
  const api = startProcess("start", {
    PORT: port,
    HOST: "127.0.0.1",
    NATS_URL: backend.nats.url,
    JETQ_WORKERS: "false",
  });
  await api.waitForLine((l) => l.msg.includes("listening"), 30_000);
  return api;
}

test("the API process killed and restarted mid-job: subscribe() resumes and returns the output", async () => {
  await startWorker();
  const first = await startApiProcess(backend.nats.url);
  const port = new URL(first.url).port;
  const client = createJetqClient({ baseUrl: first.url });

  const updates: Job[] = [];
  let sawRunning!: () => void;
  const running = new Promise<void>((resolve) => (sawRunning = resolve));
  const input = { marker: "survives", sleep_ms: 3_000, progress: 6 };
  const result = client.subscribe("echo", input, {
    timeoutMs: 60_000,
    onUpdate: (job) => {
      updates.push(job);
      if (job.state === "RUNNING") sawRunning();
    },
  });
  await running;
  const updatesBeforeCrash = updates.length;
  await crash(first.api);
  await startApiOn(port);

  const done = await result;
  expect(done.output).toEqual(input);
  expect(done.job.state).toBe("COMPLETED");
  expect(new Set(updates.map((u) => u.id))).toEqual(new Set([done.id]));
  // The terminal status came over a stream opened after the kill.
  expect(updates.length).toBeGreaterThan(updatesBeforeCrash);
  expect(updates.at(-1)?.state).toBe("COMPLETED");
}, 90_000);

test("timeoutMs: subscribe() rejects with DEADLINE_EXCEEDED once it passed, the server up or gone", async () => {
  await startWorker();
  const { api, url } = await startApiProcess(backend.nats.url);
  const client = createJetqClient({ baseUrl: url });

  let id: string | undefined;
  const t0 = Date.now();
  const err = await client
    .subscribe("echo", { sleep_ms: 30_000 }, { timeoutMs: 1_000, onEnqueue: (jobId) => (id = jobId) })
    .catch((e: unknown) => e);
  const waited = Date.now() - t0;
  expect(err).toBeInstanceOf(JetqError);
  expect((err as JetqError).code).toBe(Code.DeadlineExceeded);
  expect((err as JetqError).jobId).toBe(id);
  expect(waited).toBeGreaterThanOrEqual(1_000);
  // A bound on hanging, not on speed: far below the job's 30 s.
  expect(waited).toBeLessThan(15_000);
  await client.job(id!).cancel();

  // Nothing listens any more: reconnect attempts stop at the deadline too.
  await crash(api);
  const t1 = Date.now();
  const gone = await client.subscribe("echo", {}, { timeoutMs: 1_500 }).catch((e: unknown) => e);
  expect(gone).toBeInstanceOf(JetqError);
  expect((gone as JetqError).code).toBe(Code.DeadlineExceeded);
  expect(Date.now() - t1).toBeLessThan(15_000);
}, 60_000);

test("a failing job rejects with JobError carrying the handler's message, not a JetqError", async () => {
  await startWorker();
  const { url } = await startApiProcess(backend.nats.url);
  const client = createJetqClient({ baseUrl: url });

  const err = await client
    .subscribe("echo", { fail: "the model ran out of memory", permanent: true })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(JobError);
  expect(err).not.toBeInstanceOf(JetqError);
  const jobError = err as JobError;
  expect(jobError.state).toBe("FAILED");
  expect(jobError.code).toBe("HANDLER_ERROR");
  expect(jobError.rawMessage).toBe("the model ran out of memory");
  expect(jobError.job.error).toEqual({ code: "HANDLER_ERROR", message: "the model ran out of memory" });

  // The same job through a handle: wait() rejects the same way, result() tells the outcome.
  const handle = client.job(jobError.jobId);
  await expect(handle.wait()).rejects.toBeInstanceOf(JobError);
  expect(await handle.result()).toMatchObject({ state: "FAILED", output: undefined });
}, 60_000);
