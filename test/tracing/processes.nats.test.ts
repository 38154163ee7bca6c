/**
 * Traces across processes, as deployed: an API process (`npm start`, no
 * workers) and a separate worker process on NATS, both exporting OTLP to a
 * collector this test runs. The handler's view of its trace comes back in the
 * job's output; the collector sees jetq.submit from the API process and
 * jetq.queue_wait and jetq.run from the worker, all in the client's trace.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApiProcess, startProcess, useNatsForProcesses } from "../server/process.js";
import { uniqueQueue } from "../helpers/engines.js";
import { clientSpan, waitFor, type SeenTrace } from "./harness.js";

const backend = useNatsForProcesses();

/** OTLP/HTTP requests received (protobuf bodies), by path. */
const received: { path: string; body: Buffer }[] = [];
let collector: Server | undefined;
let collectorUrl = "";
beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => collector!.listen(0, "127.0.0.1", resolve));
  const address = collector.address();
  collectorUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((resolve) => (collector ? collector.close(() => resolve()) : resolve())));

async function rpc<T>(url: string, method: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

it("a separate worker process continues the client's trace; each process exports its spans", async () => {
  const queue = uniqueQueue("traced");
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_BSP_SCHEDULE_DELAY: "50" };
  const worker = startProcess("test/tracing/fixtures/traced-worker.ts", {
    ...otel,
    NATS_URL: backend.nats.url,
    TRACED_QUEUE: queue,
  });
  await worker.waitForLine((l) => l.msg === "worker started");
  expect(worker.lines.some((l) => l.msg.startsWith("tracing: exporting spans (otlp)"))).toBe(true);
  const { api, url } = await startApiProcess(backend.nats.url, otel);

  const client = clientSpan();
  const job = await rpc<{ id: string }>(url, "Submit", { queue, input: {} }, { traceparent: client.traceparent });
  let state = "";
  const deadline = Date.now() + 15_000;
  while (state !== "JOB_STATE_COMPLETED" && Date.now() < deadline) {
    state = (await rpc<{ state: string }>(url, "GetStatus", { id: job.id })).state;
    if (state !== "JOB_STATE_COMPLETED") await new Promise((r) => setTimeout(r, 25));
  }
  expect(state).toBe("JOB_STATE_COMPLETED");
  const seen = (await rpc<{ output: SeenTrace }>(url, "GetResult", { id: job.id })).output;
  expect(seen.activeTraceId).toBe(client.traceId);
  expect(seen.ctxTraceId).toBe(client.traceId);

  // The OTLP bodies (protobuf): ids are raw bytes, names and service names plain strings.
  const traceBytes = Buffer.from(client.traceId, "hex");
  const exported = (span: string, service: string) =>
    received.find(
      (r) =>
        r.path === "/v1/traces" &&
        r.body.includes(traceBytes) &&
        r.body.includes(span) &&
        r.body.includes(Buffer.from([0x0a, service.length, ...Buffer.from(service)])),
    );
  await waitFor("jetq.submit from the API process", () => exported("jetq.submit", "jetq"));
  await waitFor("jetq.run from the worker process", () => exported("jetq.run", "jetq-worker"));
  await waitFor("jetq.queue_wait from the worker process", () => exported("jetq.queue_wait", "jetq-worker"));

  worker.proc.kill("SIGTERM");
  api.proc.kill("SIGTERM");
  expect(await worker.exited).toBe(0);
  expect(await api.exited).toBe(0);
});
