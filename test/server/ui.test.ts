/**
 * The dashboard's HTTP side (src/server/ui/): GET / redirects to /ui/, the
 * built files come with their content types, caching (hashed assets
 * immutable, index.html revalidated by ETag), compression and the security
 * headers; /ui/api/session tells the page who its key is; JETQ_UI=false
 * (ui: false) serves none of it. Needs `npm run build` (the global setup).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";

const engine: Engine = createMemoryEngine();
const servers: RunningServer[] = [];
let open: RunningServer;
let keyed: RunningServer;

async function serve(options: Partial<Parameters<typeof startServer>[0]> = {}): Promise<RunningServer> {
  const server = await startServer({ engine, port: 0, host: "127.0.0.1", metrics: false, ...options });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  open = await serve();
  keyed = await serve({
    apiKeys: [
      { key: "reader-key", name: "dash-reader", tenant: "t1", role: "reader", queues: ["echo", "b"] },
      { key: "admin-key", name: "ops", tenant: "ops", role: "admin" },
    ],
  });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await engine.close();
});

const get = (server: RunningServer, path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, { headers, redirect: "manual" });

describe("serving", () => {
  it("GET / and /ui redirect to /ui/", async () => {
    for (const path of ["/", "/ui"]) {
      const res = await get(open, path);
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe("/ui/");
    }
  });

  it("index.html: HTML, revalidated (no-cache with an ETag, 304 when unchanged), with the security headers", async () => {
    const res = await get(open, "/ui/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    expect(html).toContain("<title>jetq dashboard</title>");
    // Everything the page loads is its own (no CDN), under /ui/assets/.
    const refs = [...html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(1);
    for (const ref of refs) expect(ref).toMatch(/^\/ui\//);
    const again = await get(open, "/ui/index.html", { "if-none-match": res.headers.get("etag")! });
    expect(again.status).toBe(304);
  });

  it("hashed assets: their content type, immutable, brotli or gzip as accepted", async () => {
    const html = await (await get(open, "/ui/")).text();
    const script = /src="\/ui\/(assets\/[^"]+\.js)"/.exec(html)![1]!;
    const style = /href="\/ui\/(assets\/[^"]+\.css)"/.exec(html)![1]!;
    const js = await get(open, `/ui/${script}`, { "accept-encoding": "gzip, br" });
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("content-encoding")).toBe("br");
    expect(js.headers.get("vary")).toBe("Accept-Encoding");
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await get(open, `/ui/${style}`, { "accept-encoding": "gzip, br;q=0" });
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("content-encoding")).toBe("gzip");
    const plain = await get(open, `/ui/${style}`, { "accept-encoding": "identity" });
    expect(plain.headers.get("content-encoding")).toBeNull();
  });

  it("unknown files are 404, other methods 405", async () => {
    expect((await get(open, "/ui/assets/nope.js")).status).toBe(404);
    const post = await fetch(`${open.url}/ui/`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("ui: false (JETQ_UI=false) serves no dashboard and no redirect", async () => {
    const off = await serve({ ui: false });
    expect((await get(off, "/")).status).toBe(404);
    expect((await get(off, "/ui/")).status).toBe(404);
  });

  it("without built files /ui/ answers 503 saying how to build them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jetq-ui-"));
    try {
      const empty = await serve({ ui: { dir } });
      const res = await get(empty, "/ui/");
      expect(res.status).toBe(503);
      expect(await res.text()).toContain("npm run build");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("/ui/api/session", () => {
  it("an open server needs no key and allows every RPC", async () => {
    const res = await get(open, "/ui/api/session");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { auth: boolean; rpcs: string[] };
    expect(body.auth).toBe(false);
    expect(body.rpcs).toEqual(expect.arrayContaining(["Submit", "Cancel", "Retry", "PauseQueue"]));
  });

  it("with keys: 401 without a key or with a bad one", async () => {
    const none = await get(keyed, "/ui/api/session");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="jetq"');
    expect(((await none.json()) as { auth: boolean }).auth).toBe(true);
    expect((await get(keyed, "/ui/api/session", { authorization: "Bearer wrong" })).status).toBe(401);
  });

  it("a reader key: its role, tenant, queues and only the read-only RPCs; never the key", async () => {
    const res = await get(keyed, "/ui/api/session", { authorization: "Bearer reader-key" });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("reader-key");
    const body = JSON.parse(text) as { role: string; tenant: string; name: string; queues: string[]; rpcs: string[] };
    expect(body).toMatchObject({ role: "reader", tenant: "t1", name: "dash-reader", queues: ["b", "echo"] });
    expect(body.rpcs).toContain("GetStatus");
    expect(body.rpcs).not.toContain("Cancel");
    expect(body.rpcs).not.toContain("Submit");
  });

  it("an admin key: every RPC, every queue", async () => {
    const res = await get(keyed, "/ui/api/session", { authorization: "Bearer admin-key" });
    const body = (await res.json()) as { role: string; queues: string; rpcs: string[] };
    expect(body).toMatchObject({ role: "admin", queues: "*" });
    expect(body.rpcs).toEqual(expect.arrayContaining(["Cancel", "Retry", "PauseQueue", "ResumeQueue"]));
  });
});
