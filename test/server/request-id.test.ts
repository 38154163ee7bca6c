/**
 * Request ids (README "Logs"): an incoming X-Request-Id is echoed as
 * x-request-id over Connect (fast path and connect-es), gRPC, gRPC-Web and
 * REST; a missing or bad one (over 128 characters, not printable ASCII) is
 * replaced by a generated one; the per-RPC log line (info) carries it with
 * the method, code, duration and the tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Metadata } from "@grpc/grpc-js";
import { QueueService, QueueCountRequestSchema } from "../../gen/jetq/v1/queue_pb.js";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { echo } from "../../src/handlers/echo.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { captureLogger } from "../auth/harness.js";
import { createGrpcJsClient, type GrpcJsClient } from "../helpers/grpc-js.js";

interface RpcLine {
  level: number;
  msg: string;
  rpc: string;
  method: string;
  code: string;
  ms: number;
  requestId: string;
  tenant?: string;
}

const GENERATED = /^[0-9A-Za-z]{12}$/;

describe("request ids", () => {
  let engine: Engine | undefined;
  let worker: Worker | undefined;
  let server: RunningServer | undefined;
  let keyed: RunningServer | undefined;
  let grpcClient: GrpcJsClient | undefined;
  const log = captureLogger();

  beforeAll(async () => {
    engine = createMemoryEngine();
    worker = createWorker({ engine, queues: { echo } });
    await worker.start();
    server = await startServer({ engine, port: 0, host: "127.0.0.1", logger: log.logger });
    keyed = await startServer({
      engine,
      port: 0,
      host: "127.0.0.1",
      logger: log.logger,
      apiKeys: [{ key: "k-acme", tenant: "acme" }],
    });
    grpcClient = createGrpcJsClient(server.url);
  });
  afterAll(async () => {
    grpcClient?.close();
    await worker?.stop({ graceMs: 0 });
    await server?.close();
    await keyed?.close();
    await engine?.close();
  });

  /** The one "rpc" log line of a request id (none yet: undefined). */
  const lineOf = (requestId: string): RpcLine | undefined =>
    log
      .text()
      .split("\n")
      .filter((l) => l.includes('"msg":"rpc"'))
      .map((l) => JSON.parse(l) as RpcLine)
      .find((l) => l.requestId === requestId);

  const connectSubmit = (url: string, headers: Record<string, string>) =>
    fetch(`${url}/jetq.v1.QueueService/Submit`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ queue: "echo", input: {} }),
    });

  it("Connect (fast path): echoed, and on the info-level log line with method, code and duration", async () => {
    const before = server!.fastPathCalls;
    const res = await connectSubmit(server!.url, { "x-request-id": "req-connect 1" });
    expect(res.status).toBe(200);
    expect(server!.fastPathCalls).toBe(before + 1);
    expect(res.headers.get("x-request-id")).toBe("req-connect 1");
    expect(lineOf("req-connect 1")).toMatchObject({
      level: 30,
      rpc: "jetq.v1.QueueService/Submit",
      method: "POST",
      code: "ok",
      ms: expect.any(Number),
    });
    expect(lineOf("req-connect 1")!.tenant).toBeUndefined();
  });

  it("Connect through connect-es (a GET), gRPC-Web: echoed and logged", async () => {
    const { id: jobId } = (await (await connectSubmit(server!.url, {})).json()) as { id: string };
    for (const [name, transport] of [
      ["connect-get", createConnectTransport({ baseUrl: server!.url, httpVersion: "1.1", useHttpGet: true })],
      ["grpc-web", createGrpcWebTransport({ baseUrl: server!.url, httpVersion: "1.1" })],
    ] as const) {
      const client = createClient(QueueService, transport);
      let echoed: string | null = null;
      const id = `req-${name}`;
      await client.getStatus(
        { id: jobId },
        { headers: { "x-request-id": id }, onHeader: (h) => (echoed = h.get("x-request-id")) },
      );
      expect(echoed, name).toBe(id);
      expect(lineOf(id), name).toMatchObject({ rpc: "jetq.v1.QueueService/GetStatus", code: "ok" });
    }
  });

  it("gRPC (@grpc/grpc-js): echoed in the response metadata and logged", async () => {
    const metadata = new Metadata();
    metadata.set("x-request-id", "req-grpc");
    const echoed = await new Promise<string | undefined>((resolve, reject) => {
      const call = (
        grpcClient!.QueueCount as (r: unknown, m: Metadata, cb: (e: Error | null) => void) => NodeJS.EventEmitter
      )(create(QueueCountRequestSchema, { queue: "echo" }), metadata, (err) => err && reject(err));
      call.on("metadata", (m: Metadata) => resolve(m.get("x-request-id")[0]?.toString()));
    });
    expect(echoed).toBe("req-grpc");
    await expect.poll(() => lineOf("req-grpc")).toMatchObject({ rpc: "jetq.v1.QueueService/QueueCount", code: "ok" });
  });

  it("REST: echoed on the answer and logged as its RPC; generated when absent", async () => {
    const res = await fetch(`${server!.url}/queue/echo`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-rest" },
      body: "{}",
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-request-id")).toBe("req-rest");
    expect(lineOf("req-rest")).toMatchObject({ rpc: "jetq.v1.QueueService/Submit", method: "POST", code: "ok" });

    const count = await fetch(`${server!.url}/queue/echo/count`);
    const generated = count.headers.get("x-request-id")!;
    expect(generated).toMatch(GENERATED);
    expect(lineOf(generated)).toMatchObject({ rpc: "jetq.v1.QueueService/QueueCount", method: "GET" });
  });

  it("a missing, too long or unprintable X-Request-Id is replaced by a generated one, different each call", async () => {
    const seen = new Set<string>();
    for (const bad of [undefined, "x".repeat(129), "caf\u00e9"]) {
      const res = await connectSubmit(server!.url, bad === undefined ? {} : { "x-request-id": bad });
      expect(res.status).toBe(200);
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(GENERATED);
      expect(lineOf(id)).toMatchObject({ rpc: "jetq.v1.QueueService/Submit", code: "ok" });
      seen.add(id);
    }
    expect(seen.size).toBe(3);
    // 128 printable characters are taken as they are.
    const longest = "y".repeat(128);
    expect((await connectSubmit(server!.url, { "x-request-id": longest })).headers.get("x-request-id")).toBe(longest);
  });

  it("with API keys the line names the caller's tenant; a refused call still echoes its id", async () => {
    const ok = await connectSubmit(keyed!.url, { "x-request-id": "req-acme", authorization: "Bearer k-acme" });
    expect(ok.status).toBe(200);
    expect(lineOf("req-acme")).toMatchObject({ tenant: "acme", code: "ok" });
    const refused = await fetch(`${keyed!.url}/jetq.v1.QueueService/QueueCount`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-refused" },
      body: JSON.stringify({ queue: "echo" }),
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toBe("req-refused");
  });
});
