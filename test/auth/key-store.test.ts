/** The pure parts: key store, Authorization header, auth file, permissions, config. */
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkQueue,
  checkRpc,
  createKeyStore,
  parseApiKeysList,
  parseAuthFile,
  parseBearer,
  readTenant,
  submitTenant,
} from "../../src/auth/index.js";
import { ConfigError, parseConfig } from "../../src/config.js";

describe("key store", () => {
  it("finds the principal of a key, by key or by its SHA-256; unknown keys find nothing", () => {
    const hashed = createHash("sha256").update("hashed-key").digest("hex");
    const store = createKeyStore([
      { key: "k1", tenant: "a" },
      { keySha256: hashed, tenant: "b", role: "reader", name: "dash", queues: ["echo"] },
    ]);
    expect(store.enabled).toBe(true);
    expect(store.authenticate("k1")).toMatchObject({ name: "key-1", tenant: "a", role: "submitter", queues: "*" });
    const dash = store.authenticate("hashed-key")!;
    expect(dash).toMatchObject({ name: "dash", tenant: "b", role: "reader" });
    expect(dash.queues).toEqual(new Set(["echo"]));
    for (const wrong of ["", "k", "k1 ", "K1", "k12", hashed]) expect(store.authenticate(wrong)).toBeUndefined();
    // Principals carry no secret.
    expect(JSON.stringify(store.principals)).not.toContain("k1");
    expect(createKeyStore([]).enabled).toBe(false);
  });

  it("refuses unusable entries, naming them by position and name, never by key", () => {
    const bad: [Parameters<typeof createKeyStore>[0], RegExp][] = [
      [
        [
          { key: "dup-secret", tenant: "a" },
          { key: "dup-secret", tenant: "b" },
        ],
        /#2: the same key as "key-1"/,
      ],
      [[{ key: "x y", tenant: "a" }], /#1: the key must be non-empty without whitespace/],
      [[{ tenant: "a" }], /exactly one of key and key_sha256/],
      [[{ key: "k", keySha256: "00".repeat(32), tenant: "a" }], /exactly one of key and key_sha256/],
      [[{ keySha256: "zz", tenant: "a" }], /64 hex digits/],
      [[{ key: "k", tenant: "" }], /#1: the tenant must be/],
      [[{ key: "k", tenant: "a b" }], /#1: the tenant must be/],
      [[{ key: "k", tenant: "a", queues: ["Bad.Queue"] }], /"Bad.Queue" is not a valid queue name/],
      [
        [
          { key: "k1", tenant: "a", name: "n" },
          { key: "k2", tenant: "a", name: "n" },
        ],
        /name "n" is used/,
      ],
    ];
    for (const [inputs, message] of bad) {
      expect(() => createKeyStore(inputs)).toThrow(message);
      try {
        createKeyStore(inputs);
      } catch (err) {
        expect((err as Error).message).not.toContain("dup-secret");
      }
    }
  });

  it("parses JETQ_API_KEYS, keys ending in '=' included", () => {
    expect(parseApiKeysList("key1=tenant-a, key2=tenant-b,")).toEqual([
      { key: "key1", tenant: "tenant-a", name: "env-1" },
      { key: "key2", tenant: "tenant-b", name: "env-2" },
    ]);
    expect(parseApiKeysList("YWJj==acme")).toEqual([{ key: "YWJj=", tenant: "acme", name: "env-1" }]);
    expect(() => parseApiKeysList("a=x,secretonly")).toThrow(/^entry 2 must look like <key>=<tenant>$/);
    expect(() => parseApiKeysList("secret=")).toThrow(/^entry 1/);
  });
});

describe("Authorization header", () => {
  it("takes Bearer <key>, scheme in any case; names what is wrong without repeating it", () => {
    expect(parseBearer("Bearer abc")).toEqual({ ok: true, key: "abc" });
    expect(parseBearer("bearer  abc ")).toEqual({ ok: true, key: "abc" });
    expect(parseBearer(null)).toEqual({ ok: false, message: "missing Authorization: Bearer <key>" });
    expect(parseBearer("  ")).toEqual({ ok: false, message: "missing Authorization: Bearer <key>" });
    for (const h of ["Basic abc", "abc", "Bearer", "Bearer a b", "Bearerabc"]) {
      const r = parseBearer(h);
      expect(r.ok, h).toBe(false);
      if (!r.ok) expect(r.message).not.toContain("abc");
    }
  });
});

describe("auth file", () => {
  it("reads keys with roles, queues and rate limits", () => {
    const keys = parseAuthFile(
      JSON.stringify({
        keys: [
          { key: "a", tenant: "acme", role: "reader", queues: ["echo"], rate_limit: "10/s,20", name: "dash" },
          { key_sha256: "ab".repeat(32), tenant: "acme", queues: "*", rate_limit: "off" },
          { key: "c", tenant: "ops", role: "admin" },
        ],
      }),
    );
    expect(keys[0]).toMatchObject({
      key: "a",
      tenant: "acme",
      role: "reader",
      queues: ["echo"],
      rateLimit: { rate: 10, burst: 20 },
      name: "dash",
    });
    expect(keys[1]).toMatchObject({ keySha256: "ab".repeat(32), queues: "*", rateLimit: null });
    expect(keys[2]).toMatchObject({ role: "admin", rateLimit: undefined });
  });

  it("names the entry and field of every problem", () => {
    const problems = (doc: unknown) => {
      try {
        parseAuthFile(typeof doc === "string" ? doc : JSON.stringify(doc));
      } catch (err) {
        return (err as Error).message;
      }
      return "";
    };
    expect(problems("{nope")).toBe("is not valid JSON");
    expect(problems({ keys: [{ key: "s3cr3t", tenant: "a", role: "boss" }] })).toMatch(
      /keys\[0\]\.role: must be one of submitter, reader, admin/,
    );
    expect(problems({ keys: [{ key: "s3cr3t" }] })).toMatch(/keys\[0\]\.tenant: is required/);
    expect(problems({ keys: [{ key: "s3cr3t", tenant: "a", rate_limit: "fast" }] })).toMatch(
      /keys\[0\]\.rate_limit: must look like/,
    );
    expect(problems({ keys: [{ key: "s3cr3t", tenant: "a", queue: ["x"] }] })).toMatch(
      /keys\[0\]: unknown field\(s\) queue/,
    );
    expect(problems({ keys: [{ tenant: "a" }] })).toMatch(/keys\[0\]: give exactly one of key and key_sha256/);
    expect(problems({ keys: [{ key: 5, tenant: "a" }] })).toMatch(/keys\[0\]\.key: must be a string/);
    expect(problems({ key: [] })).toMatch(/unknown field/);
    expect(problems({ keys: [{ key: "s3cr3t", tenant: "a", role: "boss" }] })).not.toContain("s3cr3t");
  });
});

describe("permissions", () => {
  const principal = (role: "submitter" | "reader" | "admin", queues: "*" | Set<string> = "*") => ({
    name: "k",
    tenant: "t",
    role,
    queues,
  });
  it("readers read; submitters and admins call everything; open servers allow all", () => {
    for (const rpc of ["GetStatus", "StreamStatus", "GetResult", "QueueCount"])
      expect(checkRpc(principal("reader"), rpc)).toBeUndefined();
    for (const rpc of ["Submit", "Cancel"])
      expect(checkRpc(principal("reader"), rpc)).toMatch(new RegExp(`^${rpc}: .*"reader"`));
    for (const rpc of ["Submit", "Cancel", "GetStatus"]) {
      expect(checkRpc(principal("submitter"), rpc)).toBeUndefined();
      expect(checkRpc(principal("admin"), rpc)).toBeUndefined();
      expect(checkRpc(undefined, rpc)).toBeUndefined();
    }
  });

  it("queues: a list limits, * and admins do not; tenants for submit and reads", () => {
    const limited = principal("submitter", new Set(["echo"]));
    expect(checkQueue(limited, "echo")).toBeUndefined();
    expect(checkQueue(limited, "other")).toBe('queue "other": this API key may not use it (allowed: "echo")');
    expect(checkQueue(principal("submitter"), "other")).toBeUndefined();
    expect(checkQueue(principal("admin", new Set()), "other")).toBeUndefined();
    expect(checkQueue(undefined, "other")).toBeUndefined();
    expect(submitTenant(undefined)).toBe("");
    expect(submitTenant(limited)).toBe("t");
    expect(readTenant(undefined)).toBeUndefined();
    expect(readTenant(principal("admin"))).toBeUndefined();
    expect(readTenant(principal("reader"))).toBe("t");
  });
});

describe("config", () => {
  it("reads keys from JETQ_API_KEYS and JETQ_AUTH_FILE together, plus rate limit and CORS origins", () => {
    const dir = mkdtempSync(join(tmpdir(), "jetq-auth-"));
    const file = join(dir, "auth.json");
    writeFileSync(file, JSON.stringify({ keys: [{ key: "file-key", tenant: "c", role: "reader", queues: ["echo"] }] }));
    const c = parseConfig({
      JETQ_API_KEYS: "key1=tenant-a,key2=tenant-b",
      JETQ_AUTH_FILE: file,
      JETQ_RATE_LIMIT: "100/s,200",
      JETQ_CORS_ORIGINS: "https://App.example.com/, http://localhost:5173",
    });
    expect(c.apiKeys).toHaveLength(3);
    expect(c.apiKeys![2]).toMatchObject({ key: "file-key", tenant: "c", role: "reader" });
    expect(c.rateLimit).toEqual({ rate: 100, burst: 200 });
    expect(c.corsOrigins).toEqual(["https://app.example.com", "http://localhost:5173"]);
  });

  it("defaults: no keys, no limit, no CORS", () => {
    const c = parseConfig({ JETQ_API_KEYS: " ", JETQ_RATE_LIMIT: "" });
    expect(c.apiKeys).toBeUndefined();
    expect(c.rateLimit).toBeUndefined();
    expect(c.corsOrigins).toBeUndefined();
    expect(parseConfig({ JETQ_RATE_LIMIT: "off" }).rateLimit).toBeUndefined();
  });

  it("names every bad auth variable along with the others", () => {
    let message = "";
    try {
      parseConfig({
        PORT: "x",
        JETQ_API_KEYS: "nokey",
        JETQ_AUTH_FILE: "/nonexistent/auth.json",
        JETQ_RATE_LIMIT: "lots",
        JETQ_CORS_ORIGINS: "*",
      });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain('PORT="x"');
    expect(message).toContain("JETQ_API_KEYS (value not shown): entry 1 must look like <key>=<tenant>");
    expect(message).toContain('JETQ_AUTH_FILE="/nonexistent/auth.json": cannot read the file: ENOENT');
    expect(message).toContain('JETQ_RATE_LIMIT="lots": must look like');
    expect(message).toContain('JETQ_CORS_ORIGINS="*": each origin must look like');
    expect(message).not.toContain("nokey");
  });
});
