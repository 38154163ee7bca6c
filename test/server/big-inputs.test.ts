/**
 * A Submit of echo with a million log lines (14 MB, under the payload limit)
 * must not stall the server for other callers. Decoding a
 * google.protobuf.Value costs per value (a million short strings took
 * seconds of the event loop; a 14 MB string takes milliseconds), so inputs
 * over JETQ_MAX_INPUT_VALUES are refused after one pass over their bytes,
 * and a probe caller keeps its answers within 100 ms meanwhile (plus what
 * the machine's own load costs it: a control window of the same probe
 * without the big call, measured just before, sets that part). An input
 * under that limit with more lines than a job keeps is truncated, with the
 * bound visible in the job. Request bodies are built before the probe
 * starts: this process also runs the server.
 */
import * as http from "node:http";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { echo } from "../../src/handlers/echo.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";

const MILLION = 1_000_000;
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}`);

let engine: Engine;
let server: RunningServer;
let worker: Worker;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

beforeAll(async () => {
  engine = createMemoryEngine();
  server = await startServer({ engine, port: 0, host: "127.0.0.1" });
  worker = createWorker({ engine, queues: { echo } });
  await worker.start();
});
afterAll(async () => {
  agent.destroy();
  await worker.stop({ graceMs: 0 });
  await server.close();
  await engine.close();
});

interface Answer {
  status: number;
  body: Buffer;
}

function post(path: string, contentType: string, body: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}/jetq.v1.QueueService/${path}`,
      { method: "POST", agent, headers: { "content-type": contentType, "content-length": String(body.byteLength) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Runs call() while a probe caller asks QueueCount every few ms; the probe's worst and median latency. */
async function whileProbing<T>(
  call: () => Promise<T>,
): Promise<{ result: T; worstMs: number; medianMs: number; probes: number; controlWorstMs: number }> {
  const probeBody = json({ queue: "echo" });
  const latencies: number[] = [];
  let stop = false;
  const probing = (async () => {
    while (!stop) {
      const start = performance.now();
      const res = await post("QueueCount", "application/json", probeBody);
      latencies.push(performance.now() - start);
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  // The probe's connection is warm before the big call starts, and a
  // control window says what the machine's load alone costs the probe.
  while (latencies.length < 5) await new Promise((r) => setTimeout(r, 5));
  latencies.length = 0;
  await new Promise((r) => setTimeout(r, 300));
  const controlWorstMs = Math.max(...latencies);
  latencies.length = 0;
  const result = await call();
  // One probe more after the call: a stall it caused shows up in the probe after it.
  const seen = latencies.length;
  while (latencies.length < seen + 2) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await probing;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    result,
    worstMs: sorted.at(-1)!,
    medianMs: sorted[sorted.length >> 1]!,
    probes: sorted.length,
    controlWorstMs,
  };
}

/**
 * whileProbing() up to three times, until the probe's worst latency is
 * within 100 ms of its control window: a stall the big call causes shows in
 * every try, a burst of load from the rest of a parallel suite seldom does.
 */
async function probedWithin100Ms<T>(call: () => Promise<T>) {
  let measured = await whileProbing(call);
  for (let tries = 1; tries < 3 && measured.worstMs >= 100 + measured.controlWorstMs; tries++) {
    measured = await whileProbing(call);
  }
  return measured;
}

describe("a Submit of echo with a million log lines", () => {
  const message = `input: more than 100000 JSON values (JETQ_MAX_INPUT_VALUES); send fewer, larger values or store the data elsewhere and pass a reference`;

  it("in JSON (14 MB) is refused naming the limit, and a probe caller is answered within 100 ms throughout", async () => {
    const body = json({ queue: "echo", input: { logs: lines(MILLION) } });
    expect(body.byteLength).toBeGreaterThan(13_000_000);
    const { result, worstMs, medianMs, probes, controlWorstMs } = await probedWithin100Ms(() =>
      post("Submit", "application/json", body),
    );
    console.log(
      `JSON, ${body.byteLength} bytes: probe worst ${worstMs.toFixed(1)} ms, median ${medianMs.toFixed(1)} ms over ${probes} calls (control worst ${controlWorstMs.toFixed(1)} ms)`,
    );
    expect(result.status).toBe(429);
    expect(JSON.parse(result.body.toString())).toEqual({ code: "resource_exhausted", message });
    expect(worstMs).toBeLessThan(100 + controlWorstMs);
    expect((await engine.queueCount("echo")).inQueue).toBe(0);
  });

  it("in protobuf binary (15 MB) is refused the same way, and a probe caller is answered within 100 ms throughout", async () => {
    const body = submitLogsBinary(lines(MILLION));
    const { result, worstMs, medianMs, probes, controlWorstMs } = await probedWithin100Ms(() =>
      post("Submit", "application/proto", body),
    );
    console.log(
      `binary, ${body.byteLength} bytes: probe worst ${worstMs.toFixed(1)} ms, median ${medianMs.toFixed(1)} ms over ${probes} calls (control worst ${controlWorstMs.toFixed(1)} ms)`,
    );
    expect(result.status).toBe(429);
    expect(JSON.parse(result.body.toString())).toEqual({ code: "resource_exhausted", message });
    expect(worstMs).toBeLessThan(100 + controlWorstMs);
  });

  it("under the value limit (50,000 lines) runs, and the job keeps 1,000 lines and says how many were dropped", async () => {
    const body = json({ queue: "echo", input: { logs: lines(50_000) } });
    const { result, worstMs, medianMs, probes, controlWorstMs } = await whileProbing(async () => {
      const submitted = await post("Submit", "application/json", body);
      expect(submitted.status).toBe(200);
      const id = (JSON.parse(submitted.body.toString()) as { id: string }).id;
      for (;;) {
        const s = JSON.parse((await post("GetStatus", "application/json", json({ id }))).body.toString()) as {
          state: string;
        };
        if (s.state === "JOB_STATE_COMPLETED") return id;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    // Figures only: decoding 50,000 values and echoing them back is real work on a shared machine.
    console.log(
      `50,000 lines accepted and run: probe worst ${worstMs.toFixed(1)} ms, median ${medianMs.toFixed(1)} ms over ${probes} calls (control worst ${controlWorstMs.toFixed(1)} ms)`,
    );
    const status = JSON.parse(
      (await post("GetStatus", "application/json", json({ id: result, includeLogs: true }))).body.toString(),
    ) as {
      logs: Array<{ message: string; source: string }>;
    };
    expect(status.logs).toHaveLength(1_002);
    expect(status.logs.filter((l) => l.source === "handler").map((l) => l.message)).toEqual(lines(1_000));
    expect(status.logs.at(-1)!.source).toBe("jetq");
    expect(status.logs.at(-1)!.message).toMatch(
      /^49000 log lines \(\d+ characters\) of this attempt were dropped: over 1000 lines or 256 KiB per attempt/,
    );
  });
});

/**
 * SubmitRequest{queue: "echo", input: {"logs": lines}} in protobuf binary,
 * written directly (protobuf-es takes seconds to build a million Values).
 */
function submitLogsBinary(logLines: string[]): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (tag: number, payload: Buffer) => Buffer.concat([Buffer.from([tag]), varint(payload.length), payload]);
  // Value{string_value = 3}, each a ListValue.values (1) entry.
  const values = logLines.map((l) => field(0x0a, field(0x1a, Buffer.from(l))));
  const list = field(0x32, Buffer.concat(values)); // Value.list_value = 6
  const entry = Buffer.concat([field(0x0a, Buffer.from("logs")), field(0x12, list)]); // key 1, value 2
  const struct = field(0x2a, field(0x0a, entry)); // Value.struct_value = 5 { fields = 1 }
  return Buffer.concat([field(0x0a, Buffer.from("echo")), field(0x12, struct)]); // queue 1, input 2
}
