/**
 * Configured keys never leave the process: not in logs (pino at trace), not
 * in responses (messages, headers, trailers, job records), not in config
 * errors, not in what `npm start` prints.
 */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.js";
import { createHttpSubmitCheck } from "../../src/handlers/http/index.js";
import { freePort } from "../helpers/free-port.js";
import { uniqueQueue } from "../helpers/engines.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { drain, pollToTerminal, value } from "../e2e/harness.js";
import { killAll, startProcess } from "../server/process.js";
import { KEYED_PROTOCOLS } from "./clients.js";
import { captureLogger, useAuthJetq } from "./harness.js";

const KEYS = {
  full: "sEcReT-full-4f1c2a9e7b3d",
  reader: "sEcReT-reader-8e2b6c1d0a",
  limited: "sEcReT-limited-c3d9e8f7a6",
};
/** What must never be seen: the keys, and near misses a caller might send. */
const NEEDLES = [...Object.values(KEYS), "sEcReT-typo-0000"];
const capture = captureLogger();
const ctx = useAuthJetq({
  logger: capture.logger,
  rateLimit: { rate: 0.5, burst: 2 },
  apiKeys: [
    { key: KEYS.full, tenant: "acme", rateLimit: null },
    { key: KEYS.reader, tenant: "acme", role: "reader" },
    { key: KEYS.limited, tenant: "acme", queues: ["echo"] },
  ],
});

