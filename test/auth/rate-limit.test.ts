/**
 * Per-key token buckets: past its burst a key gets RESOURCE_EXHAUSTED saying
 * when to retry (message, and Retry-After in headers or trailers); other keys
 * keep their own buckets; a key with rate_limit "off" has none.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { createRateLimiter, parseRateLimit } from "../../src/auth/index.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { expectCode, pollUntil } from "../e2e/harness.js";
import { keyed } from "./clients.js";
import { useAuthJetq } from "./harness.js";

const KEYS = {
  a: "rl-key-a-000000000001",
  b: "rl-key-b-000000000002",
  unlimited: "rl-key-c-000000000003",
  slow: "rl-key-d-0000000004",
};
const ctx = useAuthJetq({
  // Slow refill (one token per 2 s), so a loaded machine cannot refill a bucket mid-test.
  rateLimit: { rate: 0.5, burst: 3 },
  apiKeys: [
    { key: KEYS.a, tenant: "a" },
    { key: KEYS.b, tenant: "b" },
    { key: KEYS.unlimited, tenant: "c", rateLimit: null },
    { key: KEYS.slow, tenant: "d", rateLimit: { rate: 0.1, burst: 1 } },
  ],
});

describe("rate limit over the wire", () => {
  const clients: ProtocolClient[] = [];
  const open = (key: string, protocol: string) => {
    const c = keyed(protocol).open(ctx.jetq.url, key);
    clients.push(c);
    return c;
  };
  afterAll(() => clients.forEach((c) => c.close()));

  it("a key past its burst gets RESOURCE_EXHAUSTED with a retry hint, over Connect and gRPC; other keys are unaffected", async () => {
    const a = open(KEYS.a, "connect+json http/1.1");
    const aGrpc = open(KEYS.a, "grpc h2c");
    for (let i = 0; i < 3; i++) await a.queueCount({ queue: "echo" });
    const err = await expectCode(a.queueCount({ queue: "echo" }), Code.ResourceExhausted);
    expect(err.rawMessage).toMatch(
      /^rate limit of 30\/min \(burst 3\) exceeded for this API key; retry in \d+\.\d+ s$/,
    );
    expect(["1", "2"]).toContain(err.metadata.get("retry-after"));
    expect(Number(err.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
    const viaGrpc = await expectCode(aGrpc.queueCount({ queue: "echo" }), Code.ResourceExhausted);
    expect(["1", "2"]).toContain(viaGrpc.metadata.get("retry-after"));

    // b has its own bucket
    const b = open(KEYS.b, "grpc-web http/1.1");
    for (let i = 0; i < 3; i++) await b.queueCount({ queue: "echo" });

    // a's bucket refills at 0.5/s: a call succeeds again within the hinted time (bounded wait).
    await pollUntil(
      () =>
        a.queueCount({ queue: "echo" }).then(
          () => true,
          () => false,
        ),
      (ok) => ok,
      { timeoutMs: 5_000, intervalMs: 100, what: "a's bucket refilled" },
    );
  });

  it("per-key overrides: rate_limit off, and a slower limit", async () => {
    const c = open(KEYS.unlimited, "connect+proto h2c");
    for (let i = 0; i < 20; i++) await c.queueCount({ queue: "echo" });
    const d = open(KEYS.slow, "@grpc/grpc-js");
    await d.queueCount({ queue: "echo" });
    const err = await expectCode(d.queueCount({ queue: "echo" }), Code.ResourceExhausted);
    expect(err.rawMessage).toMatch(/^rate limit of 6\/min \(burst 1\) exceeded for this API key; retry in \d+\.\d s$/);
    expect(Number(err.metadata.get("retry-after"))).toBeGreaterThanOrEqual(9);
  });
});

describe("token bucket", () => {
  it("starts full, refills at the rate, never above the burst, and says how long to wait", () => {
    let now = 0;
    const limiter = createRateLimiter(() => now);
    const limit = { rate: 10, burst: 2 };
    expect(limiter.take("k", limit)).toEqual({ allowed: true });
    expect(limiter.take("k", limit)).toEqual({ allowed: true });
    expect(limiter.take("k", limit)).toEqual({ allowed: false, retryAfterMs: 100 });
    now = 50;
    expect(limiter.take("k", limit)).toEqual({ allowed: false, retryAfterMs: 50 });
    now = 100;
    expect(limiter.take("k", limit)).toEqual({ allowed: true });
    now = 10_000; // a long pause refills to the burst, not beyond
    expect(limiter.take("k", limit).allowed).toBe(true);
    expect(limiter.take("k", limit).allowed).toBe(true);
    expect(limiter.take("k", limit).allowed).toBe(false);
    expect(limiter.take("other", limit).allowed).toBe(true);
  });

  it("parses <n>/<unit>[,<burst>]", () => {
    expect(parseRateLimit("10/s,20")).toEqual({ rate: 10, burst: 20 });
    expect(parseRateLimit("5")).toEqual({ rate: 5, burst: 5 });
    expect(parseRateLimit("600/m")).toEqual({ rate: 10, burst: 10 });
    expect(parseRateLimit(" 3600 / h , 5 ")).toEqual({ rate: 1, burst: 5 });
    expect(parseRateLimit("1/min")).toEqual({ rate: 1 / 60, burst: 1 });
    for (const bad of ["", "fast", "10/d", "0/s", "10/s,0", "-1/s", "10/s,"]) {
      expect(() => parseRateLimit(bad), bad).toThrow();
    }
  });
});
