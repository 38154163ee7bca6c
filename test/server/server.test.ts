/**
 * The server's own behaviour (validation, error mapping, Connect GET, stream
 * start and shutdown). Protocol coverage across clients is test/e2e's.
 */
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { ValueSchema, durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { JobOptionsSchema, JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { forEachEngine, uniqueQueue, waitFor } from "../worker/harness.js";

async function codeOf(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error("expected the call to fail");
}

forEachEngine("server", (env) => {
  let server: RunningServer;
  let client: Client<typeof QueueService>;
  let queue: string;

  beforeAll(async () => {
    server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
    client = createClient(QueueService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    queue = uniqueQueue("srv");
    await env.engine.declareQueue(queue);
  });
  afterAll(async () => {
    await server.close();
  });

  it("rejects bad requests with INVALID_ARGUMENT naming the field", async () => {
    const cases: [Promise<unknown>, string][] = [
      [client.submit({ queue: "Not A Queue" }), "queue:"],
      [client.submit({ queue, options: { maxAttempts: 0 } }), "options.max_attempts"],
      [client.submit({ queue, options: { maxAttempts: 101 } }), "options.max_attempts"],
      [client.submit({ queue, options: { timeout: durationFromMs(0) } }), "options.timeout"],
      [client.submit({ queue, options: { timeout: durationFromMs(-5_000) } }), "options.timeout"],
      [client.submit({ queue, options: { timeout: durationFromMs(25 * 3600_000) } }), "options.timeout"],
      [
        client.submit({ queue, options: { startDeadline: timestampFromMs(Date.now() - 3600_000) } }),
        "options.start_deadline",
      ],
      [client.submit({ queue, idempotencyKey: "k".repeat(300) }), "idempotency_key"],
      [client.getStatus({ id: "nope" }), "id:"],
      [client.getResult({ id: "" }), "id:"],
      [client.cancel({ id: "x-y-z" }), "id:"],
      [client.queueCount({ queue: "UPPER" }), "queue:"],
    ];
    for (const [call, field] of cases) {
      const { code, message } = await codeOf(call);
      expect(code, message).toBe(Code.InvalidArgument);
      expect(message.startsWith(field), message).toBe(true);
    }
  });

  it("accepts valid options and a missing input (null)", async () => {
    const job = await client.submit({
      queue,
      options: create(JobOptionsSchema, {
        maxAttempts: 3,
        timeout: durationFromMs(1_500),
        startDeadline: timestampFromMs(Date.now() + 60_000),
      }),
    });
    expect(job.state).toBe(JobState.QUEUED);
    const leases = await env.engine.fetch(queue, { max: 1, expiresMs: 2_000 });
    expect(leases).toHaveLength(1);
    const lease = leases[0]!;
    expect(lease.input).toBeNull();
    expect(lease.options).toMatchObject({ maxAttempts: 3, timeoutMs: 1_500 });
    await lease.release();
    await client.cancel({ id: job.id });
  });

  it("passes engine errors through (unknown queue → NOT_FOUND)", async () => {
    const { code, message } = await codeOf(client.submit({ queue: uniqueQueue("nobody") }));
    expect(code).toBe(Code.NotFound);
    expect(message).toContain("not found");
  });

  it("serves side-effect-free RPCs with Connect GET, and only those", async () => {
    const job = await client.submit({ queue, input: { kind: { case: "stringValue", value: "g" } } });
    const message = encodeURIComponent(JSON.stringify({ id: job.id }));
    const get = await fetch(`${server.url}/jetq.v1.QueueService/GetStatus?encoding=json&connect=v1&message=${message}`);
    expect(get.status).toBe(200);
    expect(((await get.json()) as { id: string }).id).toBe(job.id);
    const count = await fetch(
      `${server.url}/jetq.v1.QueueService/QueueCount?encoding=json&message=${encodeURIComponent(JSON.stringify({ queue }))}`,
    );
    expect(count.status).toBe(200);
    const submit = await fetch(
      `${server.url}/jetq.v1.QueueService/Submit?encoding=json&message=${encodeURIComponent("{}")}`,
    );
    expect(submit.status).toBe(405);
    await client.cancel({ id: job.id });
  });

  it("GetStatus include_input answers Job.input as submitted, over Connect and gRPC; unset without it", async () => {
    const input = { prompt: "héllo", n: [1, null, true], nested: { deep: {} } };
    const job = await client.submit({ queue, input: fromJson(ValueSchema, input) });
    const empty = await client.submit({ queue });
    const grpc = createClient(QueueService, createGrpcTransport({ baseUrl: server.url }));
    for (const c of [client, grpc]) {
      expect((await c.getStatus({ id: job.id })).input).toBeUndefined();
      const read = await c.getStatus({ id: job.id, includeInput: true });
      expect(toJson(ValueSchema, read.input!)).toStrictEqual(input);
      // A job submitted without input has a null one: a set Value, not a missing field.
      expect((await c.getStatus({ id: empty.id, includeInput: true })).input?.kind.case).toBe("nullValue");
    }
    await client.cancel({ id: job.id });
    const cancelled = await client.getStatus({ id: job.id, includeInput: true });
    expect(cancelled.state).toBe(JobState.CANCELLED);
    expect(toJson(ValueSchema, cancelled.input!)).toStrictEqual(input);
    await client.cancel({ id: empty.id });
  });

  it("sends a stream's first message at once, over HTTP/1.1 and HTTP/2", async () => {
    const job = await client.submit({ queue });
    for (const c of [
      client,
      createClient(QueueService, createConnectTransport({ baseUrl: server.url, httpVersion: "2" })),
      createClient(QueueService, createGrpcTransport({ baseUrl: server.url })),
    ]) {
      const abort = new AbortController();
      const t0 = Date.now();
      for await (const status of c.streamStatus({ id: job.id }, { signal: abort.signal })) {
        expect(status.state).toBe(JobState.QUEUED);
        break;
      }
      expect(Date.now() - t0).toBeLessThan(2_000);
      abort.abort();
    }
    await client.cancel({ id: job.id });
  });

  it("close() ends open streams with UNAVAILABLE and resolves promptly", async () => {
    const own = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
    const job = await client.submit({ queue });
    const clients = [
      createClient(QueueService, createConnectTransport({ baseUrl: own.url, httpVersion: "1.1" })),
      createClient(QueueService, createConnectTransport({ baseUrl: own.url, httpVersion: "2" })),
      createClient(QueueService, createGrpcTransport({ baseUrl: own.url })),
    ];
    let first = 0;
    const ends = clients.map(async (c) => {
      try {
        for await (const _status of c.streamStatus({ id: job.id })) first += 1;
        return "ended without error";
      } catch (err) {
        return ConnectError.from(err).code;
      }
    });
    await waitFor("every stream's first message", () => first === clients.length);
    const t0 = Date.now();
    await own.close();
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await Promise.all(ends)).toEqual([Code.Unavailable, Code.Unavailable, Code.Unavailable]);
    await waitFor("the engine's watches to close", () => env.api.stats().openWatches === 0);
    await client.cancel({ id: job.id });
  });
});

forEachEngine("server errors", (env) => {
  it("turns unexpected errors into INTERNAL without leaking their message", async () => {
    const broken = new Proxy(env.api, {
      get(target, prop, receiver) {
        if (prop === "getStatus") {
          return () => Promise.reject(new Error("password=hunter2 at db.internal:5432"));
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Engine;
    const server = await startServer({ engine: broken, port: 0, host: "127.0.0.1" });
    try {
      const client = createClient(QueueService, createGrpcTransport({ baseUrl: server.url }));
      const { code, message } = await codeOf(client.getStatus({ id: "q-00000000001-abcdefghijkl" }));
      expect(code).toBe(Code.Internal);
      expect(message).not.toContain("hunter2");
    } finally {
      await server.close();
    }
  });

  it("refuses a request over the size limit with RESOURCE_EXHAUSTED", async () => {
    const queue = uniqueQueue("big");
    await env.engine.declareQueue(queue);
    const server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1", readMaxBytes: 64 * 1024 });
    try {
      const client = createClient(QueueService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
      const big = "x".repeat(100 * 1024);
      const { code } = await codeOf(client.submit({ queue, input: { kind: { case: "stringValue", value: big } } }));
      expect(code).toBe(Code.ResourceExhausted);
    } finally {
      await server.close();
    }
  });
});

forEachEngine("grpc health", (env) => {
  it("answers GET /healthz and /readyz in plain HTTP, and unknown paths with a hint", async () => {
    const server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
    try {
      const ok = await fetch(`${server.url}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("ok\n");
      const ready = await fetch(`${server.url}/readyz?verbose=1`);
      expect(ready.status).toBe(200);
      expect(ready.headers.get("content-type")).toBe("application/json");
      expect(await ready.json()).toEqual({ ready: true });
      // "/" redirects to the dashboard (test/server/ui.test.ts); any other unknown path gets the hint.
      const other = await fetch(`${server.url}/nothing-here`);
      expect(other.status).toBe(404);
      expect(await other.text()).toContain("jetq.v1.QueueService");
    } finally {
      await server.close();
    }
  });

  it("answers grpc.health.v1 Check and Watch, NOT_SERVING once closing", async () => {
    const server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await client.check({ service: "jetq.v1.QueueService" })).status).toBe(ServingStatus.SERVING);
    expect((await codeOf(client.check({ service: "nope.Service" }))).code).toBe(Code.NotFound);

    const statuses: ServingStatus[] = [];
    const watching = (async () => {
      try {
        for await (const r of client.watch({ service: "" })) statuses.push(r.status);
      } catch {
        // the stream is cut at shutdown
      }
    })();
    await waitFor("the watch's first message", () => statuses.length === 1);
    expect(statuses[0]).toBe(ServingStatus.SERVING);
    await server.close();
    await watching;
    expect(statuses.at(-1)).toBe(ServingStatus.NOT_SERVING);
  });

  it("drain(): readiness fails at once while /healthz stays ok; Submits are refused on the embedded engine only; reads go on", async () => {
    const server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    const connect = createClient(QueueService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const grpc = createClient(QueueService, createGrpcTransport({ baseUrl: server.url }));
    const queue = uniqueQueue("drain");
    await env.engine.declareQueue(queue);
    try {
      const before = await connect.submit({ queue });
      const statuses: ServingStatus[] = [];
      const watching = (async () => {
        try {
          for await (const r of health.watch({ service: QueueService.typeName })) statuses.push(r.status);
        } catch {
          // the stream is cut at close
        }
      })();
      await waitFor("the watch's first message", () => statuses.length === 1);
      const fastPathBefore = server.fastPathCalls;

      server.drain();
      // At once: no wait for anything to notice.
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ ready: false, reason: "server is shutting down" });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      for (const service of ["", QueueService.typeName]) {
        expect((await health.check({ service })).status).toBe(ServingStatus.NOT_SERVING);
      }
      await waitFor("the watch to hear NOT_SERVING", () => statuses.at(-1) === ServingStatus.NOT_SERVING);
      expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);

      const submits = [
        () => connect.submit({ queue }),
        () => grpc.submit({ queue }),
        async () => {
          const jobs = [];
          for await (const job of connect.submitAndStream({ queue })) {
            jobs.push(job);
            break;
          }
          return jobs;
        },
      ];
      if (env.api.kind === "memory") {
        for (const call of submits) {
          const refused = await codeOf(call());
          expect(refused.code).toBe(Code.Unavailable);
          expect(refused.message).toMatch(/shutting down/);
        }
        expect(server.fastPathCalls).toBeGreaterThan(fastPathBefore);
        expect((await env.api.queueCount(queue)).inQueue).toBe(1);
      } else {
        // Durable in JetStream: accepted while draining, run by other instances.
        await Promise.all(submits.map((call) => call()));
        expect((await env.api.queueCount(queue)).inQueue).toBe(4);
      }
      expect((await connect.getStatus({ id: before.id })).state).toBe(JobState.QUEUED);
      await server.close();
      await watching;
    } finally {
      await server.close();
    }
  });
});

forEachEngine("undecodable binary requests", (env) => {
  it("answer INVALID_ARGUMENT naming the message type, in the client's protocol", async () => {
    const server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
    try {
      const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff]);
      // Connect unary, binary.
      const unary = await fetch(`${server.url}/jetq.v1.QueueService/Submit`, {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body: garbage,
      });
      expect(unary.status).toBe(400);
      const err = (await unary.json()) as { code: string; message: string };
      expect(err.code).toBe("invalid_argument");
      expect(err.message).toContain("jetq.v1.SubmitRequest");
      // Connect server stream, binary envelope: the error is in the end-of-stream message.
      const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]);
      const stream = await fetch(`${server.url}/jetq.v1.QueueService/StreamStatus`, {
        method: "POST",
        headers: { "content-type": "application/connect+proto" },
        body: envelope,
      });
      const text = Buffer.from(await stream.arrayBuffer()).toString("latin1");
      expect(text).toContain("invalid_argument");
      expect(text).toContain("jetq.v1.StreamStatusRequest");
      // A well-formed binary request still goes through.
      const ok = await createClient(
        QueueService,
        createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: true }),
      )
        .queueCount({ queue: uniqueQueue("unknown") })
        .catch((e: unknown) => ConnectError.from(e).code);
      expect(ok).toBe(Code.NotFound);
    } finally {
      await server.close();
    }
  });
});
