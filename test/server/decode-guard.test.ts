/**
 * The decode guard (src/server/connect/decode-guard.ts) decompresses request
 * bodies with the server's own acceptCompression (connect-node's gzip and
 * brotli), so it accepts what connect-es accepts: a body that does not
 * decompress is INVALID_ARGUMENT naming the encoding, one over readMaxBytes
 * once decompressed is connect-es's RESOURCE_EXHAUSTED, a good one goes
 * through, on a real server over a real socket.
 */
import { brotliCompressSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";

const LIMIT = 64 * 1024;
let engine: Engine;
let server: RunningServer;

beforeAll(async () => {
  engine = createMemoryEngine();
  await engine.declareQueue("q");
  server = await startServer({ engine, port: 0, host: "127.0.0.1", readMaxBytes: LIMIT });
});
afterAll(async () => {
  await server.close();
  await engine.close();
});

async function queueCount(encoding: string, body: Uint8Array, contentType = "application/json") {
  const res = await fetch(`${server.url}/jetq.v1.QueueService/QueueCount`, {
    method: "POST",
    headers: { "content-type": contentType, "content-encoding": encoding },
    body,
  });
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string; queue?: string } };
}

const json = Buffer.from(JSON.stringify({ queue: "q" }));

describe("decode guard: compressed request bodies", () => {
  it.each([
    ["gzip", gzipSync(json)],
    ["br", brotliCompressSync(json)],
  ])("a %s body that decompresses goes through", async (encoding, body) => {
    const answer = await queueCount(encoding, body);
    expect(answer).toMatchObject({ status: 200, body: { queue: "q" } });
  });

  it.each(["gzip", "br"])(
    "a %s body that does not decompress is INVALID_ARGUMENT naming the encoding",
    async (encoding) => {
      const answer = await queueCount(encoding, Buffer.from("not compressed at all"), "application/proto");
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({
        code: "invalid_argument",
        message: `request body does not decompress as ${encoding}`,
      });
    },
  );

  it("a body over readMaxBytes once decompressed is connect-es's RESOURCE_EXHAUSTED", async () => {
    const bomb = gzipSync(Buffer.alloc(LIMIT * 4), { level: 9 });
    const answer = await queueCount("gzip", bomb, "application/proto");
    expect(answer.body.code).toBe("resource_exhausted");
    expect(answer.body.message).toContain(String(LIMIT));
  });
});
