import * as http2 from "node:http2";
import * as net from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createListener, sniffProtocol, HTTP2_PREFACE, type Listener } from "../../src/server/listener.js";

/** Answers with the HTTP version the request arrived over. */
function versionHandler(
  req: { httpVersion: string; url?: string },
  res: { setHeader(name: string, value: string): unknown; end(body: string): unknown },
) {
  res.setHeader("content-type", "text/plain");
  res.end(`v${req.httpVersion} ${req.url ?? ""}`);
}

function h2Get(url: string, path = "/", createConnection?: () => net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, createConnection ? { createConnection } : {});
    session.on("error", reject);
    const req = session.request({ ":path": path });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      session.close();
      resolve(body);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends raw bytes in the given pieces (a pause between them so the server reads them apart) and returns all it answers. */
function rawExchange(port: number, pieces: (string | Buffer)[], end = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (answer += d));
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.on("connect", async () => {
      for (const [i, piece] of pieces.entries()) {
        if (i > 0) await delay(30);
        socket.write(piece);
      }
      if (end) socket.end();
    });
  });
}

describe("sniffProtocol", () => {
  it("waits while the bytes are a prefix of the HTTP/2 preface", () => {
    expect(sniffProtocol(Buffer.alloc(0))).toBeUndefined();
    expect(sniffProtocol(Buffer.from("P"))).toBeUndefined();
    expect(sniffProtocol(HTTP2_PREFACE.subarray(0, 23))).toBeUndefined();
  });
  it("decides HTTP/2 only on the whole preface", () => {
    expect(sniffProtocol(HTTP2_PREFACE)).toBe("http2");
    expect(sniffProtocol(Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0, 0, 4])]))).toBe("http2");
  });
  it("decides HTTP/1.1 as soon as the bytes diverge", () => {
    expect(sniffProtocol(Buffer.from("G"))).toBe("http1");
    expect(sniffProtocol(Buffer.from("PO"))).toBe("http1");
    expect(sniffProtocol(Buffer.from("PRI * HTTP/1.1"))).toBe("http1");
  });
});

describe("listener: HTTP/1.1 and h2c on one port", () => {
  let listener: Listener;
  let port: number;
  let url: string;

  beforeEach(async () => {
    listener = createListener({ handler: versionHandler });
    port = await listener.listen(0, "127.0.0.1");
    url = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await listener.close(1_000);
  });

  it("serves HTTP/1.1", async () => {
    const res = await fetch(`${url}/a`);
    expect(await res.text()).toBe("v1.1 /a");
  });

  it("turns Nagle off on every accepted connection (node's servers would, but they never accept ours)", async () => {
    const spy = vi.spyOn(net.Socket.prototype, "setNoDelay");
    try {
      await (await fetch(`${url}/nodelay`)).text();
      const serverSide = spy.mock.contexts.filter((s) => (s as net.Socket).localPort === port);
      expect(serverSide.length).toBeGreaterThan(0);
      expect(spy.mock.calls[spy.mock.contexts.indexOf(serverSide[0])]?.[0]).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it("serves HTTP/2 with prior knowledge", async () => {
    expect(await h2Get(url, "/b")).toBe("v2.0 /b");
  });

  it("serves both on one connection each, many times over", async () => {
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => fetch(url).then((r) => r.text())),
      ...Array.from({ length: 5 }, () => h2Get(url)),
    ]);
    expect(answers.filter((a) => a.startsWith("v1.1")).length).toBe(5);
    expect(answers.filter((a) => a.startsWith("v2.0")).length).toBe(5);
  });

  it("handles an HTTP/1.1 request whose first read is one byte that could still be the preface", async () => {
    const answer = await rawExchange(port, [
      "P",
      "OST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain("v1.1 /split");
  });

  it("handles the HTTP/2 preface split over several reads", async () => {
    // A proxy that forwards the client's first bytes in small pieces.
    const proxy = net.createServer((client) => {
      client.pause();
      const upstream = net.connect(port, "127.0.0.1");
      upstream.setNoDelay(true);
      upstream.pipe(client);
      client.once("readable", async () => {
        const first = client.read() as Buffer;
        for (const piece of [first.subarray(0, 3), first.subarray(3, 16), first.subarray(16)]) {
          upstream.write(piece);
          await delay(30);
        }
        client.pipe(upstream);
      });
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    try {
      expect(await h2Get(`http://127.0.0.1:${proxyPort}`, "/h2split")).toBe("v2.0 /h2split");
    } finally {
      proxy.close();
    }
  });

  it("keeps serving after garbage bytes", async () => {
    const garbage = await rawExchange(port, [Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 13, 10, 13, 10])]);
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    // A connection that starts like HTTP/2 and then is not.
    await rawExchange(port, [Buffer.concat([HTTP2_PREFACE, Buffer.from("this is not a frame at all")])]);
    // One that closes before it can be classified.
    await rawExchange(port, ["PRI * "], true);
    expect(await (await fetch(url)).text()).toBe("v1.1 /");
    expect(await h2Get(url)).toBe("v2.0 /");
  });

  it("close() stops listening and closes idle keep-alive connections of both protocols", async () => {
    const session = http2.connect(url);
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ":path": "/" });
      req.on("error", reject);
      req.resume();
      req.on("end", resolve);
      req.end();
    });
    // An HTTP/1.1 keep-alive connection left idle after its response.
    const socket = net.connect(port, "127.0.0.1");
    const firstResponse = new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await firstResponse;
    const h1Closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const h2Closed = new Promise<void>((resolve) => session.once("close", () => resolve()));

    const t0 = Date.now();
    await listener.close(5_000);
    await Promise.all([h1Closed, h2Closed]);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(listener.connections).toBe(0);
    await expect(fetch(url)).rejects.toThrow();
  });
});
