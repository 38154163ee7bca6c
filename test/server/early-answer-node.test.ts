/**
 * src/server/connect/oversized.ts answers HTTP/1.1 requests before their
 * body has arrived by replacing three things of Node's on one request:
 * req.destroy, res.writeHead and its socket's destroySoon. The last two
 * only work while Node behaves as it does today; these tests fail when it
 * stops, so an upgrade of Node shows which replacement to revisit. (The
 * req.destroy one answers connect-node's body iterator, whose behaviour
 * test/auth/auth-errors-http1.test.ts and connect-fast-path.test.ts cover.)
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";

let server: http.Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server whose handler runs on the first request; resolves the port. */
function serve(handler: http.RequestListener): Promise<number> {
  server = http.createServer(handler);
  return new Promise((resolve) =>
    server!.listen(0, "127.0.0.1", () => resolve((server!.address() as AddressInfo).port)),
  );
}

/** A POST whose body starts a moment after its headers and is never finished (the client is still writing). */
function postStillWriting(port: number): { answered: Promise<http.IncomingMessage>; req: http.ClientRequest } {
  const req = http.request({
    port,
    host: "127.0.0.1",
    method: "POST",
    path: "/",
    headers: { "content-length": "1000000" },
  });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on("response", resolve);
    req.on("error", reject);
  });
  req.write("x".repeat(1000));
  return { answered, req };
}

describe("Node behaviour oversized.ts relies on", () => {
  it("an HTTP/1.1 server socket has destroySoon, and Node calls it to close a `Connection: close` answer sent before the body arrived", async () => {
    let calledWhileBodyPending: boolean | undefined;
    const port = await serve((req, res) => {
      const socket = req.socket;
      expect(typeof socket.destroySoon).toBe("function");
      const destroySoon = socket.destroySoon.bind(socket);
      socket.destroySoon = () => {
        calledWhileBodyPending ??= !req.complete;
        destroySoon();
      };
      res.writeHead(401, { connection: "close", "content-length": "0" });
      res.end();
    });
    const { answered, req } = postStillWriting(port);
    const res = await answered;
    expect(res.statusCode).toBe(401);
    req.destroy();
    await waitUntil(() => calledWhileBodyPending !== undefined);
    expect(calledWhileBodyPending).toBe(true);
  });

  it("a head Node writes itself (res.end() without writeHead) goes through the instance's writeHead", async () => {
    let headers: http.OutgoingHttpHeaders | undefined;
    const port = await serve((_req, res) => {
      const writeHead = res.writeHead.bind(res);
      res.writeHead = ((...args: Parameters<typeof writeHead>) => {
        // What oversized.ts does: a header added at the last moment.
        res.setHeader("connection", "close");
        headers = res.getHeaders();
        return writeHead(...args);
      }) as typeof res.writeHead;
      res.statusCode = 204;
      res.end();
    });
    const { answered, req } = postStillWriting(port);
    const res = await answered;
    req.destroy();
    expect(res.statusCode).toBe(204);
    expect(res.headers.connection).toBe("close");
    expect(headers?.connection).toBe("close");
  });
});

async function waitUntil(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the condition");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
