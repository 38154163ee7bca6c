/**
 * Size limits with keys: an authenticated request over readMaxBytes is
 * RESOURCE_EXHAUSTED on every protocol; an unauthenticated one is refused as
 * UNAUTHENTICATED without its body being read.
 */
import * as http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import type { ProtocolClient } from "../e2e/clients.js";
import { expectCode, value } from "../e2e/harness.js";
import { KEYED_PROTOCOLS } from "./clients.js";
import { useAuthJetq } from "./harness.js";

const KEY = "limits-key-000000000001";
const LIMIT = 64 * 1024;
// closeGraceMs: an oversized request over h2c (refused by connect-node mid-body)
// can leave its stream open, and close() would wait the whole default grace.
const ctx = useAuthJetq({ apiKeys: [{ key: KEY, tenant: "t" }], readMaxBytes: LIMIT, closeGraceMs: 200 });
const big = () => value({ blob: "x".repeat(LIMIT * 2) });

describe("request size limit", () => {
  const clients: ProtocolClient[] = [];
  afterAll(() => clients.forEach((c) => c.close()));
  const submitters = KEYED_PROTOCOLS.filter((p) => !p.name.includes("GET"));

  it.each(submitters)(
    "$name: over the limit with a key → RESOURCE_EXHAUSTED; without → UNAUTHENTICATED",
    async (protocol) => {
      const withKey = protocol.open(ctx.jetq.url, KEY);
      const without = protocol.open(ctx.jetq.url);
      const wrong = protocol.open(ctx.jetq.url, "not-the-key");
      clients.push(withKey, without, wrong);
      const err = await expectCode(withKey.submit({ queue: "echo", input: big() }), Code.ResourceExhausted);
      expect(err.rawMessage).toContain(String(LIMIT));
      await expectCode(without.submit({ queue: "echo", input: big() }), Code.Unauthenticated);
      await expectCode(wrong.submit({ queue: "echo", input: big() }), Code.Unauthenticated);
      // and the connection still serves
      expect((await withKey.queueCount({ queue: "echo" })).queue).toBe("echo");
    },
  );

  it("an unauthenticated request is answered before its body arrives", async () => {
    // A body that never ends: only an answer that does not wait for it can come back.
    const ac = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"queue": "echo", "input": "'));
      },
    });
    const res = await fetch(`${ctx.jetq.url}/jetq.v1.QueueService/Submit`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
      signal: ac.signal,
    } as RequestInit);
    try {
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: "unauthenticated" });
    } finally {
      ac.abort(); // the connection would otherwise hold the server's close() for its grace period
    }
  });

  it.each([
    ["gRPC", "application/grpc", "grpc-status"],
    ["Connect unary", "application/proto", "content-type"],
  ])(
    "over h2c, an unauthenticated %s request is answered before its body arrives",
    async (_name, contentType, answerHeader) => {
      const session = http2.connect(ctx.jetq.url);
      try {
        const stream = session.request({
          ":method": "POST",
          ":path": "/jetq.v1.QueueService/Submit",
          "content-type": contentType,
          te: "trailers",
        });
        // The start of a body that never ends (an envelope announcing bytes that never come for gRPC):
        // only an answer that does not wait for the body can come back.
        const head = Buffer.alloc(5);
        head.writeUInt32BE(LIMIT / 2, 1);
        stream.write(head);
        const answer = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const seen: Record<string, unknown> = {};
          const collect = (h: http2.IncomingHttpHeaders) => Object.assign(seen, h);
          stream.on("response", collect);
          stream.on("trailers", collect);
          let body = "";
          stream.setEncoding("latin1");
          stream.on("data", (c: string) => (body += c));
          stream.on("end", () => resolve({ ...seen, body }));
          stream.on("error", reject);
        });
        expect(answer[answerHeader]).toBeDefined();
        if (answerHeader === "grpc-status") expect(answer["grpc-status"]).toBe(String(Code.Unauthenticated));
        else expect(String(answer.body)).toContain('"code":"unauthenticated"');
      } finally {
        session.destroy();
      }
    },
  );
});