const seen: string[] = [];
/** Records everything a call answered, success or failure. */
async function record(call: Promise<unknown>): Promise<void> {
  try {
    seen.push(JSON.stringify(await call, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
  } catch (err) {
    const e = ConnectError.from(err);
    seen.push(`${Code[e.code]} ${e.message} ${JSON.stringify([...e.metadata])}`);
  }
}

describe("keys stay secret", () => {
  const clients: ProtocolClient[] = [];
  afterAll(() => clients.forEach((c) => c.close()));
  afterEach(killAll);

  it("through every kind of call, right key or wrong, on every protocol", async () => {
    const quiet = uniqueQueue("quiet");
    await ctx.jetq.engine.declareQueue(quiet);
    for (const protocol of KEYED_PROTOCOLS) {
      const open = (key?: string) => {
        const c = protocol.open(ctx.jetq.url, key);
        clients.push(c);
        return c;
      };
      const full = open(KEYS.full);
      const job = await full.submit({ queue: "echo", input: value({ logs: ["hello"] }) });
      await pollToTerminal(full, job.id);
      const callers = [full, open(KEYS.reader), open(KEYS.limited), open("sEcReT-typo-0000"), open()];
      for (const c of callers) {
        await record(c.submit({ queue: "echo", input: value(1), idempotencyKey: "idem" }));
        await record(c.submit({ queue: quiet, input: value(1) }));
        await record(c.getStatus({ id: job.id, includeLogs: true }));
        await record(drain(c.streamStatus({ id: job.id, includeLogs: true })));
        await record(c.getResult({ id: job.id }));
        await record(c.cancel({ id: job.id }));
        await record(c.queueCount({ queue: quiet }));
        await record(c.queueCount({ queue: "echo" }));
      }
    }
    // Raw HTTP: malformed headers carrying a key.
    for (const authorization of [
      KEYS.full,
      `Basic ${KEYS.full}`,
      `Bearer ${KEYS.full} extra`,
      `Bearer ${NEEDLES[3]}`,
    ]) {
      const res = await fetch(`${ctx.jetq.url}/jetq.v1.QueueService/QueueCount`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({ queue: "echo" }),
      });
      seen.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
    }
    const codes = new Set(seen.map((s) => s.split(" ", 1)[0]));
    // The calls above really went through every path: refused, denied, limited, served.
    for (const code of ["Unauthenticated", "PermissionDenied", "ResourceExhausted"]) expect(codes).toContain(code);

    const logs = capture.text();
    expect(logs).toContain("unauthenticated call refused");
    expect(logs).toContain('"rpc"');
    for (const needle of NEEDLES) {
      expect(logs.includes(needle), `logs contain ${needle}`).toBe(false);
      expect(
        seen.filter((s) => s.includes(needle)),
        `responses contain ${needle}`,
      ).toEqual([]);
    }
  });

  it("config errors name the variable and entry, never the key", () => {
    const dir = mkdtempSync(join(tmpdir(), "jetq-auth-"));
    const broken = join(dir, "broken.json");
    writeFileSync(
      broken,
      `{"keys": [{"key": "${KEYS.full}", "tenant": "a", "role": "boss"}, {"key": "${KEYS.reader}"}], `,
    );
    const invalid = join(dir, "invalid.json");
    writeFileSync(
      invalid,
      JSON.stringify({
        keys: [{ key: KEYS.full, tenant: "a", role: "boss", extra: KEYS.reader }, { key: KEYS.limited }],
      }),
    );
    for (const env of [
      { JETQ_API_KEYS: `${KEYS.full}` },
      { JETQ_API_KEYS: `${KEYS.full}=a,${KEYS.full}=b` },
      { JETQ_API_KEYS: `${KEYS.full} x=a` },
      { JETQ_AUTH_FILE: broken },
      { JETQ_AUTH_FILE: invalid },
      { JETQ_API_KEYS: `${KEYS.full}=a`, JETQ_AUTH_FILE: join(dir, "dup.json") },
    ]) {
      writeFileSync(join(dir, "dup.json"), JSON.stringify({ keys: [{ key: KEYS.full, tenant: "b" }] }));
      let message = "";
      try {
        parseConfig(env);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, JSON.stringify(env)).toMatch(/JETQ_API_KEYS|JETQ_AUTH_FILE/);
      for (const needle of NEEDLES) expect(message, JSON.stringify(env)).not.toContain(needle);
    }
  });

  it("npm start with keys: an auth line naming keys by name and tenant only; refuses calls without a key", async () => {
    const port = await freePort();
    const proc = startProcess("start", {
      PORT: String(port),
      HOST: "127.0.0.1",
      JETQ_LOG_LEVEL: "debug",
      JETQ_API_KEYS: `${KEYS.full}=acme,${KEYS.reader}=other`,
    });
    await proc.waitForLine((l) => l.msg.includes("listening"));
    const url = `http://127.0.0.1:${port}`;
    const call = (headers: Record<string, string>) =>
      fetch(`${url}/jetq.v1.QueueService/QueueCount`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ queue: "echo" }),
      });
    expect((await call({})).status).toBe(401);
    expect((await call({ authorization: `Bearer ${NEEDLES[3]}` })).status).toBe(401);
    expect((await call({ authorization: `Bearer ${KEYS.full}` })).status).toBe(200);
    proc.proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);

    const auth = proc.lines.findIndex((l) => l.msg.startsWith("auth:"));
    expect(auth).toBeGreaterThanOrEqual(0);
    expect(auth).toBeLessThan(proc.lines.findIndex((l) => l.msg.includes("listening")));
    expect(proc.lines[auth]!.msg).toContain("2 API key(s) for 2 tenant(s)");
    const everything = JSON.stringify(proc.lines) + proc.stderr();
    for (const needle of NEEDLES) expect(everything).not.toContain(needle);
  });

  it("npm start without keys warns, before listening, that the server is open", async () => {
    const port = await freePort();
    const proc = startProcess("start", { PORT: String(port), HOST: "127.0.0.1" });
    await proc.waitForLine((l) => l.msg.includes("listening"));
    proc.proc.kill("SIGTERM");
    await proc.exited;
    const warn = proc.lines.findIndex((l) => l.msg.startsWith("auth: no API keys configured"));
    expect(warn).toBeGreaterThanOrEqual(0);
    expect(proc.lines[warn]!.level).toBe(40);
    expect(warn).toBeLessThan(proc.lines.findIndex((l) => l.msg.includes("listening")));
  });
});

