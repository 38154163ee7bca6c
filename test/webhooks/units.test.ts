/**
 * The webhook rules on their own: the signature against the Standard
 * Webhooks test vector and an independent verifier, the secret's form, the
 * addresses refused, the retry policy and the URL's form.
 */
import { describe, expect, test } from "vitest";
import { webhookUrlProblem } from "../../src/engine/webhook-url.js";
import { allowedHosts, isPrivateAddress, literalHostProblem } from "../../src/webhooks/address-policy.js";
import { afterWebhookFailure, DEFAULT_WEBHOOK_POLICY } from "../../src/webhooks/policy.js";
import { sendWebhook } from "../../src/webhooks/sender.js";
import { parseWebhookSecret, signWebhook } from "../../src/webhooks/signing.js";
import { verifyStandardWebhook } from "./verify.js";

describe("signing", () => {
  test("matches the Standard Webhooks reference vector", () => {
    const key = parseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const headers = signWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(headers["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  test("an independent verifier accepts it; another secret, another body or an old timestamp fail", () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const other = `whsec_${Buffer.alloc(32, 8).toString("base64")}`;
    const now = Math.floor(Date.now() / 1000);
    const headers = signWebhook(parseWebhookSecret(secret), "msg_a", now, '{"x":1}');
    expect(verifyStandardWebhook(secret, headers, '{"x":1}')).toBe(true);
    expect(verifyStandardWebhook(other, headers, '{"x":1}')).toBe(false);
    expect(verifyStandardWebhook(secret, headers, '{"x":2}')).toBe(false);
    expect(verifyStandardWebhook(secret, headers, '{"x":1}', now + 3600)).toBe(false);
  });

  test("a malformed secret is refused saying what is wrong", () => {
    expect(() => parseWebhookSecret("abc")).toThrow(/must start with "whsec_"/);
    expect(() => parseWebhookSecret("whsec_not base64!")).toThrow(/standard base64/);
    expect(() => parseWebhookSecret("whsec_AAAA")).toThrow(/3 bytes; use at least 16/);
  });
});

describe("address policy", () => {
  test.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:a9fe:a9fe",
    "64:ff9b::a00:1",
    "224.0.0.1",
  ])("%s is private", (ip) => expect(isPrivateAddress(ip)).toBe(true));

  test.each(["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])("%s is public", (ip) =>
    expect(isPrivateAddress(ip)).toBe(false),
  );

  test("a private IP literal is refused unless allowed; names are left to the connect", () => {
    const none = allowedHosts([]);
    expect(literalHostProblem(new URL("http://127.0.0.1:9/x"), none)).toMatch(/JETQ_WEBHOOK_ALLOWED_HOSTS/);
    expect(literalHostProblem(new URL("http://[::ffff:127.0.0.1]/"), none)).toMatch(/private/);
    expect(literalHostProblem(new URL("http://127.0.0.1:9/x"), allowedHosts(["127.0.0.1"]))).toBeUndefined();
    expect(literalHostProblem(new URL("http://localhost/"), none)).toBeUndefined();
    expect(literalHostProblem(new URL("https://8.8.8.8/"), none)).toBeUndefined();
  });
});

describe("retry policy", () => {
  const mid = () => 0.5; // no jitter
  test("doubles from the base, capped, then gives up a day after the job ended", () => {
    const p = { ...DEFAULT_WEBHOOK_POLICY, retryBaseMs: 5_000 };
    const t0 = 1_000_000;
    expect(afterWebhookFailure(1, t0, p, t0, mid)).toEqual({ retry: true, delayMs: 5_000 });
    expect(afterWebhookFailure(2, t0, p, t0, mid)).toEqual({ retry: true, delayMs: 10_000 });
    expect(afterWebhookFailure(20, t0, p, t0, mid)).toEqual({ retry: true, delayMs: 600_000 });
    expect(afterWebhookFailure(150, t0, p, t0 + 24 * 3600_000 - 1_000, mid)).toEqual({ retry: false });
  });

  test("jitter stays within ±20%", () => {
    const p = { ...DEFAULT_WEBHOOK_POLICY, retryBaseMs: 1_000 };
    for (const r of [0, 0.999]) {
      const next = afterWebhookFailure(1, 0, p, 0, () => r);
      if (!next.retry) throw new Error("expected a retry");
      expect(next.delayMs).toBeGreaterThanOrEqual(800);
      expect(next.delayMs).toBeLessThanOrEqual(1_200);
    }
  });
});

describe("webhook URL form", () => {
  test.each([
    ["ftp://example.com/", /http or https/],
    ["/relative", /not an absolute URL/],
    ["http://user:pw@example.com/", /user or password/],
    [`https://example.com/${"a".repeat(2048)}`, /over the limit of 2048/],
    ["https://example.com/a\nb", /spaces or control characters/],
    [" https://example.com/", /spaces or control characters/],
  ])("%s is refused", (url, why) => expect(webhookUrlProblem(url)).toMatch(why));

  test("an https URL with a port, path and query is fine", () => {
    expect(webhookUrlProblem("https://hooks.example.com:8443/jetq?x=1")).toBeUndefined();
  });
});

describe("sender", () => {
  test("a redirect is an answer, not followed; no answer in time is a failure; a private name is refused", async () => {
    const { createServer } = await import("node:http");
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? "");
      if (req.url === "/slow") return; // never answers
      res.writeHead(302, { location: "/elsewhere" }).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as import("node:net").AddressInfo;
    const base = { headers: {}, allowed: allowedHosts(["127.0.0.1"]) };
    try {
      expect(await sendWebhook(`http://127.0.0.1:${port}/hook`, "{}", { ...base, timeoutMs: 5_000 })).toEqual({
        status: 302,
      });
      expect(await sendWebhook(`http://127.0.0.1:${port}/slow`, "{}", { ...base, timeoutMs: 200 })).toEqual({
        error: "no answer within 200 ms",
      });
      expect(paths).toEqual(["/hook", "/slow"]);
      const refused = await sendWebhook(`http://localhost:${port}/hook`, "{}", { ...base, timeoutMs: 5_000 });
      expect(refused).toMatchObject({ refused: true });
      expect(paths).toEqual(["/hook", "/slow"]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
