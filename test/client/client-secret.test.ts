/**
 * clientSecretRequest against `npm start` (embedded engine, in-process
 * workers) and a fake third-party API on loopback: the secret is filled in on
 * the server only; the auto-poll, manual poll() and direct forms; a
 * caller-named lane runs one request at a time, a queued one cancels
 * without ever reaching the API; lanes per tenant are limited.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, createJetqClient, JetqError, JobError, type ClientSecretResponse, type JetqClient } from "@jetq/client";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { freePort } from "../helpers/free-port.js";
import { startNatsServer } from "../helpers/nats-server.js";
import { killAll, startProcess } from "../server/process.js";

const SECRET = "sk-fake-3b7e1c9a5d2f4e6a8c0b";

interface Seen {
  path: string;
  authorization: string | undefined;
  body: string;
}

/** The fake API: /v1/chat answers at once; /v1/hold/<tag> only when the test releases <tag>. */
function fakeApi() {
  const seen: Seen[] = [];
  const held = new Map<string, () => void>();
  const arrivals = new Map<string, () => void>();
  const arrived = new Map<string, Promise<void>>();
  const arrival = (tag: string) => {
    if (!arrived.has(tag)) arrived.set(tag, new Promise<void>((resolve) => arrivals.set(tag, resolve)));
    return arrived.get(tag)!;
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const path = (req.url ?? "").split("?", 1)[0]!;
    seen.push({ path, authorization: req.headers.authorization, body });
    const tag = path.startsWith("/v1/hold/") ? path.slice("/v1/hold/".length) : undefined;
    if (tag !== undefined) {
      await new Promise<void>((resolve) => {
        held.set(tag, resolve);
        void arrival(tag);
        arrivals.get(tag)!();
      });
    }
    if (path === "/v1/missing") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "no such model" }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "x-fake": "yes" });
    res.end(JSON.stringify({ answer: 42, path, got: body === "" ? null : (JSON.parse(body) as unknown) }));
  });
  return {
    server,
    seen,
    arrival,
    release: (tag: string) => held.get(tag)!(),
    paths: () => seen.map((s) => s.path),
  };
}

const api = fakeApi();
let base: string;
let apiPort: number;
let client: JetqClient;
let jetqUrl: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  apiPort = (api.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${apiPort}`;
  const port = await freePort();
  const jetq = startProcess("start", {
    PORT: String(port),
    HOST: "127.0.0.1",
    JETQ_HTTP_ALLOWED_HOSTS: `127.0.0.1:${apiPort}`,
    JETQ_SECRETS: JSON.stringify({ OPENAI: [`${base}/v1/`] }),
    JETQ_SECRET_OPENAI: SECRET,
    JETQ_HTTP_LANES_PER_TENANT: "2",
  });
  await jetq.waitForLine((l) => l.msg.includes("listening"), 30_000);
  jetqUrl = `http://127.0.0.1:${port}`;
  client = createJetqClient({ baseUrl: jetqUrl });
});
afterAll(() => {
  killAll();
  api.server.close();
});

const chat = (prompt: string) => ({
  clientSecretName: "openai", // declared as OPENAI: names match case-insensitively
  url: `${base}/v1/chat`,
  method: "POST",
  headers: { Authorization: "Bearer $CLIENT_SECRET" },
  data: { prompt },
});

test("auto-poll: onResponse once with the API's response; only the API saw the secret", async () => {
  const responses: ClientSecretResponse[] = [];
  const result = await client.clientSecretRequest({
    ...chat("auto"),
    poll: 50,
    onResponse: (response) => {
      responses.push(response);
      return { mine: response.body };
    },
  });
  expect(responses).toHaveLength(1);
  expect(responses[0]!.status).toBe(200);
  expect(responses[0]!.headers["x-fake"]).toBe("yes");
  expect(result).toEqual({ mine: { answer: 42, path: "/v1/chat", got: { prompt: "auto" } } });
  const call = api.seen.find((s) => s.body.includes('"auto"'))!;
  expect(call.authorization).toBe(`Bearer ${SECRET}`);
  expect(JSON.stringify([result, responses])).not.toContain(SECRET);
});

test("manual: a handle, whose poll() ends in onResponse", async () => {
  const handle = await client.clientSecretRequest({ ...chat("manual"), queue: "manual-lane" });
  expect(handle.queue_name).toBe("manual-lane");
  expect(["pending", "running"]).toContain(handle.status);
  expect(handle.id).toMatch(/^http-lane-manual-lane/);
  const out = await handle.poll({ latency: 50, onResponse: (r) => r.body });
  expect(out).toEqual({ answer: 42, path: "/v1/chat", got: { prompt: "manual" } });
});

