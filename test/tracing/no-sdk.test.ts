/**
 * Tracing off in this process (no SDK registered): no tracer, no span, yet a
 * job submitted with a trace context still tells its handler the trace id
 * (ctx.traceId), and one without tells it none.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { trace } from "@opentelemetry/api";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { activeTracer } from "../../src/tracing/spans.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { clientSpan, reportTrace, resultOf, type SeenTrace } from "./harness.js";

const engine = createMemoryEngine();
let worker: Worker | undefined;
beforeAll(async () => {
  worker = createWorker({ engine, queues: { traced: reportTrace } });
  await worker.start();
});
afterAll(async () => {
  await worker?.stop({ graceMs: 0 });
  await engine.close();
});

it("no tracer; ctx.traceId from the job's context; no active span", async () => {
  expect(activeTracer()).toBeUndefined();
  const client = clientSpan();
  const traced = await engine.submit({ queue: "traced", input: null, trace: { traceparent: client.traceparent } });
  const plain = await engine.submit({ queue: "traced", input: null });
  expect((await resultOf(engine, traced.id)).output as unknown as SeenTrace).toEqual({
    activeTraceId: null,
    activeSpanId: null,
    ctxTraceId: client.traceId,
  });
  expect((await resultOf(engine, plain.id)).output as unknown as SeenTrace).toEqual({
    activeTraceId: null,
    activeSpanId: null,
    ctxTraceId: null,
  });
  // What the API answers with no SDK: its no-op, recording nothing.
  expect(trace.getTracer("x").startSpan("y").isRecording()).toBe(false);
});
