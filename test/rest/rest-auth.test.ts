/**
 * The REST endpoints authenticate, isolate tenants and allow browsers as the
 * RPCs do: they call the same service through the same interceptors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
