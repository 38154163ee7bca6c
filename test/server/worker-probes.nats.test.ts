/**
 * `npm run worker` with JETQ_PROBE_PORT: /healthz says it is alive, /readyz
 * whether it can work (NATS reachable, not stopping). Real processes, a real
 * nats-server killed and restarted.
 */
import { expect, it } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { PROTOCOLS } from "../e2e/clients.js";
import { pollUntil, value } from "../e2e/harness.js";
import { freePort } from "../helpers/free-port.js";
import { startApiProcess, startProcess, useNatsForProcesses } from "./process.js";

const backend = useNatsForProcesses();

const probe = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
};

it("the worker's probe port: ready, 503 while nats-server is down and 200 again after, 503 at once on SIGTERM while /healthz stays 200", async () => {
  const probePort = await freePort();
  const base = `http://127.0.0.1:${probePort}`;
  const worker = startProcess("worker", {
    NATS_URL: backend.nats.url,
    HOST: "127.0.0.1",
    JETQ_PROBE_PORT: String(probePort),
    JETQ_SHUTDOWN_GRACE_MS: "10000",
  });
  await worker.waitForLine((l) => l.msg === "worker started");
  expect(await probe(`${base}/healthz`)).toEqual({ status: 200, body: "ok\n" });
  expect(await probe(`${base}/readyz`)).toEqual({ status: 200, body: '{"ready":true}\n' });
  expect((await probe(`${base}/`)).status).toBe(404);

  await backend.nats.kill();
  const down = await pollUntil(
    () => probe(`${base}/readyz`),
    (r) => r.status === 503,
    {
      what: "/readyz 503 with nats-server down",
      timeoutMs: 5_000,
    },
  );
  expect(JSON.parse(down.body)).toEqual({ ready: false, reason: "NATS connection lost (reconnecting)" });
  expect((await probe(`${base}/healthz`)).status).toBe(200);
  await backend.nats.restart();
  await pollUntil(
    () => probe(`${base}/readyz`),
    (r) => r.status === 200,
    { what: "/readyz 200 again", timeoutMs: 20_000 },
  );

  // A job holds the grace open while the probe is read; it finishes within it.
  const { api, url } = await startApiProcess(backend.nats.url);
  const client = PROTOCOLS.find((p) => p.name === "connect+proto h2c")!.open(url);
  try {
    const job = await client.submit({ queue: "echo", input: value({ sleep_ms: 4_000 }) });
    await pollUntil(
      () => client.getStatus({ id: job.id }),
      (j) => j.state === JobState.RUNNING,
      {
        what: "the job RUNNING",
        timeoutMs: 15_000,
      },
    );
    worker.proc.kill("SIGTERM");
    const stopping = await pollUntil(
      () => probe(`${base}/readyz`),
      (r) => r.status === 503,
      {
        what: "/readyz 503 on SIGTERM",
        timeoutMs: 3_500,
      },
    );
    expect(JSON.parse(stopping.body)).toEqual({ ready: false, reason: "worker is shutting down" });
    expect((await probe(`${base}/healthz`)).status).toBe(200);
    expect(await worker.exited).toBe(0);
    expect(JobState[(await client.getStatus({ id: job.id })).state]).toBe("COMPLETED");
  } finally {
    client.close();
  }
  api.proc.kill("SIGTERM");
  expect(await api.exited).toBe(0);
});