describe("startup auth line", () => {
  it("warns of short keys by name, never by value; warns when open", async () => {
    const { logAuth } = await import("../../src/startup.js");
    const base = parseConfig({});
    const strong = captureLogger();
    logAuth(
      {
        ...base,
        apiKeys: [
          { key: KEYS.full, tenant: "a" },
          { key: "short-secret", tenant: "b", name: "legacy" },
        ],
      },
      strong.logger,
    );
    const lines = strong
      .text()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: number; msg: string; keys?: unknown });
    expect(lines[0]!.msg).toMatch(/^auth: 2 API key\(s\) for 2 tenant\(s\)/);
    expect(lines[1]).toMatchObject({ level: 40, keys: ["legacy"] });
    expect(lines[1]!.msg).toMatch(/1 API key\(s\) shorter than 24 characters/);
    expect(strong.text()).not.toContain("short-secret");
    expect(strong.text()).not.toContain(KEYS.full);

    const open = captureLogger();
    logAuth(base, open.logger);
    expect(JSON.parse(open.text())).toMatchObject({ level: 40, auth: "none" });
  });
});

describe("secrets of the http queue, per tenant", () => {
  const tenants = {
    acme: "sEcReT-acme-6b1f0c9d2e8a7f",
    globex: "sEcReT-globex-1a2b3c4d5e6f",
    ops: "sEcReT-ops-9f8e7d6c5b4a3",
  };
  const jetq = useAuthJetq({
    apiKeys: [
      { key: tenants.acme, tenant: "acme" },
      { key: tenants.globex, tenant: "globex" },
      { key: tenants.ops, tenant: "ops", role: "admin" },
    ],
    inputValidators: new Map([
      [
        "http",
        createHttpSubmitCheck({
          allowedHosts: ["api.example.com"],
          secrets: [{ name: "OPENAI", prefixes: ["https://api.example.com/v1/"] }, { name: "BILLING" }],
          grants: { acme: ["openai"], ops: ["billing"] },
        }),
      ],
    ]),
  });
  const clients: ProtocolClient[] = [];
  afterAll(() => clients.forEach((c) => c.close()));

  it("a key uses only the secrets its tenant is granted; a refused Submit enqueues nothing", async () => {
    await jetq.jetq.engine.declareQueue("http");
    const open = (key: string) => {
      const c = KEYED_PROTOCOLS[0]!.open(jetq.jetq.url, key);
      clients.push(c);
      return c;
    };
    const openai = value({
      url: "https://api.example.com/v1/chat",
      headers: { Authorization: "Bearer $CLIENT_SECRET" },
      clientSecretName: "openai",
    });
    const billing = value({ url: "https://api.example.com/v1/bill", headers: { "x-key": "$BILLING" } });
    const plain = value({ url: "https://api.example.com/v1/chat", method: "POST", data: "costs $USD 5" });

    expect((await open(tenants.acme).submit({ queue: "http", input: openai })).id).toMatch(/^http-/);
    expect((await open(tenants.ops).submit({ queue: "http", input: billing })).id).toMatch(/^http-/);
    expect((await open(tenants.globex).submit({ queue: "http", input: plain })).id).toMatch(/^http-/);
    const refusals: [string, typeof openai, string][] = [
      [tenants.globex, openai, 'secret OPENAI: tenant "globex" is not granted it (JETQ_TENANT_SECRETS)'],
      [tenants.acme, billing, 'secret BILLING: tenant "acme" is not granted it (JETQ_TENANT_SECRETS)'],
      // Admin is no exception: grants are per tenant.
      [tenants.ops, openai, 'secret OPENAI: tenant "ops" is not granted it (JETQ_TENANT_SECRETS)'],
    ];
    for (const [key, input, message] of refusals) {
      const err = await open(key)
        .submit({ queue: "http", input })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err && Code[err.code]).toBe("PermissionDenied");
      expect(err!.rawMessage).toBe(message);
    }
    expect((await open(tenants.ops).queueCount({ queue: "http" })).inQueue).toBe(3);
  });
});
