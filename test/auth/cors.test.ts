/**
 * CORS: preflights and actual requests from an allowed origin get the headers
 * Connect, gRPC-Web and our Authorization need, over HTTP/1.1 and h2c; other
 * origins get no CORS header; a server without JETQ_CORS_ORIGINS sends none.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { useAuthJetq } from "./harness.js";

const KEY = "cors-key-0000000000000001";
const ALLOWED = "https://app.example.com";
const ctx = useAuthJetq({ apiKeys: [{ key: KEY, tenant: "web" }], corsOrigins: [ALLOWED, "http://localhost:5173"] });

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

function h1(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function h2(
  base: string,
  path: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base);
    session.on("error", reject);
    const req = session.request({ ":method": method, ":path": path, ...headers });
    let text = "";
    let head: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => (head = h));
    req.setEncoding("utf8").on("data", (d: string) => (text += d));
    req.on("end", () => {
      session.close();
      resolve({ status: Number(head[":status"]), headers: head, body: text });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const PREFLIGHT = {
  "access-control-request-method": "POST",
  "access-control-request-headers": "authorization,content-type,connect-protocol-version",
};
const PATH = "/jetq.v1.QueueService/QueueCount";
const list = (v: string | string[] | undefined) =>
  String(v ?? "")
    .toLowerCase()
    .split(/\s*,\s*/);

describe("CORS", () => {
  for (const via of ["http/1.1", "h2c"] as const) {
    const send = (method: string, headers: Record<string, string>, body?: string) =>
      via === "h2c"
        ? h2(ctx.jetq.url, PATH, method, headers, body)
        : h1(`${ctx.jetq.url}${PATH}`, method, headers, body);

    it(`${via}: a preflight from an allowed origin is answered (no key needed) with methods and headers`, async () => {
      const res = await send("OPTIONS", { origin: ALLOWED, ...PREFLIGHT });
      expect(res.status).toBe(204);
      expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(list(res.headers["access-control-allow-methods"])).toEqual(expect.arrayContaining(["post", "get"]));
      expect(list(res.headers["access-control-allow-headers"])).toEqual(
        expect.arrayContaining([
          "authorization",
          "content-type",
          "connect-protocol-version",
          "x-grpc-web",
          "grpc-timeout",
        ]),
      );
      expect(Number(res.headers["access-control-max-age"])).toBeGreaterThan(0);
      expect(list(res.headers.vary)).toContain("origin");
    });

    it(`${via}: an actual request from an allowed origin exposes the protocol headers`, async () => {
      const res = await send(
        "POST",
        { origin: ALLOWED, authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        JSON.stringify({ queue: "echo" }),
      );
      expect(res.status, res.body).toBe(200);
      expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
      expect(list(res.headers["access-control-expose-headers"])).toEqual(
        expect.arrayContaining(["grpc-status", "grpc-message", "retry-after"]),
      );
      // Errors carry them too: a browser must be able to read UNAUTHENTICATED.
      const denied = await send(
        "POST",
        { origin: ALLOWED, "content-type": "application/json" },
        JSON.stringify({ queue: "echo" }),
      );
      expect(denied.status).toBe(401);
      expect(denied.headers["access-control-allow-origin"]).toBe(ALLOWED);
    });

    it(`${via}: other origins get no CORS headers`, async () => {
      const pre = await send("OPTIONS", { origin: "https://evil.example.com", ...PREFLIGHT });
      expect(pre.status).toBe(403);
      expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
      expect(pre.headers["access-control-allow-headers"]).toBeUndefined();
      const res = await send(
        "POST",
        {
          origin: "https://app.example.com.evil.example",
          authorization: `Bearer ${KEY}`,
          "content-type": "application/json",
        },
        JSON.stringify({ queue: "echo" }),
      );
      expect(res.status).toBe(200);
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
      expect(res.headers["access-control-expose-headers"]).toBeUndefined();
    });
  }

  describe("without JETQ_CORS_ORIGINS", () => {
    let engine: Engine;
    let server: RunningServer;
    beforeAll(async () => {
      engine = createMemoryEngine();
      await engine.declareQueue("echo");
      server = await startServer({ engine, port: 0, host: "127.0.0.1" });
    });
    afterAll(async () => {
      await server.close();
      await engine.close();
    });

    it("sends no CORS header to anyone", async () => {
      const pre = await h1(`${server.url}${PATH}`, "OPTIONS", { origin: ALLOWED, ...PREFLIGHT });
      expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
      const res = await h1(
        `${server.url}${PATH}`,
        "POST",
        { origin: ALLOWED, "content-type": "application/json" },
        "{}",
      );
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    });
  });
});
