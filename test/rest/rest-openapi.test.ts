/** GET /openapi.json: a well-formed OpenAPI 3.1 document listing every REST endpoint. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../src/testing.js";

const ENDPOINTS = [
  ["post", "/queue/{queue}"],
  ["post", "/queue/{queue}/batch"],
  ["get", "/queue/{queue}/count"],
  ["get", "/queue/requests/{request_id}/status"],
  ["get", "/queue/requests/{request_id}/status/stream"],
  ["get", "/queue/requests/{request_id}"],
  ["put", "/queue/requests/{request_id}/cancel"],
] as const;

describe("GET /openapi.json", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("is an OpenAPI 3.1 document with every endpoint, each answer described, every $ref resolving", async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const doc = (await res.json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).not.toBe("");
    expect(Object.keys(doc.paths).sort()).toEqual(ENDPOINTS.map(([, p]) => p).sort());
    const operationIds = new Set<string>();
    for (const [method, path] of ENDPOINTS) {
      const op = doc.paths[path]![method]!;
      expect(op, `${method} ${path}`).toBeDefined();
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      for (const [code, answer] of Object.entries(op.responses)) {
        expect(code).toMatch(/^[1-5]\d\d$/);
        expect((answer as { description?: string }).description).toBeTruthy();
      }
      operationIds.add(op.operationId);
      // Path parameters are declared.
      for (const name of path.match(/\{(\w+)\}/g) ?? []) {
        const params = (op as unknown as { parameters: { name: string; in: string }[] }).parameters;
        expect(
          params.some((p) => p.in === "path" && `{${p.name}}` === name),
          `${path} ${name}`,
        ).toBe(true);
      }
    }
    expect(operationIds.size).toBe(ENDPOINTS.length);
    for (const ref of JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? []) {
      const pointer = ref.slice(8, -1).replace(/^#\//, "").split("/");
      expect(
        pointer.reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], doc),
        ref,
      ).toBeDefined();
    }
  });
});
