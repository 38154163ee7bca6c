/**
 * The built-in `http` handler in real jetq processes on each engine (on NATS
 * an API without workers plus a worker process, so Submit's checks run where
 * no handler is): secrets reach the third party, and no encoding of them
 * comes back to a caller or into either process's log.
 */
import { fromJson, toJson, toJsonString, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobSchema, JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { freePort } from "../helpers/free-port.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { killAll, startProcess } from "../server/process.js";
import { ECHO_FORMS, startThirdParty, type ThirdParty } from "./fake-third-party.js";
import { leaks } from "./leak-detector.js";

const OPENAI = "sk-Live/0123+abcdEF_xyz9876";
const LEGACY = "legacy-0123456789abcdef";

const ENGINES = ["memory", "nats"] as const;

describe.each(ENGINES)("http handler [%s engine]", (engineName) => {
  let nats: NatsServer | undefined;
  let thirdParty: ThirdParty;
  let client: Client<typeof QueueService>;
  const processes: ReturnType<typeof startProcess>[] = [];
  /** Everything a caller was shown, to scan for the secrets. */
  const shown: string[] = [];

  beforeAll(async () => {
    thirdParty = await startThirdParty();
    const port = await freePort();
    const base = `http://127.0.0.1:${thirdParty.port}`;
    const env = {
      PORT: String(port),
      HOST: "127.0.0.1",
      JETQ_LOG_LEVEL: "trace",
      JETQ_MAX_ATTEMPTS: "2",
      JETQ_HTTP_ALLOWED_HOSTS: `127.0.0.1:${thirdParty.port}`,
    };
    const values = { JETQ_SECRET_OPENAI: OPENAI, JETQ_SECRET_CLIENT_SECRET: LEGACY };
    if (engineName === "nats") {
      nats = await startNatsServer();
      // The API knows the secrets' names and prefixes only; the worker has the values.
      const declared = {
        JETQ_SECRETS: JSON.stringify({ openai: [`${base}/v1/`], CLIENT_SECRET: `${base}/` }),
        NATS_URL: nats.url,
      };
      const worker = startProcess("worker", { ...env, ...declared, ...values });
      processes.push(worker, startProcess("start", { ...env, ...declared, JETQ_WORKERS: "false" }));
      await worker.waitForLine((l) => l.msg === "worker started");
    } else {
      // One process; CLIENT_SECRET in the shorthand form (every allowed host).
      processes.push(
        startProcess("start", { ...env, ...values, JETQ_SECRETS: JSON.stringify({ OPENAI: `${base}/v1/` }) }),
      );
    }
    await processes.at(-1)!.waitForLine((l) => l.msg.startsWith("jetq listening"));
    client = createClient(
      QueueService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }),
    );
  });

  afterEach(() => {
    thirdParty.seen.length = 0;
  });

  afterAll(async () => {
    killAll();
    thirdParty.close();
    await nats?.stop();
  });

  const json = (v: JsonValue) => fromJson(ValueSchema, v);
  const base = () => `http://127.0.0.1:${thirdParty.port}`;

  /** Submits, follows the job to its end through StreamStatus, and records everything shown on the way. */
  async function run(input: JsonValue) {
    const submitted = await client.submit({ queue: "http", input: json(input) });
    shown.push(toJsonString(JobSchema, submitted));
    for await (const job of client.streamStatus({ id: submitted.id, includeLogs: true }, { timeoutMs: 20_000 })) {
      shown.push(toJsonString(JobSchema, job));
      if (job.state >= JobState.COMPLETED) break;
    }
    const status = await client.getStatus({ id: submitted.id, includeLogs: true });
    shown.push(toJsonString(JobSchema, status));
    const result = await client.getResult({ id: submitted.id });
    const output = result.output ? toJson(ValueSchema, result.output) : null;
    shown.push(JSON.stringify(output), JSON.stringify(result.error ?? null));
    return { status, output };
  }

  /** The ConnectError a Submit is refused with (and what it showed). */
  async function refused(input: JsonValue): Promise<ConnectError> {
    try {
      const job = await client.submit({ queue: "http", input: json(input) });
      throw new Error(`accepted: ${job.id}`);
    } catch (err) {
      const e = ConnectError.from(err);
      shown.push(`${Code[e.code]} ${e.message}`);
      return e;
    }
  }

  function expectNoLeak(): void {
    const logs = processes.map((p) => JSON.stringify(p.lines) + p.stderr());
    for (const secret of [OPENAI, LEGACY]) {
      for (const text of [...shown, ...logs]) expect(leaks(text, secret), text.slice(0, 300)).toEqual([]);
    }
  }

  it("every echo of the secret (escaped JSON, base64, hex, percent, case, header, 401, 500, text) is kept from callers and logs", async () => {
    for (const form of ECHO_FORMS) {
      const { status, output } = await run({
        method: "POST",
        url: `${base()}/v1/echo/${form}`,
        headers: { Authorization: "Bearer $CLIENT_SECRET" },
        clientSecretName: "openai",
        data: { prompt: "a cat" },
      });
      const expected = form === "error-401" ? "FAILED" : form === "error-500" ? "FAILED" : "COMPLETED";
      expect(JobState[status.state], form).toBe(expected);
      if (form === "error-401") expect(status.error?.code).toBe("HTTP_401");
      if (form === "error-500") expect(status.attempt).toBe(2);
      if (expected === "COMPLETED") expect(JSON.stringify(output), form).toContain("[REDACTED]");
      else expect(status.error?.message, form).toContain("[REDACTED]");
    }
    // The secret did reach the API, every time (twice for the retried 500).
    expect(thirdParty.seen).toHaveLength(ECHO_FORMS.length + 1);
    for (const s of thirdParty.seen) expect(s.authorization).toBe(`Bearer ${OPENAI}`);
    // Each failed attempt reached the log, from the redacted error: the 500's first as a retry, then both jobs' end
    // lines (written a moment after the state the API shows).
    const failedEnd = (l: { msg: string; state?: unknown }) => l.msg === "job finished" && l.state === "FAILED";
    const lines = () => processes.flatMap((p) => p.lines);
    await Promise.any(processes.map((p) => p.waitForLine((l) => failedEnd(l) && l.code !== "HTTP_401", 10_000)));
    expect(lines().filter((l) => l.msg === "job attempt failed; retrying")).toHaveLength(1);
    expect(lines().filter(failedEnd)).toHaveLength(2);
    expectNoLeak();
  });

  it("every process says at start which secret may go where, by name and prefix only", () => {
    for (const p of processes) {
      const line = p.lines.find(
        (l) =>
          l.msg.startsWith("http: 2 secret(s) (OPENAI, CLIENT_SECRET)") ||
          l.msg.startsWith("http: 2 secret(s) (CLIENT_SECRET, OPENAI)"),
      );
      expect(line, JSON.stringify(p.lines.map((l) => l.msg))).toMatchObject({ secrets: { OPENAI: [`${base()}/v1/`] } });
    }
    const warnings = processes.flatMap((p) => p.lines).filter((l) => l.msg.includes("may go to every allowed host"));
    // Only the short form (memory run: CLIENT_SECRET without a JETQ_SECRETS entry) is unbound.
    expect(warnings.map((l) => l.secrets)).toEqual(engineName === "memory" ? [["CLIENT_SECRET"]] : []);
    expectNoLeak();
  });

  it("the $NAME form of a declared secret keeps working, redacted as before", async () => {
    const { status, output } = await run({
      method: "POST",
      url: `${base()}/echo-request`,
      headers: { Authorization: "Bearer $CLIENT_SECRET" },
      body: { key: "$CLIENT_SECRET" },
    });
    expect(JobState[status.state]).toBe("COMPLETED");
    expect(thirdParty.seen[0]!.authorization).toBe(`Bearer ${LEGACY}`);
    expect(JSON.parse(thirdParty.seen[0]!.body)).toEqual({ key: LEGACY });
    expect(JSON.stringify(output)).toContain("[REDACTED]");
    expectNoLeak();
  });

  it("$USD in a prompt is sent as written and the job completes; data and params are the body and query", async () => {
    const { status, output } = await run({
      method: "POST",
      url: `${base()}/v1/request`,
      data: { prompt: "costs $USD 5, or $EUR_4" },
      params: { q: "a b", n: 5 },
    });
    expect(JobState[status.state]).toBe("COMPLETED");
    expect(thirdParty.seen).toHaveLength(1);
    expect(JSON.parse(thirdParty.seen[0]!.body)).toEqual({ prompt: "costs $USD 5, or $EUR_4" });
    expect(thirdParty.seen[0]!.url).toBe("/v1/request?q=a+b&n=5");
    expect(output).toMatchObject({ status: 200 });
  });

  it("Submit refuses, before anything is enqueued or sent: a placeholder in the host, a URL outside the secret's prefixes, unknown fields", async () => {
    const cases: [JsonValue, RegExp][] = [
      [
        { url: `http://$CLIENT_SECRET.localhost:${thirdParty.port}/`, clientSecretName: "openai" },
        /input\.url: a placeholder .* host/,
      ],
      [{ url: `http://$OPENAI.127.0.0.1:${thirdParty.port}/` }, /input\.url: a placeholder .* host/],
      [{ url: `http://127.0.0.1:$PORT/` }, /input\.url: a placeholder .* port/],
      [{ url: "$SCHEME://127.0.0.1/" }, /input\.url: .* is not a URL/],
      [
        { url: `${base()}/admin`, headers: { a: "$CLIENT_SECRET" }, clientSecretName: "openai" },
        /secret OPENAI may be sent only to .*\/v1\/; .*\/admin is outside/,
      ],
      [{ url: `${base()}/v10/x?k=$CLIENT_SECRET`, clientSecretName: "OpenAI" }, /secret OPENAI may be sent only to/],
      [{ url: `${base()}/v1/../admin`, headers: { a: "$OPENAI" } }, /secret OPENAI may be sent only to/],
      // The URL parser resolves %2e%2e as ".."; an encoded slash it leaves to the server, so it is refused.
      [
        { url: `${base()}/v1/%2e%2e/admin`, headers: { a: "$OPENAI" } },
        /secret OPENAI may be sent only to .*\/admin is outside/,
      ],
      [
        { url: `${base()}/v1/..%2Fadmin`, headers: { a: "$OPENAI" } },
        /input\.url: a path with %2e, %2f or %5c may not carry a secret/,
      ],
      [{ url: `${base()}/v1/x`, bdy: { prompt: "x" } }, /input: unknown field "bdy"/],
      [{ url: `${base()}/v1/x`, headers: { a: 1 } }, /input\.headers\.a: must be a string/],
      [{ url: `${base()}/v1/x`, clientSecretName: "nope" }, /input\.clientSecretName: no secret "nope" is declared/],
      [{ url: "http://169.254.169.254/latest/meta-data" }, /host "169\.254\.169\.254" is not allowed/],
      [{ url: `http://user:pw@127.0.0.1:${thirdParty.port}/x` }, /must not carry credentials/],
      [{ url: "file:///etc/passwd" }, /must be http or https/],
    ];
    for (const [input, message] of cases) {
      const err = await refused(input);
      expect(Code[err.code], JSON.stringify(input)).toBe("InvalidArgument");
      expect(err.rawMessage).toMatch(message);
    }
    // Had any refused job been enqueued, the worker would have called the third party before this one's request.
    const { status } = await run({ url: `${base()}/v1/request` });
    expect(JobState[status.state]).toBe("COMPLETED");
    expect(thirdParty.seen.map((s) => s.url)).toEqual(["/v1/request"]);
    expectNoLeak();
  });

  it("a secret whose final URL leaves its prefixes fails in the worker without a request", async () => {
    // Submit cannot decide a path that still holds a placeholder; the worker checks the final URL.
    const { status } = await run({ url: `${base()}/v1/../admin/$CLIENT_SECRET`, clientSecretName: "openai" });
    expect(JobState[status.state]).toBe("FAILED");
    expect(status.error?.code).toBe("SECRET_URL_NOT_ALLOWED");
    expect(status.attempt).toBe(1);
    expect(thirdParty.seen).toHaveLength(0);
    expectNoLeak();
  });

  it("a 4xx fails at once with HTTP_<status>; a 503 is retried and completes", async () => {
    const bad = await run({ url: `${base()}/bad-request`, headers: { Authorization: "$CLIENT_SECRET" } });
    expect(JobState[bad.status.state]).toBe("FAILED");
    expect(bad.status.attempt).toBe(1);
    expect(bad.status.error?.code).toBe("HTTP_400");
    const flaky = await client.submit({
      queue: "http",
      input: json({ url: `${base()}/flaky` }),
      options: { maxAttempts: 3, retryBackoff: { seconds: 0n, nanos: 50_000_000 } },
    });
    let last: JobState = JobState.UNSPECIFIED;
    for await (const job of client.streamStatus({ id: flaky.id }, { timeoutMs: 20_000 })) {
      last = job.state;
      if (job.state >= JobState.COMPLETED) break;
    }
    expect(JobState[last]).toBe("COMPLETED");
    const result = await client.getResult({ id: flaky.id });
    expect(toJson(ValueSchema, result.output!)).toMatchObject({ status: 200, body: "finally" });
    expectNoLeak();
  });
});
