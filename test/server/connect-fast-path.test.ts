/**
 * The Connect fast path (src/server/connect/fast-path.ts) must be
 * indistinguishable from connect-es to clients. Every request here goes over
 * a real socket (HTTP/1.1 or h2c, hand-built so the bytes are exactly what we
 * say) to startServer on a real engine, and RunningServer.fastPathCalls tells
 * which side answered: a request with `connect-timeout-ms` is one the fast
 * path declines, so connect-es serves it.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { isDeepStrictEqual } from "node:util";
import { gzipSync } from "node:zlib";
import {
  create,
  fromBinary,
  toBinary,
  toJson,
  type DescMessage,
  type DescMethod,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelRequestSchema,
  GetResultRequestSchema,
  GetStatusRequestSchema,
  QueueCountRequestSchema,
  QueueService,
  StreamStatusRequestSchema,
  SubmitAndStreamRequestSchema,
  SubmitRequestSchema,
} from "../../gen/jetq/v1/queue_pb.js";
import { formatJobId } from "../../src/engine/job-id.js";
import { startServer, type RunningServer, type ServerOptions } from "../../src/server/server.js";
import {
  fetchOne,
  forEachEngine,
  uniqueQueue,
  waitFor,
  waitForStatus,
  type EngineEnv,
} from "../conformance/harness.js";

/** HTTP version and Connect format of each transport a generated client can use. */
const CONNECT_TRANSPORTS = [
  ["1.1", false],
  ["1.1", true],
  ["2", false],
  ["2", true],
] as const;

// ---------------------------------------------------------------- raw wire

type Wire = "http/1.1" | "h2c";
const WIRES: Wire[] = ["http/1.1", "h2c"];

interface RawRequest {
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** false: no content-length (HTTP/1.1 sends the body chunked). Default true. */
  contentLength?: boolean;
  /**
   * The body never ends: `body` is sent and the request stays open until the
   * answer is in (then it is cut). Only an answer that does not wait for the
   * body can come back.
   */
  endless?: boolean;
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One client per server: an h2c session (opened on demand) and fresh HTTP/1.1 connections. */
class RawClient {
  private session: http2.ClientHttp2Session | undefined;
  constructor(private readonly url: string) {}

  send(wire: Wire, req: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
    const result = wire === "h2c" ? this.h2(req) : this.h1(req);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${wire} POST ${req.path}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
  }

  private h1(req: RawRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.contentLength !== false) headers["content-length"] = String(req.body.byteLength);
      const r = http.request(`${this.url}${req.path}`, { method: "POST", headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: flat(res.headers), body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      });
      r.on("error", reject);
      // write() then end(): without a content-length, node then sends the body chunked.
      if (req.body.byteLength > 0) r.write(req.body);
      if (req.endless) r.on("response", (res) => res.once("end", () => r.destroy()));
      else r.end();
    });
  }

  private h2(req: RawRequest): Promise<RawResponse> {
    this.session ??= http2.connect(this.url);
    const session = this.session;
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": req.path, ...req.headers };
      if (req.contentLength !== false) headers["content-length"] = String(req.body.byteLength);
      const stream = session.request(headers);
      let status = 0;
      let head: Record<string, string> = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        head = flat(h);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        resolve({ status, headers: head, body: Buffer.concat(chunks) });
        if (req.endless) stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on("error", reject);
      if (req.endless) stream.write(req.body);
      else stream.end(req.body);
    });
  }

  close() {
    this.session?.close();
    this.session = undefined;
  }
}

function flat(h: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  return out;
}

// ---------------------------------------------------------------- encoding

const enc = new TextEncoder();
const method = (name: string): DescMethod => QueueService.methods.find((m) => m.name === name)!;

function envelope(message: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + message.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, 5);
  return out;
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** Headers transports own, not the protocol: they legitimately differ between two answers. */
const TRANSPORT_HEADERS = new Set(["date", "content-length", "connection", "keep-alive", "transfer-encoding"]);

/** What a client can tell about an answer: status, headers, and the body decoded. */
function observe(rpc: DescMethod, res: RawResponse) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (!TRANSPORT_HEADERS.has(k)) headers[k] = v;
  // Generated per request (request-id.ts): both paths must send one, of that form.
  if (headers["x-request-id"] !== undefined && /^[0-9A-Za-z]{12}$/.test(headers["x-request-id"])) {
    headers["x-request-id"] = "<generated>";
  }
  return { status: res.status, headers, body: decodeBody(rpc, res) };
}

function decodeBody(rpc: DescMethod, res: RawResponse): unknown {
  const type = res.headers["content-type"] ?? "";
  if (type === "application/json") return JSON.parse(res.body.toString("utf8")) as unknown;
  if (type === "application/proto") return toJson(rpc.output, fromBinary(rpc.output, res.body));
  if (type === "application/connect+proto" || type === "application/connect+json") {
    return frames(res.body).map(({ flags, data }) => {
      if (flags & 0b10) return { end: JSON.parse(Buffer.from(data).toString("utf8")) as unknown };
      if (flags !== 0) return { flags };
      return {
        message:
          type === "application/connect+proto"
            ? toJson(rpc.output, fromBinary(rpc.output, data))
            : (JSON.parse(Buffer.from(data).toString("utf8")) as unknown),
      };
    });
  }
  return { undecoded: type, text: res.body.toString("latin1") };
}

