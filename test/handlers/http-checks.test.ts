/**
 * The http queue's checks without processes: the Submit-time check the API
 * runs, the same checks again in the handler (a job that reached the queue
 * some other way), and the secrets' configuration.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/index.js";
import { ConfigError, parseConfig } from "../../src/config.js";
import { createHttpHandler, createHttpSubmitCheck } from "../../src/handlers/http/index.js";
import { parseHttpInput } from "../../src/handlers/http/input.js";
import { substitute } from "../../src/handlers/http/substitution.js";
import { PermanentError, type JobContext } from "../../src/worker/index.js";

const HOSTS = ["api.example.com", "*.example.org"];
const SECRETS = [
  { name: "openai", value: "sk-openai-0123456789", prefixes: ["https://api.example.com/v1/"] },
  { name: "GITHUB", value: "ghp-0123456789abcdef" },
];

const principal = (tenant: string): Principal => ({ name: "k", tenant, role: "submitter", queues: "*" });

function submitError(
  check: ReturnType<typeof createHttpSubmitCheck>,
  input: JsonValue,
  caller?: Principal,
): ConnectError | undefined {
  try {
    check(input, caller);
    return undefined;
  } catch (err) {
    return ConnectError.from(err);
  }
}

describe("Submit-time check", () => {
  const check = createHttpSubmitCheck({ allowedHosts: HOSTS, secrets: SECRETS.map(({ value: _v, ...d }) => d) });

  it("accepts jetq's and the seed's field names, and $WORDs that name no secret", () => {
    const inputs: JsonValue[] = [
      {
        url: "https://api.example.com/v1/chat",
        method: "post",
        headers: { Authorization: "Bearer $CLIENT_SECRET" },
        clientSecretName: "OpenAI",
        body: { a: 1 },
      },
      {
        url: "https://api.example.com/v1/chat",
        method: "PUT",
        secret: "openai",
        data: "costs $USD 5 $CLIENT_SECRET",
        params: { q: "x", n: 2 },
      },
      { url: "https://x.example.org/any", headers: { Authorization: "token $GITHUB" } },
      { url: "https://x.example.org/any", method: "POST", data: { prompt: "costs $USD 5" } },
    ];
    for (const input of inputs) {
      expect(submitError(check, input), JSON.stringify(input)).toBeUndefined();
    }
  });

  it("refuses with INVALID_ARGUMENT naming the field", () => {
    const cases: [JsonValue, RegExp][] = [
      [
        { url: "https://api.example.com/v1/x", headers: { a: "$CLIENT_SECRET" } },
        /input\.headers\.a: \$CLIENT_SECRET stands for the secret the job names, and none is named: add "clientSecretName"/,
      ],
      [
        { url: "https://api.example.com/v1/x", method: "POST", body: 1, data: 2 },
        /input\.data: give body or data, not both/,
      ],
      [
        { url: "https://api.example.com/v1/x", secret: "openai", clientSecretName: "openai" },
        /input\.secret: give clientSecretName or secret/,
      ],
      [
        { url: "https://api.example.com/v1/x", timeout: 5, extra: 1 },
        /input: unknown field "timeout", "extra"; the http queue takes url, method/,
      ],
      [{ url: "https://api.example.com/v1/x", method: "TRACE" }, /input\.method: must be one of GET/],
      [{ url: "https://api.example.com/v1/x", params: { a: [1] } }, /input\.params\.a: must be a string or a number/],
      [
        { url: "https://api.example.com/v1/x", headers: { "bad name": "x" } },
        /input\.headers\.bad name: is not a valid header name/,
      ],
      [
        { url: "https://api.example.com/v1/x", headers: { a: "x\r\nInjected: y" } },
        /input\.headers\.a: must not contain line breaks/,
      ],
      [{ method: "GET" }, /input\.url: is required/],
      [
        { url: "https://api.example.com/v1/x", data: { a: 1 } },
        /input\.data: a GET request has no body; use POST, or params for the query/,
      ],
      ["https://api.example.com", /input: must be an object like/],
      [{ url: "https://$GITHUB.example.org/" }, /placeholder .* host/],
      [
        { url: "https://api.example.com/v2/x", headers: { a: "$CLIENT_SECRET" }, secret: "openai" },
        /secret OPENAI may be sent only to https:\/\/api\.example\.com\/v1\//,
      ],
      [
        { url: "http://api.example.com/v1/x", headers: { a: "$CLIENT_SECRET" }, secret: "openai" },
        /secret OPENAI may be sent only to/,
      ],
      [
        { url: "https://api.example.com:8443/v1/x", headers: { a: "$CLIENT_SECRET" }, secret: "openai" },
        /secret OPENAI may be sent only to/,
      ],
      [
        { url: "https://api.example.com/v1/a/..%2f..%2fadmin", headers: { a: "$CLIENT_SECRET" }, secret: "openai" },
        /a path with %2e, %2f or %5c/,
      ],
    ];
    for (const [input, message] of cases) {
      const err = submitError(check, input);
      expect(err && Code[err.code], JSON.stringify(input)).toBe("InvalidArgument");
      expect(err!.rawMessage).toMatch(message);
    }
  });

  it("npm start always checks the http queue; without allowed hosts it refuses every http job (grants could not be checked)", async () => {
    const { builtinInputValidators } = await import("../../src/startup.js");
    const unconfigured = builtinInputValidators(parseConfig({})).get("http")!;
    const err = submitError(
      unconfigured,
      { url: "https://api.example.com/", method: "POST", data: "$USD" },
      principal("acme"),
    );
    expect(err && Code[err.code]).toBe("FailedPrecondition");
    expect(err!.rawMessage).toMatch(/no JETQ_HTTP_ALLOWED_HOSTS/);
    const configured = builtinInputValidators(parseConfig({ JETQ_HTTP_ALLOWED_HOSTS: "api.example.com" })).get("http")!;
    expect(
      submitError(configured, { url: "https://api.example.com/", method: "POST", data: "$USD" }, principal("acme")),
    ).toBeUndefined();
  });

  it("with API keys, a tenant uses only the secrets it is granted; without keys, all", () => {
    const granted = createHttpSubmitCheck({
      allowedHosts: HOSTS,
      secrets: SECRETS,
      grants: { acme: ["OpenAI"], ops: "*" },
    });
    const openai = {
      url: "https://api.example.com/v1/x",
      headers: { a: "$CLIENT_SECRET" },
      clientSecretName: "openai",
    };
    const github = { url: "https://x.example.org/", headers: { a: "$GITHUB" } };
    expect(submitError(granted, openai, principal("acme"))).toBeUndefined();
    expect(submitError(granted, github, principal("ops"))).toBeUndefined();
    expect(submitError(granted, github)).toBeUndefined();
    const denied = submitError(granted, github, principal("acme"));
    expect(denied && Code[denied.code]).toBe("PermissionDenied");
    expect(denied!.rawMessage).toBe('secret GITHUB: tenant "acme" is not granted it (JETQ_TENANT_SECRETS)');
    expect(submitError(granted, openai, principal("globex"))?.code).toBe(Code.PermissionDenied);
    // A tenant named like an Object property is not granted by it.
    expect(submitError(granted, openai, principal("constructor"))?.code).toBe(Code.PermissionDenied);
    // Naming no secret needs no grant.
    expect(
      submitError(granted, { url: "https://x.example.org/", method: "POST", data: "$USD" }, principal("globex")),
    ).toBeUndefined();
  });
});

describe("substitution", () => {
  it("keeps a value inside the string, path or query it was written in; other $WORDs stay", () => {
    const value = 'a"b\\c/d?e#f&g';
    const used = new Map([["CLIENT_SECRET", value]]);
    const spec = parseHttpInput({
      url: "https://api.example.com/v1/$CLIENT_SECRET/x?k=$CLIENT_SECRET&c=$USD",
      headers: { Authorization: "Bearer $CLIENT_SECRET", "x-price": "$USD" },
      params: { p: "$CLIENT_SECRET" },
      method: "POST",
      data: { text: "key $CLIENT_SECRET costs $USD 5", nested: ["$CLIENT_SECRET"] },
    });
    const request = substitute(spec, used);
    expect(request.url.origin).toBe("https://api.example.com");
    expect(decodeURIComponent(request.url.pathname)).toBe(`/v1/${value}/x`);
    expect(request.url.searchParams.getAll("k")).toEqual([value]);
    expect(request.url.searchParams.get("c")).toBe("$USD");
    expect(request.url.searchParams.get("p")).toBe(value);
    expect(request.headers).toEqual({
      Authorization: `Bearer ${value}`,
      "x-price": "$USD",
      "content-type": "application/json",
    });
    expect(JSON.parse(request.body!)).toEqual({ text: `key ${value} costs $USD 5`, nested: [value] });
    // A string body is sent as written around the value.
    expect(
      substitute(parseHttpInput({ url: "https://a.example/", method: "POST", body: "k=$CLIENT_SECRET" }), used).body,
    ).toBe(`k=${value}`);
  });
});

describe("the handler checks again, before any request or DNS lookup", () => {
  const handler = createHttpHandler({ allowedHosts: [...HOSTS, "*.invalid"], secrets: SECRETS });

  async function failure(input: JsonValue): Promise<{ error: unknown; logs: string[] }> {
    const logs: string[] = [];
    const ctx: JobContext = {
      id: "http-00000000001-AAAAAAAAAAAA",
      queue: "http",
      attempt: 1,
      signal: new AbortController().signal,
      log: (_level, message) => logs.push(message),
      progress: () => undefined,
    };
    try {
      await handler(input, ctx);
    } catch (error) {
      return { error, logs };
    }
    throw new Error("the handler did not fail");
  }

  it("fails PermanentError with the check's code, without reaching fetch (its log line comes right before)", async () => {
    const cases: [JsonValue, string][] = [
      [{ url: "http://$CLIENT_SECRET.secret.invalid/", clientSecretName: "openai" }, "INVALID_INPUT"],
      [{ url: "https://api.example.com/v1/x", bdy: 1 }, "INVALID_INPUT"],
      [{ url: "https://api.example.com/v1/x", clientSecretName: "nope" }, "UNKNOWN_SECRET"],
      [{ url: "https://evil.test/", headers: { a: "$GITHUB" } }, "HOST_NOT_ALLOWED"],
      [{ url: "https://api.example.com/v1/../admin/$CLIENT_SECRET", secret: "openai" }, "SECRET_URL_NOT_ALLOWED"],
    ];
    for (const [input, code] of cases) {
      const { error, logs } = await failure(input);
      expect(error, JSON.stringify(input)).toBeInstanceOf(PermanentError);
      expect((error as PermanentError).code, JSON.stringify(input)).toBe(code);
      expect((error as Error).message).not.toMatch(/sk-openai|ghp-/);
      expect(logs).toEqual([]);
    }
  });

  it("refuses to start with a declared secret that has no value", () => {
    expect(() =>
      createHttpHandler({ allowedHosts: HOSTS, secrets: [{ name: "x", prefixes: ["https://api.example.com/"] }] }),
    ).toThrow(/secret\(s\) X declared without a value/);
  });
});

describe("configuration", () => {
  const base = { JETQ_HTTP_ALLOWED_HOSTS: "api.example.com,*.example.org" };

  it("JETQ_SECRETS declares prefixes, JETQ_SECRET_<NAME> the values, JETQ_TENANT_SECRETS the grants", () => {
    const c = parseConfig({
      ...base,
      JETQ_SECRETS: '{"openai": ["https://api.example.com/v1/"], "ONLY_NAMED": "https://x.example.org/"}',
      JETQ_SECRET_OPENAI: "sk-1",
      JETQ_SECRET_legacy: "sk-2",
      JETQ_TENANT_SECRETS: '{"acme": ["openai"], "ops": "*"}',
    });
    expect(c.secrets).toEqual(
      expect.arrayContaining([
        { name: "OPENAI", value: "sk-1", prefixes: ["https://api.example.com/v1/"] },
        { name: "LEGACY", value: "sk-2", prefixes: undefined },
        { name: "ONLY_NAMED", value: undefined, prefixes: ["https://x.example.org/"] },
      ]),
    );
    expect(c.tenantSecrets).toEqual({ acme: ["openai"], ops: "*" });
  });

  it("bad declarations stop the start, naming variable and secret, never a value", () => {
    for (const [env, message] of [
      [{ JETQ_SECRETS: "{not json" }, /JETQ_SECRETS: is not valid JSON/],
      [{ JETQ_SECRETS: '{"a": []}' }, /JETQ_SECRETS: a: must be a URL prefix or a non-empty list/],
      [{ JETQ_SECRETS: '{"a-b": "https://api.example.com/"}' }, /JETQ_SECRETS: "a-b": a secret name/],
      [
        { JETQ_SECRETS: '{"a": "https://api.example.com/v1?x=1"}' },
        /secret A: URL prefix .* no credentials, query or fragment/,
      ],
      [
        { JETQ_SECRETS: '{"a": "https://other.example.net/"}' },
        /JETQ_SECRETS: A: "https:\/\/other\.example\.net\/" is on a host JETQ_HTTP_ALLOWED_HOSTS does not list/,
      ],
      [{ "JETQ_SECRET_A-B": "sk-hidden-value" }, /JETQ_SECRET_A-B \(value not shown\): the name must be/],
      [{ JETQ_TENANT_SECRETS: '{"acme": ["nope"]}' }, /JETQ_TENANT_SECRETS: acme: nope is not a declared secret/],
      [{ JETQ_TENANT_SECRETS: '{"acme": "all"}' }, /JETQ_TENANT_SECRETS: acme: must be "\*" or a list/],
    ] as [Record<string, string>, RegExp][]) {
      let error: unknown;
      try {
        parseConfig({ ...base, JETQ_SECRET_A: "sk-hidden-value", ...env });
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain("sk-hidden-value");
    }
  });
});
