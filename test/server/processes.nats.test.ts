/**
 * The split deployment (docker-compose): an API process without workers and a
 * worker-only process, meeting only through nats-server.
 */
import { expect, it } from "vitest";
import { startApiProcess, startProcess, useNatsForProcesses } from "./process.js";

const backend = useNatsForProcesses();

async function rpc<T>(url: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

it("npm run worker without NATS_URL explains that it needs one and exits 1", async () => {
  const worker = startProcess("worker", {});
  expect(await worker.exited).toBe(1);
  expect(worker.lines.map((l) => l.msg).join("\n")).toContain("NATS_URL is not set");
});

it("an API process without workers and a worker process run echo jobs together; both exit 0 on SIGTERM", async () => {
  const { api, url } = await startApiProcess(backend.nats.url);
  expect(api.lines[0]!.msg).toContain(`NATS JetStream at ${backend.nats.url}`);

  const worker = startProcess("worker", { NATS_URL: backend.nats.url });
  await worker.waitForLine((l) => l.msg === "worker started");

  const job = await rpc<{ id: string }>(url, "Submit", { queue: "echo", input: { split: true } });
  const deadline = Date.now() + 15_000;
  let state = "";
  while (state !== "JOB_STATE_COMPLETED" && Date.now() < deadline) {
    state = (await rpc<{ state: string }>(url, "GetStatus", { id: job.id })).state;
    if (state !== "JOB_STATE_COMPLETED") await new Promise((r) => setTimeout(r, 25));
  }
  expect(state).toBe("JOB_STATE_COMPLETED");
  expect((await rpc<{ output: unknown }>(url, "GetResult", { id: job.id })).output).toEqual({ split: true });

  worker.proc.kill("SIGTERM");
  api.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(await api.exited).toBe(0);
});