function frames(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  let at = 0;
  while (at < body.byteLength) {
    if (body.byteLength - at < 5) throw new Error(`truncated envelope header at ${at}`);
    const length = new DataView(body.buffer, body.byteOffset + at).getUint32(1);
    if (body.byteLength - at - 5 < length) throw new Error(`truncated envelope at ${at}`);
    out.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** The error of a unary answer or of a stream's end-stream message; undefined on success. */
function errorOf(rpc: DescMethod, res: RawResponse): { code: string; message: string } | undefined {
  const body = decodeBody(rpc, res) as
    Record<string, unknown> | { end?: { error?: { code: string; message: string } } }[];
  if (Array.isArray(body)) return body.at(-1)?.end?.error;
  if (res.status === 200) return undefined;
  return body as { code: string; message: string };
}

// ---------------------------------------------------------------- the server

interface Ctx {
  server: RunningServer;
  raw: RawClient;
}

/** A server of the file's own on the engine, with its raw client; closed after the block. */
function useServer(env: EngineEnv, options: Omit<ServerOptions, "engine"> = {}): Ctx {
  let server: RunningServer | undefined;
  let raw: RawClient | undefined;
  beforeAll(async () => {
    server = await startServer({ engine: env.api, port: 0, host: "127.0.0.1", ...options });
    raw = new RawClient(server.url);
  });
  afterAll(async () => {
    raw?.close();
    await server?.close();
  });
  return {
    get server() {
      if (!server) throw new Error("server not started");
      return server;
    },
    get raw() {
      if (!raw) throw new Error("server not started");
      return raw;
    },
  };
}

/**
 * Sends req once on the fast path and once with a header that makes it
 * decline (connect-es answers), asserting that each went where it should.
 */
async function both(ctx: Ctx, wire: Wire, req: RawRequest): Promise<{ fast: RawResponse; slow: RawResponse }> {
  const before = ctx.server.fastPathCalls;
  const fast = await ctx.raw.send(wire, req);
  expect(ctx.server.fastPathCalls, "the fast path served the plain request").toBe(before + 1);
  const slow = await ctx.raw.send(wire, { ...req, headers: { ...req.headers, "connect-timeout-ms": "60000" } });
  expect(ctx.server.fastPathCalls, "connect-es served the request with connect-timeout-ms").toBe(before + 1);
  return { fast, slow };
}

// ---------------------------------------------------------------- cases

interface Case {
  name: string;
  rpc: string;
  /** The content type's format. */
  binary: boolean;
  body: Uint8Array;
  headers?: Record<string, string>;
  /** What the answer must be (a sanity check that the case tests what it says). */
  expect: { code?: Code; ok?: true };
  /**
   * A difference we keep on purpose: the fast path is right and connect-es is
   * not (see the reason). Both answers are pinned, so a change on either side
   * shows up here.
   */
  differs?: { why: string; connectEs: { code: string; message: string } | "ok" };
}

type Init<D extends DescMessage> = MessageInitShape<D>;

/** A request message in both formats, as unary or streaming bodies. */
function messageCases<D extends DescMessage>(
  name: string,
  rpc: string,
  schema: D,
  init: Init<D>,
  expected: Case["expect"],
): Case[] {
  const m = create(schema, init);
  const streaming = method(rpc).methodKind === "server_streaming";
  const binary = toBinary(schema, m);
  const json = enc.encode(JSON.stringify(toJson(schema, m)));
  return [
    { name: `${name} (binary)`, rpc, binary: true, body: streaming ? envelope(binary) : binary, expect: expected },
    { name: `${name} (JSON)`, rpc, binary: false, body: streaming ? envelope(json) : json, expect: expected },
  ];
}

function contentType(c: Case): string {
  const streaming = method(c.rpc).methodKind === "server_streaming";
  if (streaming) return c.binary ? "application/connect+proto" : "application/connect+json";
  return c.binary ? "application/proto" : "application/json";
}

interface Fixtures {
  /** Declared, nobody works on it; holds one queued job (`queued`). */
  quiet: string;
  /** A finished job with a log line and an output. */
  done: string;
  /** A queued job, submitted through the API with an idempotency key. */
  queued: string;
  idempotencyKey: string;
  /** The queue of `done`, and the key of a finished job submitted to it through the API. */
  work: string;
  doneKey: string;
}

function cases(fx: Fixtures): Case[] {
  const unknownQueue = uniqueQueue("nobody");
  const missing = formatJobId({ queue: fx.quiet, seq: 987654, token: "AbCdEfGh1234" });
  const bad = Code.InvalidArgument;
  const json = (rpc: string, text: string, expected: Case["expect"], name: string): Case => ({
    name,
    rpc,
    binary: false,
    body: enc.encode(text),
    expect: expected,
  });
  const bin = (rpc: string, bytes: number[] | Uint8Array, expected: Case["expect"], name: string): Case => ({
    name,
    rpc,
    binary: true,
    body: new Uint8Array(bytes),
    expect: expected,
  });
  const countBytes = toBinary(QueueCountRequestSchema, create(QueueCountRequestSchema, { queue: fx.quiet }));
  const streamBytes = toBinary(StreamStatusRequestSchema, create(StreamStatusRequestSchema, { id: fx.done }));
  const streamJson = enc.encode(JSON.stringify({ id: fx.done }));
  const garbage = [0x0a, 0xff, 0xff, 0xff];
  return [
    // Successes, deterministic: the same answer to every call.
    ...messageCases(
      "Submit, idempotent",
      "Submit",
      SubmitRequestSchema,
      {
        queue: fx.quiet,
        idempotencyKey: fx.idempotencyKey,
      },
      { ok: true },
    ),
    ...messageCases("GetStatus of a finished job", "GetStatus", GetStatusRequestSchema, { id: fx.done }, { ok: true }),
    ...messageCases(
      "GetStatus with logs",
      "GetStatus",
      GetStatusRequestSchema,
      { id: fx.done, includeLogs: true },
      { ok: true },
    ),
    ...messageCases("GetStatus of a queued job", "GetStatus", GetStatusRequestSchema, { id: fx.queued }, { ok: true }),
    ...messageCases("GetResult of a finished job", "GetResult", GetResultRequestSchema, { id: fx.done }, { ok: true }),
    ...messageCases("Cancel of a finished job", "Cancel", CancelRequestSchema, { id: fx.done }, { ok: true }),
    ...messageCases("QueueCount", "QueueCount", QueueCountRequestSchema, { queue: fx.quiet }, { ok: true }),
    ...messageCases(
      "StreamStatus of a finished job",
      "StreamStatus",
      StreamStatusRequestSchema,
      { id: fx.done },
      { ok: true },
    ),
    ...messageCases(
      "StreamStatus with logs",
      "StreamStatus",
      StreamStatusRequestSchema,
      { id: fx.done, includeLogs: true },
      { ok: true },
    ),
    ...messageCases(
      "SubmitAndStream, idempotent, of a finished job",
      "SubmitAndStream",
      SubmitAndStreamRequestSchema,
      {
        queue: fx.work,
        idempotencyKey: fx.doneKey,
        includeLogs: true,
      },
      { ok: true },
    ),
    // Errors of the service.
    ...messageCases(
      "Submit to an unknown queue",
      "Submit",
      SubmitRequestSchema,
      { queue: unknownQueue },
      { code: Code.NotFound },
    ),
    ...messageCases("Submit, bad queue name", "Submit", SubmitRequestSchema, { queue: "Not A Queue" }, { code: bad }),
    ...messageCases("GetStatus, malformed id", "GetStatus", GetStatusRequestSchema, { id: "nope" }, { code: bad }),
    ...messageCases(
      "GetStatus, job not found",
      "GetStatus",
      GetStatusRequestSchema,
      { id: missing },
      { code: Code.NotFound },
    ),
    ...messageCases(
      "GetResult of a queued job",
      "GetResult",
      GetResultRequestSchema,
      { id: fx.queued },
      { code: Code.FailedPrecondition },
    ),
    ...messageCases(
      "GetResult, job not found",
      "GetResult",
      GetResultRequestSchema,
      { id: missing },
      { code: Code.NotFound },
    ),
    ...messageCases("Cancel, malformed id", "Cancel", CancelRequestSchema, { id: "x-y-z" }, { code: bad }),
    ...messageCases("Cancel, job not found", "Cancel", CancelRequestSchema, { id: missing }, { code: Code.NotFound }),
    ...messageCases(
      "QueueCount, unknown queue",
      "QueueCount",
      QueueCountRequestSchema,
      { queue: unknownQueue },
      { code: Code.NotFound },
    ),
    ...messageCases(
      "QueueCount, bad queue name",
      "QueueCount",
      QueueCountRequestSchema,
      { queue: "UPPER" },
      { code: bad },
    ),
    ...messageCases(
      "StreamStatus, job not found",
      "StreamStatus",
      StreamStatusRequestSchema,
      { id: missing },
      { code: Code.NotFound },
    ),
    ...messageCases(
      "StreamStatus, malformed id",
      "StreamStatus",
      StreamStatusRequestSchema,
      { id: "nope" },
      { code: bad },
    ),
    ...messageCases(
      "SubmitAndStream to an unknown queue",
      "SubmitAndStream",
      SubmitAndStreamRequestSchema,
      { queue: unknownQueue },
      { code: Code.NotFound },
    ),
    ...messageCases(
      "SubmitAndStream, bad queue name",
      "SubmitAndStream",
      SubmitAndStreamRequestSchema,
      { queue: "Not A Queue" },
      { code: bad },
    ),
    ...messageCases(
      "SubmitAndStream, bad options",
      "SubmitAndStream",
      SubmitAndStreamRequestSchema,
      { queue: fx.quiet, options: { maxAttempts: 0 } },
      { code: bad },
    ),
    // Headers the fast path accepts.
    {
      ...messageCases("QueueCount", "QueueCount", QueueCountRequestSchema, { queue: fx.quiet }, { ok: true })[1]!,
      name: "QueueCount, JSON with charset and connect-protocol-version",
      headers: { "content-type": "application/json; charset=utf-8", "connect-protocol-version": "1" },
    },
    {
      ...messageCases("QueueCount", "QueueCount", QueueCountRequestSchema, { queue: fx.quiet }, { ok: true })[0]!,
      name: "QueueCount, binary with content-encoding identity",
      headers: { "content-encoding": "identity" },
    },
    // Unary bodies that do not decode.
    bin("QueueCount", garbage, { code: bad }, "bad binary body"),
    bin("Submit", garbage, { code: bad }, "bad binary body (Submit)"),
    bin("QueueCount", [], { code: bad }, "empty binary body (an empty message: no queue)"),
    bin("QueueCount", [...countBytes, 0xff], { code: bad }, "binary body with trailing garbage"),
    bin("QueueCount", [...countBytes, 0x0a], { code: bad }, "binary body cut in a field"),
    json("QueueCount", `{"queue": "${fx.quiet}"`, { code: bad }, "bad JSON body (cut)"),
    json("QueueCount", "not json", { code: bad }, "bad JSON body (not JSON)"),
    // connect-es ignores unknown JSON fields (forward compatibility): so must the fast path.
    json("QueueCount", `{"queue": "${fx.quiet}", "nope": 1}`, { ok: true }, "unknown JSON field"),
    json("QueueCount", `{"queue": 5}`, { code: bad }, "wrong JSON field type"),
    json("GetStatus", `{"id": "${fx.done}", "includeLogs": "yes"}`, { code: bad }, "wrong JSON field type (bool)"),
    json("QueueCount", `[]`, { code: bad }, "JSON array body"),
    json("QueueCount", "", { code: bad }, "empty JSON body"),
    json("QueueCount", "{}", { code: bad }, "empty JSON object (no queue)"),
    json("QueueCount", `{"queue": "${fx.quiet}"} x`, { code: bad }, "JSON body with trailing garbage"),
    json("QueueCount", `{"queue": "${fx.quiet}"}{}`, { code: bad }, "two JSON objects"),
    // Streaming bodies with a bad envelope, in both formats.
    ...[true, false].flatMap((binary): Case[] => {
      const message = binary ? streamBytes : streamJson;
      const f = binary ? "binary" : "JSON";
      const s = (bytes: Uint8Array, name: string, expected: Case["expect"] = { code: bad }): Case => ({
        name: `${name} (${f})`,
        rpc: "StreamStatus",
        binary,
        body: bytes,
        expect: expected,
      });
      return [
        // Zero or two messages: the spec's cardinality violation, UNIMPLEMENTED.
        s(new Uint8Array(0), "empty streaming body", { code: Code.Unimplemented }),
        s(new Uint8Array([0, 0, 0]), "short envelope"),
        s(envelope(message).subarray(0, 5 + message.byteLength - 1), "envelope shorter than it says"),
        s(new Uint8Array([0, 0xff, 0xff, 0xff, 0xff, 1, 2]), "envelope claiming more than readMaxBytes", {
          code: Code.ResourceExhausted,
        }),
        s(envelope(message, 0b1), "compressed flag without an encoding"),
        {
          ...s(envelope(message, 0b10), "end-stream flag on a request"),
          differs: {
            why: "the spec says end-stream is unset on requests; connect-es skips the frame and finds no message",
            connectEs: {
              code: "unimplemented",
              message: "protocol error: missing input message for server-streaming method",
            },
          },
        },
        {
          ...s(envelope(message, 0b100), "unknown envelope flag"),
          differs: {
            why: "the spec reserves the other flag bits (connect-go refuses them); connect-es ignores them",
            connectEs: "ok",
          },
        },
        s(concat(envelope(message), envelope(message)), "two messages", { code: Code.Unimplemented }),
        s(
          concat(envelope(message), new Uint8Array([0, 0xff, 0xff, 0xff, 0xff])),
          "a message and an envelope claiming more than readMaxBytes",
          {
            code: Code.ResourceExhausted,
          },
        ),
        s(concat(envelope(message), new Uint8Array([0, 0])), "a message and a partial envelope"),
        s(envelope(binary ? new Uint8Array(garbage) : enc.encode("{nope")), "a message that does not decode"),
        s(envelope(new Uint8Array(0)), "an empty message (no id)"),
      ];
    }),
  ];
}

// ---------------------------------------------------------------- fixtures

async function fixtures(env: EngineEnv, ctx: Ctx): Promise<Fixtures> {
  const quiet = await env.queue();
  const work = await env.queue();
  const submitted = await env.api.submit({ queue: work, input: { n: 1 } });
  const lease = await fetchOne(env.worker, work);
  expect(await lease.begin()).toBe(true);
  lease.log("info", "hello from the handler");
  expect(await lease.complete({ answer: 42 })).toBe(true);
  await waitForStatus(
    env.api,
    submitted.id,
    (s) => s.state === "COMPLETED" && (s.logs ?? []).some((l) => l.message === "hello from the handler"),
    { includeLogs: true, what: "the job finished with its log line" },
  );
  // Submitted through the API, so the idempotent resubmits of the cases find it (same tenant).
  const idempotencyKey = `fast-path-${Math.random().toString(36).slice(2)}`;
  const client = createClient(QueueService, createConnectTransport({ baseUrl: ctx.server.url, httpVersion: "1.1" }));
  const job = await client.submit({ queue: quiet, idempotencyKey });
  const doneKey = `${idempotencyKey}-done`;
  const keyed = await client.submit({
    queue: work,
    idempotencyKey: doneKey,
    input: { kind: { case: "stringValue", value: "keyed" } },
  });
  const keyedLease = await fetchOne(env.worker, work);
  expect(keyedLease.id).toBe(keyed.id);
  expect(await keyedLease.begin()).toBe(true);
  expect(await keyedLease.complete("keyed")).toBe(true);
  await waitForStatus(env.api, keyed.id, (s) => s.state === "COMPLETED", { what: "the keyed job finished" });
  return { quiet, done: submitted.id, queued: job.id, idempotencyKey, work, doneKey };
}

// ---------------------------------------------------------------- tests

forEachEngine("Connect fast path", (env) => {
  describe("answers exactly as connect-es does", () => {
    const ctx = useServer(env);
    let fx: Fixtures;
    beforeAll(async () => {
      fx = await fixtures(env, ctx);
    });

    for (const [wire, contentLength] of WIRES.flatMap(
      (w) =>
        [
          [w, true],
          [w, false],
        ] as const,
    )) {
      const length = contentLength ? "with" : "without";
      it(`every unary RPC and StreamStatus, success and error, binary and JSON, over ${wire}, ${length} content-length`, async () => {
        const table = cases(fx);
        const mismatches: string[] = [];
        for (const c of table) {
          const req: RawRequest = {
            path: `/${QueueService.typeName}/${c.rpc}`,
            headers: { "content-type": contentType(c), ...c.headers },
            body: c.body,
            contentLength,
          };
          const rpc = method(c.rpc);
          const { fast, slow } = await both(ctx, wire, req);
          const a = observe(rpc, fast);
          const b = observe(rpc, slow);
          if (c.differs) {
            // Same status and headers; connect-es's answer as pinned.
            expect({ ...a, body: undefined }, c.name).toEqual({ ...b, body: undefined });
            expect(errorOf(rpc, slow) ?? "ok", `${c.name}: connect-es (${c.differs.why})`).toEqual(c.differs.connectEs);
          } else if (!isDeepStrictEqual(a, b)) {
            mismatches.push(`${c.name}\n  fast:       ${JSON.stringify(a)}\n  connect-es: ${JSON.stringify(b)}`);
            continue;
          }
          // The case tests what it says it does.
          const error = errorOf(rpc, fast);
          const wanted = c.expect.ok ? undefined : codeName(c.expect.code!);
          if (error?.code !== wanted)
            mismatches.push(`${c.name}: expected ${wanted ?? "success"}, got ${JSON.stringify(error)}`);
        }
        expect(mismatches, mismatches.join("\n")).toEqual([]);
      });
    }

    it("leaves everything else to connect-es, which answers it", async () => {
      const count = enc.encode(JSON.stringify({ queue: fx.quiet }));
      const path = `/${QueueService.typeName}/QueueCount`;
      const declined: [string, RawRequest, number][] = [
        [
          "gzip",
          { path, headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: gzipSync(count) },
          200,
        ],
        // connect-es does not check the version (it requires none); the fast path still leaves it alone.
        [
          "protocol version 2",
          { path, headers: { "content-type": "application/json", "connect-protocol-version": "2" }, body: count },
          200,
        ],
        [
          "another charset",
          { path, headers: { "content-type": "application/json; charset=latin1" }, body: count },
          415,
        ],
        [
          "a streaming content type on a unary RPC",
          { path, headers: { "content-type": "application/connect+json" }, body: envelope(count) },
          415,
        ],
        [
          "a compressed stream",
          {
            path: `/${QueueService.typeName}/StreamStatus`,
            headers: { "content-type": "application/connect+json", "connect-content-encoding": "gzip" },
            body: envelope(gzipSync(enc.encode(JSON.stringify({ id: fx.done }))), 0b1),
          },
          200,
        ],
        [
          "another service",
          {
            path: "/grpc.health.v1.Health/Check",
            headers: { "content-type": "application/json" },
            body: enc.encode("{}"),
          },
          200,
        ],
      ];
      for (const wire of WIRES) {
        for (const [name, req, status] of declined) {
          const before = ctx.server.fastPathCalls;
          const res = await ctx.raw.send(wire, req);
          expect(ctx.server.fastPathCalls, `${wire} ${name}`).toBe(before);
          expect(res.status, `${wire} ${name}: ${res.body.toString("latin1")}`).toBe(status);
        }
      }
    });

    it("a stream's end-stream message carries the error (NOT_FOUND for an unknown job), after a 200", async () => {
      const id = formatJobId({ queue: fx.quiet, seq: 123456, token: "ZyXwVu987654" });
      for (const wire of WIRES) {
        const before = ctx.server.fastPathCalls;
        const res = await ctx.raw.send(wire, {
          path: `/${QueueService.typeName}/StreamStatus`,
          headers: { "content-type": "application/connect+json" },
          body: envelope(enc.encode(JSON.stringify({ id }))),
        });
        expect(ctx.server.fastPathCalls).toBe(before + 1);
        expect(res.status).toBe(200);
        expect(res.headers["content-type"]).toBe("application/connect+json");
        const all = frames(res.body);
        expect(all).toHaveLength(1);
        expect(all[0]!.flags).toBe(0b10);
        const end = JSON.parse(Buffer.from(all[0]!.data).toString("utf8")) as {
          error?: { code: string; message: string };
        };
        expect(end.error?.code).toBe("not_found");
        expect(end.error?.message).toContain(id);
      }
    });

    it("a generated client on each Connect transport goes the fast path and gets the same answers", async () => {
      for (const [httpVersion, useBinaryFormat] of CONNECT_TRANSPORTS) {
        const client = createClient(
          QueueService,
          createConnectTransport({ baseUrl: ctx.server.url, httpVersion, useBinaryFormat }),
        );
        const before = ctx.server.fastPathCalls;
        const count = await client.queueCount({ queue: fx.quiet });
        expect({ queue: count.queue, inQueue: count.inQueue, running: count.running }).toEqual({
          queue: fx.quiet,
          inQueue: 1,
          running: 0,
        });
        const states = [];
        for await (const job of client.streamStatus({ id: fx.done })) states.push(job.state);
        expect(states).toHaveLength(1);
        const err = await client.getStatus({ id: "nope" }).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        expect(err?.code).toBe(Code.InvalidArgument);
        expect(ctx.server.fastPathCalls, `${httpVersion} ${useBinaryFormat ? "binary" : "JSON"}`).toBe(before + 3);
      }
    });
  });

  describe("with API keys", () => {
    const KEY = "fast-path-key-0123456789";
    const READER = "fast-path-reader-0123456789";
    const LIMITED = "fast-path-limited-0123456789";
    const LIMITED_STREAM = "fast-path-limited-stream-0123456789";
    // One token, then one every 50 s: no refill within a test.
    const slow = { rate: 0.02, burst: 1 };
    const ctx = useServer(env, {
      apiKeys: [
        { key: KEY, tenant: "acme" },
        { key: READER, tenant: "acme", role: "reader" },
        { key: LIMITED, tenant: "acme", rateLimit: slow },
        { key: LIMITED_STREAM, tenant: "acme", rateLimit: slow },
      ],
    });
    let quiet: string;
    beforeAll(async () => {
      quiet = await env.queue();
    });
    const count = (auth?: string, binary = false): RawRequest => {
      const m = create(QueueCountRequestSchema, { queue: quiet });
      return {
        path: `/${QueueService.typeName}/QueueCount`,
        headers: {
          "content-type": binary ? "application/proto" : "application/json",
          ...(auth ? { authorization: auth } : {}),
        },
        body: binary
          ? toBinary(QueueCountRequestSchema, m)
          : enc.encode(JSON.stringify(toJson(QueueCountRequestSchema, m))),
      };
    };
    const stream = (auth: string | undefined, id: string): RawRequest => ({
      path: `/${QueueService.typeName}/StreamStatus`,
      headers: { "content-type": "application/connect+json", ...(auth ? { authorization: auth } : {}) },
      body: envelope(enc.encode(JSON.stringify({ id }))),
    });

    it("a valid key is served by the fast path, with connect-es's answers (success, role refusal, NOT_FOUND)", async () => {
      const missing = formatJobId({ queue: quiet, seq: 4242, token: "AbCdEfGh1234" });
      const submit: RawRequest = {
        path: `/${QueueService.typeName}/Submit`,
        headers: { "content-type": "application/json", authorization: `Bearer ${READER}` },
        body: enc.encode(JSON.stringify({ queue: quiet })),
      };
      for (const wire of WIRES) {
        for (const [name, req, code] of [
          ["QueueCount, JSON", count(`Bearer ${KEY}`), undefined],
          ["QueueCount, binary, lower-case scheme", count(`bearer ${KEY}`, true), undefined],
          ["Submit with a reader key", submit, Code.PermissionDenied],
          ["StreamStatus of an unknown job", stream(`Bearer ${KEY}`, missing), Code.NotFound],
        ] as const) {
          const rpc = method(req.path.split("/").at(-1)!);
          const { fast, slow } = await both(ctx, wire, req);
          expect(observe(rpc, fast), `${wire} ${name}`).toEqual(observe(rpc, slow));
          expect(errorOf(rpc, fast)?.code, `${wire} ${name}`).toBe(code === undefined ? undefined : codeName(code));
        }
      }
    });

    it("a missing or unknown key is UNAUTHENTICATED with www-authenticate, by connect-es, without its body being read", async () => {
      for (const wire of WIRES) {
        for (const [auth, message] of [
          [undefined, "missing Authorization: Bearer <key>"],
          [`Bearer ${KEY}x`, "unknown API key"],
        ] as const) {
          const before = ctx.server.fastPathCalls;
          // Unary: a body that never ends still gets its 401.
          const unary = await ctx.raw.send(wire, {
            ...count(auth),
            body: enc.encode('{"queue": "'),
            contentLength: false,
            endless: true,
          });
          expect(unary.status, `${wire} ${message}`).toBe(401);
          expect(unary.headers["www-authenticate"]).toBe('Bearer realm="jetq"');
          expect(JSON.parse(unary.body.toString("utf8"))).toEqual({ code: "unauthenticated", message });
          // Server stream: the error in the end-stream message, www-authenticate in its metadata.
          const streamed = await ctx.raw.send(wire, {
            ...stream(auth, "never-read"),
            body: new Uint8Array([0, 0, 0, 1, 0, 0x7b]),
            contentLength: false,
            endless: true,
          });
          expect(streamed.status).toBe(200);
          expect(decodeBody(method("StreamStatus"), streamed)).toEqual([
            {
              end: {
                error: { code: "unauthenticated", message },
                metadata: { "www-authenticate": ['Bearer realm="jetq"'] },
              },
            },
          ]);
          expect(ctx.server.fastPathCalls, "the fast path left them to the guarded handler").toBe(before);
        }
      }
    });

    it("rate limits apply: RESOURCE_EXHAUSTED with retry-after, the same as connect-es's", async () => {
      const rpc = method("QueueCount");
      // Two answers a few ms apart: the delays to wait differ.
      const normalise = (o: ReturnType<typeof observe>) =>
        JSON.parse(
          JSON.stringify(o)
            .replace(/retry in \d+(\.\d+)? s/g, "retry in N s")
            .replace(/"retry-after-ms":(\[?)"\d+"/g, '"retry-after-ms":$1"N"'),
        ) as unknown;
      // Unary: the first call takes the one token, the next two are refused (fast path, then connect-es).
      const before = ctx.server.fastPathCalls;
      const ok = await ctx.raw.send("h2c", count(`Bearer ${LIMITED}`));
      expect(ok.status).toBe(200);
      const { fast, slow } = await both(ctx, "http/1.1", count(`Bearer ${LIMITED}`));
      expect(ctx.server.fastPathCalls).toBe(before + 2);
      expect(fast.status).toBe(429);
      expect(errorOf(rpc, fast)?.code).toBe("resource_exhausted");
      expect(errorOf(rpc, fast)?.message).toMatch(
        /^rate limit of 1\.2\/min \(burst 1\) exceeded for this API key; retry in \d+\.\d s$/,
      );
      expect(Number(fast.headers["retry-after"])).toBeGreaterThanOrEqual(40);
      expect(Number(fast.headers["retry-after-ms"])).toBeGreaterThan(0);
      expect(normalise(observe(rpc, fast))).toEqual(normalise(observe(rpc, slow)));

      // Server stream: the error and its retry-after in the end-stream message.
      const srpc = method("StreamStatus");
      const sBefore = ctx.server.fastPathCalls;
      const id = formatJobId({ queue: quiet, seq: 77, token: "AbCdEfGh1234" });
      const first = await ctx.raw.send("h2c", stream(`Bearer ${LIMITED_STREAM}`, id));
      expect(errorOf(srpc, first)?.code).toBe("not_found");
      const limited = await both(ctx, "h2c", stream(`Bearer ${LIMITED_STREAM}`, id));
      expect(ctx.server.fastPathCalls).toBe(sBefore + 2);
      type Frame = { end?: { error?: { code: string }; metadata?: Record<string, string[]> } };
      const end = (decodeBody(srpc, limited.fast) as Frame[]).at(-1)?.end;
      expect(end?.error?.code).toBe("resource_exhausted");
      expect(Number(end?.metadata?.["retry-after"]?.[0])).toBeGreaterThanOrEqual(40);
      expect(Number(end?.metadata?.["retry-after-ms"]?.[0])).toBeGreaterThan(0);
      expect(normalise(observe(srpc, limited.fast))).toEqual(normalise(observe(srpc, limited.slow)));
    });
  });

  describe("streams", () => {
    const ctx = useServer(env);
    let queued: string;
    beforeAll(async () => {
      const queue = await env.queue();
      queued = (await env.api.submit({ queue, input: null })).id;
    });

    it("a client that cancels releases the engine's watch (HTTP/1.1 and h2, JSON and binary)", async () => {
      const baseline = env.api.stats().openWatches;
      for (const [httpVersion, useBinaryFormat] of CONNECT_TRANSPORTS) {
        const what = `${httpVersion} ${useBinaryFormat ? "binary" : "JSON"}`;
        const client = createClient(
          QueueService,
          createConnectTransport({ baseUrl: ctx.server.url, httpVersion, useBinaryFormat }),
        );
        const before = ctx.server.fastPathCalls;
        const abort = new AbortController();
        const it = client.streamStatus({ id: queued }, { signal: abort.signal })[Symbol.asyncIterator]();
        const first = await it.next();
        expect(first.done, what).toBe(false);
        expect(ctx.server.fastPathCalls, what).toBe(before + 1);
        expect(env.api.stats().openWatches, what).toBe(baseline + 1);
        abort.abort();
        await it.next().catch(() => undefined);
        await waitFor(() => env.api.stats().openWatches === baseline, { what: `${what}: the watch released` });
      }
    });

    it("a client that resets its h2 stream or drops its HTTP/1.1 connection releases the watch too", async () => {
      const baseline = env.api.stats().openWatches;
      const body = envelope(enc.encode(JSON.stringify({ id: queued })));
      const headers = { "content-type": "application/connect+json" };
      // h2: RST_STREAM after the first message.
      const session = http2.connect(ctx.server.url);
      try {
        const h2 = session.request({
          ":method": "POST",
          ":path": `/${QueueService.typeName}/StreamStatus`,
          ...headers,
        });
        h2.end(body);
        await new Promise<void>((resolve, reject) => {
          h2.once("data", () => resolve());
          h2.once("error", reject);
        });
        expect(env.api.stats().openWatches).toBe(baseline + 1);
        h2.close(http2.constants.NGHTTP2_CANCEL);
        await waitFor(() => env.api.stats().openWatches === baseline, { what: "the watch released after RST_STREAM" });
      } finally {
        session.close();
      }
      // HTTP/1.1: the socket closed after the first message.
      await new Promise<void>((resolve, reject) => {
        const url = `${ctx.server.url}/${QueueService.typeName}/StreamStatus`;
        const r = http.request(url, { method: "POST", headers, agent: false }, (res) => {
          res.once("data", () => {
            r.destroy();
            resolve();
          });
        });
        r.on("error", (err) => (r.destroyed ? undefined : reject(err)));
        r.end(body);
      });
      await waitFor(() => env.api.stats().openWatches === baseline, {
        what: "the watch released after the socket closed",
      });
    });

    it("a stream's last message and its end leave in one DATA frame: a client stopping at COMPLETED resets nothing, 1,200 times on one h2 connection", async () => {
      const queue = await env.queue();
      const { id } = await env.api.submit({ queue, input: null });
      const lease = await fetchOne(env.worker, queue);
      expect(await lease.begin()).toBe(true);
      expect(await lease.complete(null)).toBe(true);
      await waitForStatus(env.api, id, (s) => s.state === "COMPLETED");
      const body = envelope(enc.encode(JSON.stringify({ id })));
      const session = http2.connect(ctx.server.url);
      let goaway: number | undefined;
      session.on("goaway", (code) => (goaway = code));
      try {
        // nghttp2 ends a connection whose client resets streams beyond a burst of 1,000.
        for (let i = 0; i < 1_200; i++) {
          const first = await new Promise<Buffer>((resolve, reject) => {
            const h2 = session.request({
              ":method": "POST",
              ":path": `/${QueueService.typeName}/StreamStatus`,
              "content-type": "application/connect+json",
            });
            h2.once("data", (chunk: Buffer) => {
              // What a client does once it has the terminal status: it stops,
              // and resets the stream unless it has seen its end already.
              const seenEnd = frames(new Uint8Array(chunk)).some((f) => f.flags & 0b10);
              if (!seenEnd) h2.close(http2.constants.NGHTTP2_CANCEL);
              resolve(chunk);
            });
            h2.once("error", reject);
            h2.end(body);
          });
          const parts = frames(new Uint8Array(first));
          expect(
            parts.map((p) => p.flags),
            `stream ${i}`,
          ).toEqual([0, 0b10]);
          expect(JSON.parse(Buffer.from(parts[0]!.data).toString()).state).toBe("JOB_STATE_COMPLETED");
        }
      } finally {
        session.close();
      }
      expect(goaway).toBeUndefined();
    });

    it("close() ends fast-path streams with UNAVAILABLE and releases their watches", async () => {
      const own = await startServer({ engine: env.api, port: 0, host: "127.0.0.1" });
      const baseline = env.api.stats().openWatches;
      const transports = [
        createConnectTransport({ baseUrl: own.url, httpVersion: "1.1" }),
        createConnectTransport({ baseUrl: own.url, httpVersion: "1.1", useBinaryFormat: true }),
        createConnectTransport({ baseUrl: own.url, httpVersion: "2" }),
        createConnectTransport({ baseUrl: own.url, httpVersion: "2", useBinaryFormat: true }),
      ];
      let firsts = 0;
      const ends = transports.map(async (t) => {
        try {
          for await (const _job of createClient(QueueService, t).streamStatus({ id: queued })) firsts += 1;
          return "ended without an error";
        } catch (err) {
          const e = ConnectError.from(err);
          return `${Code[e.code]}: ${e.rawMessage}`;
        }
      });
      await waitFor(() => firsts === transports.length, { what: "every stream's first message" });
      expect(own.fastPathCalls).toBe(transports.length);
      expect(env.api.stats().openWatches).toBe(baseline + transports.length);
      await own.close();
      expect(await Promise.all(ends)).toEqual(
        transports.map(() => `${Code[Code.Unavailable]}: server is shutting down; retry on another instance`),
      );
      await waitFor(() => env.api.stats().openWatches === baseline, { what: "the watches released" });
    });
  });

  describe("bodies over readMaxBytes", () => {
    const LIMIT = 1024;
    // closeGraceMs: a connection a refused client left open must not hold close() for long.
    const ctx = useServer(env, { readMaxBytes: LIMIT, closeGraceMs: 500 });
    // Three times the limit: within what the server reads and drops to deliver its answer (oversized.ts).
    const big = `{"queue": "${"x".repeat(3 * LIMIT)}"}`;

    for (const wire of WIRES) {
      for (const contentLength of [true, false]) {
        it(`get RESOURCE_EXHAUSTED over ${wire}, ${contentLength ? "with" : "without"} content-length (unary and stream)`, async () => {
          // With a content-length over the limit, the fast path leaves the call to connect-es
          // (which refuses it at once); without, it reads and refuses it, as connect-es would.
          const unaryReq: RawRequest = {
            path: `/${QueueService.typeName}/QueueCount`,
            headers: { "content-type": "application/json" },
            body: enc.encode(big),
            contentLength,
          };
          const streamReq: RawRequest = {
            path: `/${QueueService.typeName}/StreamStatus`,
            headers: { "content-type": "application/connect+json" },
            body: envelope(enc.encode(big)),
            contentLength,
          };
          const send = async (req: RawRequest) => {
            if (!contentLength) {
              const { fast, slow } = await both(ctx, wire, req);
              const rpc = method(req.path.split("/").at(-1)!);
              expect(observe(rpc, fast), "fast path (left) vs connect-es (right)").toEqual(observe(rpc, slow));
              return fast;
            }
            const before = ctx.server.fastPathCalls;
            const res = await ctx.raw.send(wire, req);
            expect(ctx.server.fastPathCalls, "the fast path left it to connect-es").toBe(before);
            return res;
          };
          const unary = await send(unaryReq);
          expect(unary.status).toBe(429);
          expect(errorOf(method("QueueCount"), unary)).toEqual({
            code: "resource_exhausted",
            message: contentLength
              ? `message size ${big.length} is larger than configured readMaxBytes ${LIMIT}`
              : `message size is larger than configured readMaxBytes ${LIMIT}`,
          });

          const streamed = await send(streamReq);
          expect(streamed.status).toBe(200);
          expect(errorOf(method("StreamStatus"), streamed)).toEqual({
            code: "resource_exhausted",
            message: `message size ${big.length} is larger than configured readMaxBytes ${LIMIT}`,
          });

          // The server still serves, on a new connection as on the h2 session.
          const ok = await ctx.raw.send(wire, {
            path: `/${QueueService.typeName}/QueueCount`,
            headers: { "content-type": "application/json" },
            body: enc.encode(JSON.stringify({ queue: "UPPER" })),
          });
          expect(ok.status).toBe(400);
        });
      }
    }

    it("a body of exactly readMaxBytes is not over it; a stream's envelope may carry readMaxBytes (as in connect-es)", async () => {
      const id = formatJobId({ queue: "fits", seq: 1, token: "AbCdEfGh1234" });
      const padding = (n: number) => " ".repeat(n);
      const json = JSON.stringify({ id });
      for (const wire of WIRES) {
        for (const contentLength of [true, false]) {
          const unaryBody = enc.encode(json + padding(LIMIT - json.length));
          const unary = await both(ctx, wire, {
            path: `/${QueueService.typeName}/GetStatus`,
            headers: { "content-type": "application/json" },
            body: unaryBody,
            contentLength,
          });
          expect(observe(method("GetStatus"), unary.fast)).toEqual(observe(method("GetStatus"), unary.slow));
          expect(errorOf(method("GetStatus"), unary.fast)?.code).toBe("not_found");
        }
        // Stream bodies without a content-length only: with one (LIMIT + 5), the fast path leaves it to connect-es.
        const streamBody = envelope(enc.encode(json + padding(LIMIT - json.length)));
        const streamed = await both(ctx, wire, {
          path: `/${QueueService.typeName}/StreamStatus`,
          headers: { "content-type": "application/connect+json" },
          body: streamBody,
          contentLength: false,
        });
        expect(observe(method("StreamStatus"), streamed.fast)).toEqual(observe(method("StreamStatus"), streamed.slow));
        expect(errorOf(method("StreamStatus"), streamed.fast)?.code).toBe("not_found");
      }
    });
  });

  describe("switched off (connectFastPath: false, JETQ_CONNECT_FAST_PATH=false)", () => {
    const ctx = useServer(env, { connectFastPath: false });

    it("connect-es serves the calls the fast path would take", async () => {
      const queue = uniqueQueue("off");
      await env.api.declareQueue(queue);
      for (const httpVersion of ["1.1", "2"] as const) {
        for (const useBinaryFormat of [false, true]) {
          const client = createClient(
            QueueService,
            createConnectTransport({ baseUrl: ctx.server.url, httpVersion, useBinaryFormat }),
          );
          expect((await client.queueCount({ queue })).queue).toBe(queue);
        }
      }
      expect(ctx.server.fastPathCalls).toBe(0);
    });
  });
});

function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
