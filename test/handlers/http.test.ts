/**
 * The built-in `http` handler in a real jetq process on each engine: secrets
 * reach the third party, and never come back to the caller, the logs or the
 * job record.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fromJson, toJson, toJsonString, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JobSchema, JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { freePort } from "../helpers/free-port.js";
import { startNatsServer, type NatsServer } from "../helpers/nats-server.js";
import { killAll, startProcess } from "../server/process.js";

const SECRET = "sk-live-0123456789abcdef";

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

async function startThirdParty(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  let flaky = 0;
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body });
    if (req.url === "/echo-headers") {
      // A careless API that reflects the caller's credentials.
      res.writeHead(200, { "content-type": "application/json", "x-echo-auth": req.headers.authorization ?? "" });
      res.end(JSON.stringify({ youSent: req.headers.authorization, body }));
    } else if (req.url === "/bad-request") {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `invalid key ${req.headers.authorization}` }));
    } else if (req.url === "/flaky") {
      flaky += 1;
      res.writeHead(flaky < 3 ? 503 : 200, { "content-type": "text/plain" });
      res.end(flaky < 3 ? "try later" : "finally");
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

const ENGINES = ["memory", "nats"] as const;

describe.each(ENGINES)("http handler [%s engine]", (engineName) => {
  let nats: NatsServer | undefined;
  let thirdParty: Awaited<ReturnType<typeof startThirdParty>>;
  let client: Client<typeof QueueService>;
  let jetq: ReturnType<typeof startProcess>;

  beforeAll(async () => {
    thirdParty = await startThirdParty();
    if (engineName === "nats") nats = await startNatsServer();
    const port = await freePort();
    jetq = startProcess("start", {
      PORT: String(port),
      HOST: "127.0.0.1",
      JETQ_LOG_LEVEL: "debug",
      JETQ_MAX_ATTEMPTS: "3",
      JETQ_HTTP_ALLOWED_HOSTS: `127.0.0.1:${thirdParty.port}`,
      JETQ_SECRET_CLIENT_SECRET: SECRET,
      ...(nats ? { NATS_URL: nats.url } : {}),
    });
    await jetq.waitForLine((l) => l.msg.startsWith("jetq listening"));
    client = createClient(QueueService, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }));
  });

  afterEach(() => {
    thirdParty.seen.length = 0;
  });

  afterAll(async () => {
    killAll();
    thirdParty.server.close();
    await nats?.stop();
  });

  async function finish(id: string) {
    for await (const job of client.streamStatus({ id, includeLogs: true }, { timeoutMs: 20_000 })) {
      if (job.state >= JobState.COMPLETED) return job;
    }
    throw new Error("stream ended without a terminal state");
  }

  const json = (v: JsonValue) => fromJson(ValueSchema, v);
  const base = () => `http://127.0.0.1:${thirdParty.port}`;

  it("substitutes $CLIENT_SECRET for the third party and redacts it everywhere the caller can look", async () => {
    const submitted = await client.submit({
      queue: "http",
      input: json({
        method: "POST",
        url: `${base()}/echo-headers`,
        headers: { Authorization: "Bearer $CLIENT_SECRET" },
        body: { prompt: "a cat" },
      }),
    });
    const job = await finish(submitted.id);
    expect(JobState[job.state]).toBe("COMPLETED");

    expect(thirdParty.seen).toHaveLength(1);
    expect(thirdParty.seen[0]!.authorization).toBe(`Bearer ${SECRET}`);
    expect(JSON.parse(thirdParty.seen[0]!.body)).toEqual({ prompt: "a cat" });

    const result = await client.getResult({ id: submitted.id });
    const output = JSON.stringify(toJson(ValueSchema, result.output!));
    expect(output).not.toContain(SECRET);
    expect(output).toContain("Bearer [REDACTED]");
    const status = toJsonString(JobSchema, await client.getStatus({ id: submitted.id, includeLogs: true }));
    expect(status).not.toContain(SECRET);
    expect(status).toContain("POST http");
    expect(JSON.stringify(jetq.lines)).not.toContain(SECRET);
  });

  it("a 4xx fails at once with HTTP_<status>, the secret redacted from the message", async () => {
    const submitted = await client.submit({
      queue: "http",
      input: json({ url: `${base()}/bad-request`, headers: { Authorization: "$CLIENT_SECRET" } }),
    });
    const job = await finish(submitted.id);
    expect(JobState[job.state]).toBe("FAILED");
    expect(job.attempt).toBe(1);
    expect(job.error?.code).toBe("HTTP_400");
    expect(job.error?.message).toContain("[REDACTED]");
    expect(toJsonString(JobSchema, job)).not.toContain(SECRET);
    expect(JSON.stringify(jetq.lines)).not.toContain(SECRET);
  });

  it("a 503 is retried and the job completes on a later attempt", async () => {
    const submitted = await client.submit({
      queue: "http",
      input: json({ url: `${base()}/flaky` }),
      options: { retryBackoff: { seconds: 0n, nanos: 50_000_000 } },
    });
    const job = await finish(submitted.id);
    expect(JobState[job.state]).toBe("COMPLETED");
    expect(job.attempt).toBe(3);
    const result = await client.getResult({ id: submitted.id });
    expect(toJson(ValueSchema, result.output!)).toMatchObject({ status: 200, body: "finally" });
  });

  it("hosts outside the allow-list, unknown secrets and credentials in URLs fail without a request", async () => {
    const cases: { input: JsonValue; code: string }[] = [
      { input: { url: "http://169.254.169.254/latest/meta-data" }, code: "HOST_NOT_ALLOWED" },
      { input: { url: `${base()}/echo-headers`, headers: { Authorization: "$OTHER_SECRET" } }, code: "UNKNOWN_SECRET" },
      { input: { url: `http://user:pw@127.0.0.1:${thirdParty.port}/x` }, code: "INVALID_INPUT" },
      { input: { url: "file:///etc/passwd" }, code: "INVALID_INPUT" },
    ];
    for (const c of cases) {
      const submitted = await client.submit({ queue: "http", input: json(c.input) });
      const job = await finish(submitted.id);
      expect(JobState[job.state], JSON.stringify(c.input)).toBe("FAILED");
      expect(job.error?.code).toBe(c.code);
      expect(job.attempt).toBe(1);
    }
    expect(thirdParty.seen).toHaveLength(0);
  });
});
