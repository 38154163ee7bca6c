/**
 * Over HTTP/1.1 a caller with a missing or wrong key always gets its
 * UNAUTHENTICATED answer, even while its body is still on the way: the
 * answer goes out at once (saying `Connection: close`), the rest of the
 * body is read and dropped (bounded), and the connection closes only once
 * the body has arrived: never under the client's writes (EPIPE, ECONNRESET).
 */
import * as http from "node:http";
import * as net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { useAuthJetq } from "./harness.js";

const KEY = "k-http1-auth-errors-0123456789";
const ctx = useAuthJetq({ apiKeys: [{ key: KEY, tenant: "acme" }] });

interface Outcome {
  status?: number;
  code?: string;
  /** An error of the request or response, even one after the answer arrived. */
  error?: string;
}

/** One call whose body follows its headers a moment later, as a client still writing it. */
function call(agent: http.Agent | false, authorization: string | undefined, bodyBytes: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const body = Buffer.from(JSON.stringify({ queue: "echo", input: { pad: "p".repeat(bodyBytes) } }));
    const outcome: Outcome = {};
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      // Errors of the socket after the answer (a cut under the write) show up a moment later.
      setTimeout(() => resolve(outcome), 20);
    };
    const req = http.request(
      `${ctx.jetq.url}/jetq.v1.QueueService/Submit`,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": String(body.length),
          ...(authorization ? { authorization } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("error", (e) => (outcome.error ??= `response: ${e.message}`));
        res.on("end", () => {
          outcome.status = res.statusCode;
          try {
            outcome.code = (JSON.parse(text) as { code?: string }).code;
          } catch {
            outcome.code = `unreadable: ${text.slice(0, 80)}`;
          }
          settle();
        });
      },
    );
    req.on("error", (e) => {
      outcome.error ??= `request: ${e.message}`;
      settle();
    });
    req.flushHeaders();
    // Half the body now, the rest once the server has had time to answer.
    req.write(body.subarray(0, body.length >> 1));
    setTimeout(() => req.end(body.subarray(body.length >> 1)), 5);
  });
}

async function manyCalls(agent: http.Agent | false, total: number, parallel: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const auths = [undefined, "Bearer wrong-key", `Basic ${KEY}`];
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const i = next++;
      const o = await call(agent, auths[i % auths.length], i % 2 === 0 ? 64 : 64 * 1024);
      const key = o.error ?? `${o.status} ${o.code}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return counts;
}

describe("HTTP/1.1 callers without a valid key", () => {
  const agents: http.Agent[] = [];
  afterAll(() => agents.forEach((a) => a.destroy()));

  it("1,000 calls from a keep-alive agent all get UNAUTHENTICATED", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    agents.push(agent);
    const counts = await manyCalls(agent, 1_000, 10);
    expect(Object.fromEntries(counts)).toEqual({ "401 unauthenticated": 1_000 });
  });

  it("1,000 calls on connections the client closes after each call all get UNAUTHENTICATED", async () => {
    const counts = await manyCalls(false, 1_000, 10);
    expect(Object.fromEntries(counts)).toEqual({ "401 unauthenticated": 1_000 });
  });

  it.each([
    ["asks to close it", "Connection: close\r\n"],
    ["would keep it alive", ""],
  ])(
    "a connection whose client %s is closed only after the refused call's body has arrived",
    async (_what, connection) => {
      const url = new URL(ctx.jetq.url);
      const socket = net.connect(Number(url.port), url.hostname);
      await new Promise<void>((r) => socket.once("connect", () => r()));
      let received = "";
      const errors: string[] = [];
      socket.setEncoding("latin1");
      socket.on("data", (c: string) => (received += c));
      socket.on("error", (e) => errors.push(e.message));
      const closed = new Promise<void>((r) => socket.once("close", () => r()));
      const body = JSON.stringify({ queue: "echo", input: "x".repeat(256 * 1024) });
      socket.write(
        `POST /jetq.v1.QueueService/Submit HTTP/1.1\r\nHost: x\r\n${connection}Content-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\n\r\n` +
          body.slice(0, 10),
      );
      await waitUntil(() => received.includes('"code":"unauthenticated"'));
      // The server answered; the client is still writing its body, in pieces.
      for (let at = 10; at < body.length; at += 32 * 1024) {
        await new Promise<void>((resolve, reject) =>
          socket.write(body.slice(at, at + 32 * 1024), (err) => (err ? reject(err) : resolve())),
        );
        await new Promise((r) => setTimeout(r, 5));
      }
      socket.end();
      await closed;
      expect(errors).toEqual([]);
      expect(received.startsWith("HTTP/1.1 401 ")).toBe(true);
    },
  );
});

async function waitUntil(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
