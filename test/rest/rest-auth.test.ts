/**
 * The REST endpoints authenticate, isolate tenants and allow browsers as the
 * RPCs do: they call the same service through the same interceptors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { startTestServer, type TestServer } from "../../src/testing.js";
import { curl } from "./curl.js";

describe("REST with API keys (memory)", () => {
  let server: TestServer;
  const alice = { Authorization: "Bearer key-alice" };
  const bob = { Authorization: "Bearer key-bob" };

  beforeAll(async () => {
    server = await startTestServer({
      apiKeys: [
        { key: "key-alice", tenant: "alice" },
        { key: "key-bob", tenant: "bob" },
        { key: "key-reader", tenant: "alice", role: "reader" },
      ],
      corsOrigins: ["https://app.example.com"],
    });
  });
  afterAll(() => server?.close());

  it("no key or a wrong one: 401 JSON with WWW-Authenticate, on every endpoint", async () => {
    const id = "echo-00000000001-AAAAAAAAAAAA";
    for (const [method, path] of [
      ["POST", "/queue/echo"],
      ["GET", `/queue/requests/${id}/status`],
      ["GET", `/queue/requests/${id}/status/stream`],
      ["GET", `/queue/requests/${id}`],
      ["PUT", `/queue/requests/${id}/cancel`],
      ["GET", "/queue/echo/count"],
    ] as const) {
      const answer = await curl(method, `${server.url}${path}`, method === "POST" ? { body: "{}" } : {});
      expect(answer.status, path).toBe(401);
      expect(answer.body.error.code, path).toBe("unauthenticated");
      expect(answer.headers.toLowerCase(), path).toContain('www-authenticate: bearer realm="jetq"');
    }
    const wrong = await curl("GET", `${server.url}/queue/echo/count`, { headers: { Authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
  });

  it("another tenant's job is not found; the owner sees it", async () => {
    const submitted = await curl("POST", `${server.url}/queue/echo`, { body: '{"x":1}', headers: alice });
    expect(submitted.status).toBe(202);
    const { status_url, response_url, cancel_url } = submitted.body;
    for (const url of [status_url, response_url, `${status_url}/stream`]) {
      const answer = await curl("GET", url, { headers: bob });
      expect(answer.status, url).toBe(404);
      expect(answer.body.error.code).toBe("not_found");
    }
    expect((await curl("PUT", cancel_url, { headers: bob })).body.status).toBe("NOT_FOUND");
    expect((await curl("GET", status_url, { headers: alice })).status).toBe(200);
  });

  it("roles: a reader may not submit (403)", async () => {
    const answer = await curl("POST", `${server.url}/queue/echo`, {
      body: "{}",
      headers: { Authorization: "Bearer key-reader" },
    });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe("permission_denied");
  });

  it("CORS: a preflight for PUT with Idempotency-Key and Last-Event-ID is allowed for a listed origin", async () => {
    const res = await fetch(`${server.url}/queue/requests/x/cancel`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, idempotency-key, last-event-id",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-methods")).toContain("PUT");
    const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase();
    for (const h of ["authorization", "idempotency-key", "last-event-id"]) expect(allowed).toContain(h);
  });
});

describe("REST limits are the RPCs' (memory)", () => {
  let engine: Engine;
  let server: RunningServer;
  beforeAll(async () => {
    engine = createMemoryEngine();
    await engine.declareQueue("limits");
    server = await startServer({
      engine,
      port: 0,
      host: "127.0.0.1",
      readMaxBytes: 1024,
      maxInputValues: 10,
      rateLimit: { rate: 0.001, burst: 4 },
    });
  });
  afterAll(async () => {
    await server?.close();
    await engine?.close();
  });

  it("body over readMaxBytes or the JSON value limit: 413; past the rate limit: 429 with Retry-After; over h2c too", async () => {
    const big = await curl("POST", `${server.url}/queue/limits`, { body: JSON.stringify("x".repeat(2000)) });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({
      code: "resource_exhausted",
      message: expect.stringMatching(/readMaxBytes/),
    });
    const many = await curl("POST", `${server.url}/queue/limits`, {
      body: JSON.stringify([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    });
    expect(many.status).toBe(413);
    expect(many.body.error.message).toMatch(/JETQ_MAX_INPUT_VALUES/);
    const h2 = await curl("POST", `${server.url}/queue/limits`, { body: '{"over":"h2c"}', http2: true });
    expect(h2.status).toBe(202);
    expect(h2.body.status_url).toBe(`${server.url}/queue/requests/${h2.body.request_id}/status`);
    let limited;
    for (let i = 0; i < 10 && !limited; i++) {
      const answer = await curl("GET", `${server.url}/queue/limits/count`);
      if (answer.status === 429) limited = answer;
    }
    expect(limited!.body.error.code).toBe("resource_exhausted");
    expect(limited!.headers.toLowerCase()).toMatch(/retry-after: \d+/);
  });
});
