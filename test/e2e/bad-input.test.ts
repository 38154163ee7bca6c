/**
 * Bad input over the wire changes nothing and gets a clear error, and the
 * server keeps serving: invalid queue names, unknown queues and jobs, bodies
 * that do not parse, content types nobody speaks.
 */
import * as http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatJobId } from "../../src/engine/job-id.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import { CONNECT_HEADERS, PROTOCOLS, type ProtocolClient } from "./clients.js";
import { drain, expectCode, pollToTerminal, pollUntil, stateName, useJetq, value } from "./harness.js";

const BAD_QUEUES = ["a.b", "*", ">", "", "x".repeat(65), "Upper", "a b", "jetq.ev.>"];
const CLIENTS = ["connect+json http/1.1", "connect+proto h2c", "grpc h2c", "grpc-web http/1.1"];
const SUBMIT = "/jetq.v1.QueueService/Submit";

interface RawResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

for (const kind of ENGINES) {
  describe(`bad input over the wire (${kind.name})`, () => {
    const ctx = useJetq(kind);
    let clients: { name: string; client: ProtocolClient }[] = [];
    /** Declared, served by nobody: any job that slipped in would stay counted. */
    let quiet: string;
    beforeAll(async () => {
      clients = CLIENTS.map((name) => ({ name, client: PROTOCOLS.find((p) => p.name === name)!.open(ctx.jetq.url) }));
      quiet = uniqueQueue("quiet");
      await ctx.jetq.engine.declareQueue(quiet);
    });
    afterAll(() => {
      for (const c of clients) c.client.close();
    });

    const post = async (path: string, contentType: string, body: string | Buffer): Promise<RawResponse> => {
      const res = await fetch(`${ctx.jetq.url}${path}`, {
        method: "POST",
        headers: { "content-type": contentType, ...CONNECT_HEADERS },
        body,
      });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    };

    let echoBefore: { inQueue: number; running: number };
    beforeAll(async () => {
      const c = await clients[0]!.client.queueCount({ queue: "echo" });
      echoBefore = { inQueue: c.inQueue, running: c.running };
    });

    it("invalid queue names → INVALID_ARGUMENT naming the queue; unknown queues → NOT_FOUND", async () => {
      for (const { name, client } of clients) {
        for (const queue of BAD_QUEUES) {
          const err = await expectCode(client.submit({ queue, input: value({ n: 1 }) }), Code.InvalidArgument);
          expect(err.rawMessage, `${name}, queue ${JSON.stringify(queue)}`).toContain(JSON.stringify(queue));
          expect(err.rawMessage).toContain("queue");
          await expectCode(client.queueCount({ queue }), Code.InvalidArgument);
        }
        const nobody = uniqueQueue("nobody");
        const nf = await expectCode(client.submit({ queue: nobody, input: value({}) }), Code.NotFound);
        expect(nf.rawMessage).toContain(nobody);
        await expectCode(client.queueCount({ queue: nobody }), Code.NotFound);
      }
    });

    it("unknown job ids → NOT_FOUND on GetStatus, GetResult, Cancel and StreamStatus; malformed ids → INVALID_ARGUMENT", async () => {
      for (const { client } of clients) {
        // a sequence never used, and a real job's id with another token
        const real = await client.submit({ queue: quiet, input: value({ real: true }) });
        await client.cancel({ id: real.id });
        const forged = real.id.replace(/-[0-9A-Za-z]{12}$/, "-ZZZZZZZZZZZZ");
        for (const id of [formatJobId({ queue: "echo", seq: 999_999_999, token: "AbCdEfGh1234" }), forged]) {
          const e = await expectCode(client.getStatus({ id }), Code.NotFound);
          expect(e.rawMessage).toContain(id);
          await expectCode(client.getResult({ id }), Code.NotFound);
          await expectCode(client.cancel({ id }), Code.NotFound);
          await expectCode(() => drain(client.streamStatus({ id })), Code.NotFound);
        }
        for (const id of ["", "nope", "echo-1-2", `${"x".repeat(70)}-00000000001-AAAAAAAAAAAA`]) {
          const e = await expectCode(client.getStatus({ id }), Code.InvalidArgument);
          expect(e.rawMessage).toContain("id");
        }
      }
    });

    it("malformed or mistyped JSON → 400 invalid_argument", async () => {
      for (const body of [`{"queue": "${quiet}", "input": {`, `{"queue": 5, "input": {"a": 1}}`, "", "[]"]) {
        const res = await post(SUBMIT, "application/json", body);
        expect(res.status, `${body}: ${res.body.toString()}`).toBe(400);
        const err = JSON.parse(res.body.toString()) as { code?: string; message?: string };
        expect(err.code).toBe("invalid_argument");
        expect(err.message).toBeTruthy();
      }
    });

    it("a malformed protobuf body → a 4xx Connect error", async () => {
      const res = await post(SUBMIT, "application/proto", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
      expect(res.status, `HTTP ${res.status} ${res.body.toString()}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `HTTP ${res.status} ${res.body.toString()}`).toBeLessThan(500);
      const err = JSON.parse(res.body.toString()) as { code?: string };
      expect(err.code).toBe("invalid_argument");
    });

    it("a wrong content type → 415; GET of Submit → 4xx; a truncated stream envelope → invalid_argument", async () => {
      const wrongType = await post(SUBMIT, "text/plain", JSON.stringify({ queue: quiet, input: {} }));
      expect(wrongType.status).toBe(415);
      // Connect streams report errors in the end-stream message of a 200 response.
      const truncated = await post(
        "/jetq.v1.QueueService/StreamStatus",
        "application/connect+json",
        Buffer.from([0, 0, 0, 0, 100, 0x7b]),
      );
      expect(truncated.status, truncated.body.toString()).toBe(200);
      expect(truncated.body[0]! & 0b10, "an end-stream message").toBe(0b10);
      const end = JSON.parse(truncated.body.subarray(5).toString()) as { error?: { code?: string } };
      expect(end.error?.code).toBe("invalid_argument");
      // Submit has side effects: Connect GET is refused.
      const get = await fetch(
        `${ctx.jetq.url}${SUBMIT}?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify({ queue: quiet }))}`,
      );
      expect(get.status).toBeGreaterThanOrEqual(400);
      expect(get.status).toBeLessThan(500);
    });

    it("gRPC and gRPC-Web with a payload that is not a SubmitRequest → INVALID_ARGUMENT status", async () => {
      const garbage = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0xff, 0xff, 0xff]);
      const web = await post(SUBMIT, "application/grpc-web+proto", garbage);
      expect(web.status).toBe(200);
      expect.soft(grpcWebStatus(web), "grpc-status of gRPC-Web").toBe(String(Code.InvalidArgument));
      expect
        .soft(await grpcStatusOverH2c(ctx.jetq.url, SUBMIT, garbage), "grpc-status of gRPC")
        .toBe(String(Code.InvalidArgument));
      // Flag bits gRPC does not define: connect-es still parses the frame (and called it INTERNAL).
      const oddFlags = Buffer.from(garbage);
      oddFlags[0] = 0x7e;
      for (const path of [SUBMIT, "/jetq.v1.QueueService/SubmitAndStream", "/jetq.v1.QueueService/StreamStatus"]) {
        expect
          .soft(await grpcStatusOverH2c(ctx.jetq.url, path, oddFlags), `grpc-status of ${path}, flags 0x7e`)
          .toBe(String(Code.InvalidArgument));
      }
    });

    // Runs last (tests of a file run in order): whatever came before changed nothing.
    it("keeps serving afterwards, and nothing slipped into a queue", async () => {
      const client = clients[0]!.client;
      const ok = await client.submit({ queue: "echo", input: value({ after: "bad input" }) });
      // (Submit's own answer is checked in protocols.test.ts; here only that the job runs.)
      expect(ok.id).toMatch(/^echo-/);
      expect(stateName((await pollToTerminal(client, ok.id)).last.state)).toBe("COMPLETED");

      const echoAfter = await pollUntil(
        () => client.queueCount({ queue: "echo" }),
        (c) => c.inQueue === echoBefore.inQueue && c.running === echoBefore.running,
        { what: "echo count back to where it was" },
      );
      expect({ inQueue: echoAfter.inQueue, running: echoAfter.running }).toEqual(echoBefore);
      const quietCount = await client.queueCount({ queue: quiet });
      expect({ inQueue: quietCount.inQueue, running: quietCount.running }).toEqual({ inQueue: 0, running: 0 });
    });
  });
}

/** grpc-status from a gRPC-Web response: headers of a trailers-only answer, or the trailer frame. */
function grpcWebStatus(res: RawResponse): string | null {
  const inHeaders = res.headers.get("grpc-status");
  if (inHeaders !== null) return inHeaders;
  let at = 0;
  while (at + 5 <= res.body.length) {
    const flags = res.body[at]!;
    const len = res.body.readUInt32BE(at + 1);
    const frame = res.body.subarray(at + 5, at + 5 + len).toString("latin1");
    if (flags & 0x80) {
      const m = /grpc-status:\s*(\d+)/i.exec(frame);
      return m ? m[1]! : null;
    }
    at += 5 + len;
  }
  return null;
}

/** One raw gRPC call over h2c with node:http2; resolves with the grpc-status the server sent. */
function grpcStatusOverH2c(baseUrl: string, path: string, body: Buffer): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    let status: string | undefined;
    req.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
    });
    req.on("trailers", (trailers) => {
      if (trailers["grpc-status"] !== undefined) status = String(trailers["grpc-status"]);
    });
    req.on("error", reject);
    req.resume();
    req.on("close", () => {
      session.close();
      resolve(status);
    });
    req.end(body);
  });
}
