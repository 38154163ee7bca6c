/**
 * With keys configured, every QueueService RPC without a key or with a wrong
 * one is UNAUTHENTICATED, on every protocol family, and changes nothing.
 * Health checks (grpc.health.v1, GET /healthz) stay open.
 */
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { formatJobId } from "../../src/engine/job-id.js";
import { uniqueQueue } from "../helpers/engines.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { drain, expectCode, pollToTerminal, stateName, value } from "../e2e/harness.js";
import { KEYED_PROTOCOLS } from "./clients.js";
import { useAuthJetq } from "./harness.js";

const KEY = "k-unauth-test-0123456789abcdef";
const WRONG = `${KEY}x`;
const ctx = useAuthJetq({ apiKeys: [{ key: KEY, tenant: "acme" }] });

type Rpc = [name: string, call: (c: ProtocolClient, queue: string) => Promise<unknown>];
const ID = formatJobId({ queue: "echo", seq: 1, token: "AbCdEfGh1234" });
const RPCS: Rpc[] = [
  ["Submit", (c, queue) => c.submit({ queue, input: value({ n: 1 }) })],
  ["SubmitAndStream", (c, queue) => drain(c.submitAndStream({ queue, input: value({ n: 1 }) }))],
  ["GetStatus", (c) => c.getStatus({ id: ID })],
  ["StreamStatus", (c) => drain(c.streamStatus({ id: ID }))],
  ["GetResult", (c) => c.getResult({ id: ID })],
  ["Cancel", (c) => c.cancel({ id: ID })],
  ["QueueCount", (c, queue) => c.queueCount({ queue })],
];

describe.each(KEYED_PROTOCOLS)("$name", (protocol) => {
  let quiet: string;
  const clients: ProtocolClient[] = [];
  const open = (key?: string) => {
    const c = protocol.open(ctx.jetq.url, key);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    quiet = uniqueQueue("quiet");
    await ctx.jetq.engine.declareQueue(quiet);
  });
  afterAll(() => clients.forEach((c) => c.close()));

  it("no key → UNAUTHENTICATED on every RPC", async () => {
    const client = open();
    for (const [name, call] of RPCS) {
      const err = await expectCode(call(client, quiet), Code.Unauthenticated).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
      expect(err.rawMessage, name).toBe("missing Authorization: Bearer <key>");
    }
  });

  it("a wrong key → UNAUTHENTICATED on every RPC, without echoing the key", async () => {
    const client = open(WRONG);
    for (const [name, call] of RPCS) {
      const err = await expectCode(call(client, quiet), Code.Unauthenticated).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
      expect(err.rawMessage, name).toBe("unknown API key");
      expect(JSON.stringify([...err.metadata])).not.toContain(KEY);
    }
  });

  it("the right key works, and the refused calls left nothing behind", async () => {
    const client = open(KEY);
    const job = await client.submit({ queue: "echo", input: value({ ok: true }) });
    expect(stateName((await pollToTerminal(client, job.id)).last.state)).toBe("COMPLETED");
    const count = await client.queueCount({ queue: quiet });
    expect({ inQueue: count.inQueue, running: count.running }).toEqual({ inQueue: 0, running: 0 });
  });
});

describe("open endpoints and raw requests", () => {
  it("grpc.health.v1 Check answers SERVING without a key; GET /healthz and GET /readyz are 200", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: ctx.jetq.url }));
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await health.check({ service: "jetq.v1.QueueService" })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
    const res = await fetch(`${ctx.jetq.url}/healthz`);
    expect(res.status).toBe(200);
    const ready = await fetch(`${ctx.jetq.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it("answers 401 with WWW-Authenticate over plain HTTP; a malformed header is named, not echoed", async () => {
    const post = (headers: Record<string, string>, body = JSON.stringify({ queue: "echo" })) =>
      fetch(`${ctx.jetq.url}/jetq.v1.QueueService/QueueCount`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await none.json()).toMatchObject({
      code: "unauthenticated",
      message: "missing Authorization: Bearer <key>",
    });

    const basic = await post({ authorization: `Basic ${KEY}` });
    const body = await basic.text();
    expect(basic.status).toBe(401);
    expect(body).toContain("malformed Authorization header");
    expect(body).not.toContain(KEY);

    // The scheme is case-insensitive.
    const lower = await post({ authorization: `bearer ${KEY}` });
    expect(lower.status).toBe(200);

    // An undecodable body from a caller without a key: the key is checked first.
    const garbage = await fetch(`${ctx.jetq.url}/jetq.v1.QueueService/Submit`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
    });
    expect(garbage.status).toBe(401);
  });
});
