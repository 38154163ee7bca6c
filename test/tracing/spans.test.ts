/**
 * OpenTelemetry traces with the SDK installed as the entry points install it
 * (src/tracing/sdk.ts), exporting to an InMemorySpanExporter: a Submit with
 * a traceparent, over Connect (fast path), gRPC, REST and SubmitAndStream,
 * on both engines, gives jetq.submit (child of the client's span),
 * jetq.queue_wait and jetq.run (children of jetq.submit) in the client's
 * trace, and the handler runs with jetq.run as its active span.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as grpc from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace";
import { create } from "@bufbuild/protobuf";
import {
  QueueService,
  SubmitAndStreamRequestSchema,
  SubmitRequestSchema,
  type Job,
} from "../../gen/jetq/v1/queue_pb.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { installTracing, type InstalledTracing } from "../../src/tracing/sdk.js";
import type { Engine } from "../../src/engine/types.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { ENGINES, uniqueQueue, type EngineBackend } from "../helpers/engines.js";
import { createGrpcJsClient, readGrpcJsStream, type GrpcJsClient } from "../helpers/grpc-js.js";
import { clientSpan, reportTrace, resultOf, waitFor, type ClientSpan, type SeenTrace } from "./harness.js";

const exporter = new InMemorySpanExporter();
let tracing: InstalledTracing | undefined;
beforeAll(() => {
  tracing = installTracing({ serviceName: "jetq-test", exporter, immediate: true });
});
afterAll(async () => tracing?.shutdown());

/** The three spans of one job, once all ended. */
function spansOf(traceId: string, jobId: string): Record<"submit" | "wait" | "run", ReadableSpan> {
  const find = (name: string) =>
    exporter
      .getFinishedSpans()
      .find(
        (s) =>
          s.name === name &&
          s.spanContext().traceId === traceId &&
          (name !== "jetq.submit" || s.attributes["jetq.job.id"] === jobId),
      );
  return waitFor(`the spans of ${jobId}`, () => {
    const [submit, wait, run] = [find("jetq.submit"), find("jetq.queue_wait"), find("jetq.run")];
    return submit && wait && run ? { submit, wait, run } : undefined;
  }) as never;
}

/** The three spans in the client's trace, parented as the README says; the handler ran in jetq.run. */
async function expectTraced(client: ClientSpan, jobId: string, seen: SeenTrace): Promise<void> {
  expect(seen.activeTraceId).toBe(client.traceId);
  expect(seen.ctxTraceId).toBe(client.traceId);
  const { submit, wait, run } = await spansOf(client.traceId, jobId);
  expect(submit.parentSpanContext?.spanId).toBe(client.spanId);
  expect(wait.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
  expect(run.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
  expect(seen.activeSpanId).toBe(run.spanContext().spanId);
  expect(run.attributes).toMatchObject({ "jetq.job.id": jobId, "jetq.attempt": 1 });
  expect(wait.resource.attributes["service.name"]).toBe("jetq-test");
}

describe.each(ENGINES)("traces [$name engine]", (kind) => {
  let backend: EngineBackend | undefined;
  let engine: Engine;
  let worker: Worker | undefined;
  let server: RunningServer | undefined;
  let grpcClient: GrpcJsClient | undefined;
  const queue = uniqueQueue("traced");

  beforeAll(async () => {
    backend = await kind.start();
    engine = await backend.open();
    worker = createWorker({ engine, queues: { [queue]: reportTrace } });
    await worker.start();
    server = await startServer({ engine, port: 0, host: "127.0.0.1" });
    grpcClient = createGrpcJsClient(server.url);
  });
  afterAll(async () => {
    grpcClient?.close();
    await worker?.stop({ graceMs: 0 });
    await server?.close();
    await backend?.stop();
  });

  const seenOf = async (id: string) => (await resultOf(engine, id)).output as unknown as SeenTrace;

  it("Connect (the fast path): the client's traceparent starts the job's trace", async () => {
    const client = clientSpan();
    const before = server!.fastPathCalls;
    const res = await fetch(`${server!.url}/jetq.v1.QueueService/Submit`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: client.traceparent, tracestate: "v=1" },
      body: JSON.stringify({ queue, input: {} }),
    });
    const { id } = (await res.json()) as { id: string };
    expect(server!.fastPathCalls).toBe(before + 1);
    await expectTraced(client, id, await seenOf(id));
    const { submit } = await spansOf(client.traceId, id);
    expect(submit.spanContext().traceState?.get("v")).toBe("1");
  });

  it("gRPC: traceparent metadata", async () => {
    const client = clientSpan();
    const metadata = new Metadata();
    metadata.set("traceparent", client.traceparent);
    const job = await new Promise<Job>((resolve, reject) =>
      (grpcClient!.Submit as (r: unknown, m: Metadata, cb: (e: Error | null, j: Job) => void) => void)(
        create(SubmitRequestSchema, { queue }),
        metadata,
        (err, j) => (err ? reject(err) : resolve(j)),
      ),
    );
    await expectTraced(client, job.id, await seenOf(job.id));
  });

  it("gRPC SubmitAndStream: the submit span ends with the first status; the stream's output shows the trace", async () => {
    const client = clientSpan();
    const metadata = new Metadata();
    metadata.set("traceparent", client.traceparent);
    const call = (grpcClient!.SubmitAndStream as (r: unknown, m: Metadata) => grpc.ClientReadableStream<Job>)(
      create(SubmitAndStreamRequestSchema, { queue, includeOutput: true }),
      metadata,
    );
    let last: Job | undefined;
    for await (const job of readGrpcJsStream(call)) last = job;
    expect(last?.output).toBeDefined();
    await expectTraced(client, last!.id, await seenOf(last!.id));
  });

  it("gRPC-Web (connect-es): the traceparent header", async () => {
    const client = clientSpan();
    const web = createClient(QueueService, createGrpcWebTransport({ baseUrl: server!.url, httpVersion: "1.1" }));
    const job = await web.submit({ queue }, { headers: { traceparent: client.traceparent } });
    await expectTraced(client, job.id, await seenOf(job.id));
  });

  it("REST: POST /queue/{queue} with a traceparent header", async () => {
    const client = clientSpan();
    const res = await fetch(`${server!.url}/queue/${queue}`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: client.traceparent },
      body: "{}",
    });
    expect(res.status).toBe(202);
    const { request_id: id } = (await res.json()) as { request_id: string };
    await expectTraced(client, id, await seenOf(id));
  });

  it("without a traceparent (or with a malformed one) jetq.submit starts a new trace the run continues", async () => {
    for (const traceparent of [undefined, "00-not-a-traceparent-01"]) {
      const res = await fetch(`${server!.url}/jetq.v1.QueueService/Submit`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(traceparent ? { traceparent } : {}) },
        body: JSON.stringify({ queue, input: {} }),
      });
      expect(res.status).toBe(200);
      const { id } = (await res.json()) as { id: string };
      const seen = await seenOf(id);
      const submit = await waitFor("the submit span", () =>
        exporter.getFinishedSpans().find((s) => s.name === "jetq.submit" && s.attributes["jetq.job.id"] === id),
      );
      expect(submit.parentSpanContext).toBeUndefined();
      expect(seen.activeTraceId).toBe(submit.spanContext().traceId);
      expect(seen.ctxTraceId).toBe(submit.spanContext().traceId);
      const { run } = await spansOf(submit.spanContext().traceId, id);
      expect(run.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
    }
  });
});
