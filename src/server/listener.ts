/**
 * One plaintext port for HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
 *
 * A net.Server accepts every connection and looks at its first bytes: a
 * connection that starts with the HTTP/2 client preface goes to an http2
 * server, anything else to an http server. Both serve the same handler.
 * The bytes read for the decision are pushed back with unshift() before the
 * socket is handed over, so the chosen server parses the stream from byte 0.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { Logger } from "pino";

export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type Protocol = "http1" | "http2";

/**
 * Decides from the bytes received so far; undefined while they are still a
 * proper prefix of the HTTP/2 preface (a short first read).
 */
export function sniffProtocol(received: Buffer): Protocol | undefined {
  const n = Math.min(received.length, HTTP2_PREFACE.length);
  if (received.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) {
    return n === HTTP2_PREFACE.length ? "http2" : undefined;
  }
  return "http1";
}

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface ListenerOptions {
  handler: RequestHandler;
  logger?: Logger;
  /** A connection that sends nothing for this long before we can tell its protocol is dropped. */
  sniffTimeoutMs?: number;
}

export interface Listener {
  listen(port: number, host: string): Promise<number>;
  /**
   * Stops accepting, closes idle connections at once and busy ones when their
   * last response is done; after graceMs destroys whatever is left.
   */
  close(graceMs: number): Promise<void>;
  /** Open connections, for tests and diagnostics. */
  readonly connections: number;
}

export function createListener(options: ListenerOptions): Listener {
  const logger = options.logger;
  const sniffTimeoutMs = options.sniffTimeoutMs ?? 30_000;
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let closing = false;

  // The http servers never listen themselves: they only get sockets from `tcp`.
  const h1 = http.createServer(options.handler as http.RequestListener);
  // An http.Server tracks its connections (closeIdleConnections, the
  // headers/request timeouts) only once it has emitted 'listening'.
  h1.emit("listening");
  const h2 = http2.createServer(
    {},
    options.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  });
  h2.on("sessionError", (err: Error) => logger?.debug({ err }, "http2 session error"));
  h1.on("clientError", (err: Error, socket: net.Socket) => {
    logger?.debug({ err: err.message }, "http/1.1 client error");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  const tcp = net.createServer((socket) => {
    // Nagle off, as node's own servers do for every accepted socket: h1 and
    // h2 get the socket from us (emit "connection"), so node's accept path,
    // where http.Server would set it, never sees it. With Nagle, a response
    // written in two pieces waits for the client's ACK of the first.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if (closing) {
      socket.destroy();
      return;
    }
    handOver(socket, h1, h2, sniffTimeoutMs, logger);
  });

  return {
    get connections() {
      return sockets.size;
    },

    listen(port, host) {
      return new Promise<number>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        tcp.once("error", onError);
        tcp.listen(port, host, () => {
          tcp.off("error", onError);
          tcp.on("error", (err) => logger?.error({ err }, "listener error"));
          const addr = tcp.address();
          resolve(typeof addr === "object" && addr ? addr.port : port);
        });
      });
    },

    async close(graceMs) {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const session of sessions) session.close();
      // Never listening itself, h1 answers ERR_SERVER_NOT_RUNNING; the call
      // still stops its connection-checking timer and closes idle connections.
      h1.close(() => undefined);
      // Busy HTTP/1.1 connections turn idle once their response is written;
      // closing them then (not in the middle of a response) is the graceful part.
      const sweep = setInterval(() => h1.closeIdleConnections(), 50);
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      try {
        await closed;
        // The server counts a connection gone before its socket emits 'close'
        // (on Node 26 a timer later): wait, so no connection outlives close().
        await Promise.all([...sockets].map((s) => new Promise((resolve) => s.once("close", resolve))));
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
    },
  };
}

/**
 * Reads the connection's first bytes and hands it to the HTTP/1.1 or the
 * HTTP/2 server, whichever its preface names.
 */
function handOver(
  socket: net.Socket,
  h1: http.Server,
  h2: http2.Http2Server,
  sniffTimeoutMs: number,
  logger: ListenerOptions["logger"],
) {
  let received: Buffer = Buffer.alloc(0);
  const onError = (err: Error) => logger?.debug({ err: err.message }, "connection error before the first request");
  const onEnd = () => socket.destroy();
  const onTimeout = () => socket.destroy();
  const cleanup = () => {
    socket.off("readable", onReadable);
    socket.off("error", onError);
    socket.off("end", onEnd);
    socket.off("timeout", onTimeout);
    socket.setTimeout(0);
  };
  // Paused-mode reads ('readable' + read()) rather than a 'data' listener:
  // flowing mode would have to be undone before http2 takes the socket.
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    }
    const protocol = sniffProtocol(received);
    if (protocol === undefined) return;
    cleanup();
    socket.unshift(received);
    (protocol === "http2" ? h2 : h1).emit("connection", socket);
  };
  socket.on("readable", onReadable);
  socket.on("error", onError);
  socket.on("end", onEnd);
  socket.on("timeout", onTimeout);
  socket.setTimeout(sniffTimeoutMs);
}