test("GetStatus include_input answers the input as sent: $CLIENT_SECRET, never the secret", async () => {
  const handle = await client.clientSecretRequest({ ...chat("echo input"), queue: "manual-lane" });
  const raw = createClient(QueueService, createConnectTransport({ baseUrl: jetqUrl, httpVersion: "1.1" }));
  for (const when of ["submitted", "finished"]) {
    if (when === "finished") await handle.poll({ latency: 50, onResponse: (r) => r.body });
    const job = await raw.getStatus({ id: handle.id, includeInput: true });
    const input = toJson(ValueSchema, job.input!) as { headers: Record<string, string>; data: unknown };
    expect(input.headers.Authorization, when).toBe("Bearer $CLIENT_SECRET");
    expect(input.data, when).toEqual({ prompt: "echo input" });
    expect(JSON.stringify(input), when).not.toContain(SECRET);
  }
  expect(api.seen.find((s) => s.body.includes('"echo input"'))?.authorization).toBe(`Bearer ${SECRET}`);
});

test("a lane runs one request at a time: the second waits, its cancel removes it before the API sees it", async () => {
  const hold = (tag: string) => ({ ...chat(tag), url: `${base}/v1/hold/${tag}` });
  const first = await client.clientSecretRequest({ ...hold("first"), queue: "image-queue" });
  await api.arrival("first");
  const second = await client.clientSecretRequest({ ...hold("second"), queue: "image-queue" });
  expect(second.status).toBe("pending");
  expect(second.in_queue).toBe(1);
  expect(await client.clientSecretRequestQueueCount({ queue: "image-queue" })).toEqual({
    queue_name: "image-queue",
    in_queue: 1,
  });

  const cancelled = await client.cancelClientSecretRequest({ id: second.id, queue: "image-queue" });
  expect(cancelled.removed).toBe(true);
  expect(await client.clientSecretRequestQueueCount({ queue: "image-queue" })).toEqual({
    queue_name: "image-queue",
    in_queue: 0,
  });
  const failed = await second.poll({ latency: 50, onError: (e) => e });
  expect(failed).toBeInstanceOf(JobError);
  expect((failed as JobError).state).toBe("CANCELLED");

  api.release("first");
  expect((await first.poll({ latency: 50 })).body).toMatchObject({ path: "/v1/hold/first" });
  // The lane goes on past the cancelled request, which never reached the API.
  const third = await client.clientSecretRequest({ ...chat("third"), queue: "image-queue", poll: 50 });
  expect(third.status).toBe(200);
  expect(api.paths()).toContain("/v1/hold/first");
  expect(api.paths()).not.toContain("/v1/hold/second");
});

test("direct: one call returns the response; a 4xx goes to onError", async () => {
  const response = await client.clientSecretRequest(chat("direct"));
  expect(response.status).toBe(200);
  expect(response.body).toEqual({ answer: 42, path: "/v1/chat", got: { prompt: "direct" } });

  const code = await client.clientSecretRequest({
    ...chat("missing"),
    url: `${base}/v1/missing`,
    onResponse: () => "unexpected",
    onError: (e) => (e instanceof JobError ? e.code : "other"),
  });
  expect(code).toBe("HTTP_404");
});

test("lanes per tenant are limited (JETQ_HTTP_LANES_PER_TENANT); bad lane names are refused before a call", async () => {
  const err = await client.clientSecretRequest({ ...chat("over"), queue: "third-lane" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(JetqError);
  expect((err as JetqError).code).toBe(Code.ResourceExhausted);
  expect((err as JetqError).message).toContain("JETQ_HTTP_LANES_PER_TENANT");
  await expect(client.clientSecretRequest({ ...chat("bad"), queue: "Image Queue" })).rejects.toThrow(TypeError);
});

test("split on NATS: an API-only process makes the lane, a worker process finds it and serves it", async () => {
  const nats = await startNatsServer();
  let apiOnly: ReturnType<typeof startProcess> | undefined;
  let worker: ReturnType<typeof startProcess> | undefined;
  try {
    const port = await freePort();
    const common = {
      NATS_URL: nats.url,
      JETQ_HTTP_ALLOWED_HOSTS: `127.0.0.1:${apiPort}`,
      JETQ_SECRETS: JSON.stringify({ OPENAI: [`${base}/v1/`] }),
      JETQ_HTTP_LANE_SCAN_MS: "200",
    };
    // The API holds no secret values; the worker does.
    apiOnly = startProcess("start", { ...common, PORT: String(port), HOST: "127.0.0.1", JETQ_WORKERS: "false" });
    worker = startProcess("worker", { ...common, JETQ_SECRET_OPENAI: SECRET });
    await apiOnly.waitForLine((l) => l.msg.includes("listening"), 30_000);
    await worker.waitForLine((l) => l.msg.includes("worker"), 30_000);
    const split = createJetqClient({ baseUrl: `http://127.0.0.1:${port}` });
    const response = await split.clientSecretRequest({
      ...chat("split"),
      queue: "split-lane",
      poll: 50,
      onResponse: (r) => r,
    });
    expect(response.status).toBe(200);
    expect(api.seen.find((s) => s.body.includes('"split"'))?.authorization).toBe(`Bearer ${SECRET}`);
  } finally {
    for (const p of [apiOnly, worker]) p?.proc.kill("SIGKILL");
    await nats.stop();
  }
});
