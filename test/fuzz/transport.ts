/**
 * Sends one fuzz request byte for byte: node:http for HTTP/1.1, node:http2
 * (prior knowledge, h2c) for HTTP/2, and a bare TCP socket for bytes that are
 * not HTTP at all. Every response is read to its end, or cut once a stream
 * has shown its first message (StreamStatus of a live job never ends).
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { parseFrames } from "./wire.js";

export type TransportName = "h1" | "h2" | "socket";

export interface RawRequest {
  transport: TransportName;
  method: string;
  /** Path and query, sent as is. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /**
   * Send on a connection of its own: for header trouble that makes a server
   * drop the whole connection (node's HTTP/2 server answers an oversized
   * header block with GOAWAY, refusing every stream in flight on it).
   */
  isolate?: boolean;
  /** The response is enveloped (gRPC, gRPC-Web, Connect streaming): cut it after the first whole frame. */
  enveloped?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** We cut the response (a stream still open after its first message, or the time cap). */
  cut: boolean;
  /** The connection failed before a complete response (reset, hang up, protocol error). */
  error?: string;
}

/** No answer by then is a hang, reported as such. */
const TIMEOUT_MS = 20_000;
export const HUNG = "hung";
const STREAMS_PER_SESSION = 50;
const MAX_BODY = 256 * 1024;

export interface Transports {
  send(req: RawRequest): Promise<RawResponse>;
  close(): void;
}

function flatHeaders(h: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  return out;
}

export function createTransports(
  baseUrl: string,
  options: { h2Sessions?: number; maxSockets?: number } = {},
): Transports {
  const url = new URL(baseUrl);
  const host = url.hostname;
  const port = Number(url.port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 32 });
  const sessions: (http2.ClientHttp2Session | undefined)[] = new Array(options.h2Sessions ?? 4).fill(undefined);
  let turn = 0;

  const used = new Map<http2.ClientHttp2Session, number>();
  /**
   * Sessions are retired after STREAMS_PER_SESSION streams: node's HTTP/2
   * server answers a client that resets many streams quickly (we cut every
   * open StreamStatus) with ENHANCE_YOUR_CALM, its rapid-reset defence.
   */
  function session(): http2.ClientHttp2Session {
    const i = turn++ % sessions.length;
    let s = sessions[i];
    if (s && (used.get(s) ?? 0) >= STREAMS_PER_SESSION) {
      s.close();
      s = undefined;
    }
    if (!s || s.closed || s.destroyed) {
      s = http2.connect(baseUrl);
      // Errors surface on the streams; a session-level one only retires the session.
      s.on("error", () => undefined);
      s.on("goaway", () => {
        if (sessions[i] === s) sessions[i] = undefined;
      });
      s.on("close", () => {
        if (sessions[i] === s) sessions[i] = undefined;
        used.delete(s!);
      });
      sessions[i] = s;
    }
    used.set(s, (used.get(s) ?? 0) + 1);
    return s;
  }

  function result(
    status: number,
    headers: Record<string, string>,
    trailers: Record<string, string>,
    chunks: Buffer[],
    cut: boolean,
    error?: string,
  ): RawResponse {
    return { status, headers, trailers, body: Buffer.concat(chunks), cut, error };
  }

  /** Watches a response body: true once it should be cut. */
  function cutter(enveloped: boolean | undefined) {
    let size = 0;
    const chunks: Buffer[] = [];
    return {
      chunks,
      add(chunk: Buffer): boolean {
        size += chunk.length;
        if (size <= MAX_BODY) chunks.push(chunk);
        if (size > MAX_BODY) return true;
        return !!enveloped && parseFrames(Buffer.concat(chunks)).frames.length > 0;
      },
    };
  }

  function sendH1(req: RawRequest): Promise<RawResponse> {
    return new Promise((resolve) => {
      let done = false;
      let status = 0;
      let headers: Record<string, string> = {};
      const body = cutter(req.enveloped);
      const finish = (cut: boolean, error?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result(status, headers, {}, body.chunks, cut, error));
      };
      const r = http.request(
        {
          host,
          port,
          method: req.method,
          path: req.path,
          headers: req.headers,
          // A content-length that lies leaves bytes on the connection that
          // would be read as the next request: give it a connection of its own.
          agent: req.isolate || "content-length" in req.headers ? false : agent,
          setHost: true,
        },
        (res) => {
          status = res.statusCode ?? 0;
          headers = flatHeaders(res.headers);
          res.on("data", (chunk: Buffer) => {
            if (body.add(chunk)) {
              finish(true);
              r.destroy();
            }
          });
          res.on("end", () => {
            const trailers = flatHeaders(res.trailers);
            if (!done) {
              done = true;
              clearTimeout(timer);
              resolve(result(status, headers, trailers, body.chunks, false));
            }
          });
          res.on("error", (err) => finish(false, err.message));
        },
      );
      const timer = setTimeout(() => {
        finish(true, `${HUNG}: no complete answer in ${TIMEOUT_MS} ms (status ${status})`);
        r.destroy();
      }, TIMEOUT_MS);
      r.on("error", (err) => finish(false, (err as NodeJS.ErrnoException).code ?? err.message));
      r.end(req.body);
    });
  }

  function sendH2(req: RawRequest): Promise<RawResponse> {
    return new Promise((resolve) => {
      let done = false;
      let status = 0;
      let headers: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const body = cutter(req.enveloped);
      let stream: http2.ClientHttp2Stream;
      const finish = (cut: boolean, error?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        own?.close();
        resolve(result(status, headers, trailers, body.chunks, cut, error));
      };
      const own = req.isolate ? http2.connect(baseUrl) : undefined;
      own?.on("error", () => undefined);
      try {
        // endStream false even for GET: the body (if any) is ours to send.
        stream = (own ?? session()).request(
          { ":method": req.method, ":path": req.path, ...req.headers },
          { endStream: false },
        );
      } catch (err) {
        resolve(result(0, {}, {}, [], false, (err as Error).message));
        return;
      }
      const timer = setTimeout(() => {
        finish(true, `${HUNG}: no complete answer in ${TIMEOUT_MS} ms (status ${status})`);
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, TIMEOUT_MS);
      stream.on("response", (h) => {
        status = Number(h[":status"] ?? 0);
        headers = flatHeaders(h);
      });
      stream.on("trailers", (t) => {
        trailers = flatHeaders(t);
      });
      stream.on("data", (chunk: Buffer) => {
        if (body.add(chunk)) {
          finish(true);
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }
      });
      stream.on("end", () => finish(false));
      stream.on("close", () => {
        const code = stream.rstCode;
        finish(false, code !== undefined && code !== 0 && status === 0 ? `RST_STREAM ${code}` : undefined);
      });
      stream.on("error", (err) =>
        finish(
          false,
          (err as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_ERROR"
            ? err.message
            : ((err as NodeJS.ErrnoException).code ?? err.message),
        ),
      );
      stream.end(req.body);
    });
  }

  /** Raw bytes on a fresh connection; the answer is whatever comes back before the server closes (or 2 s). */
  function sendSocket(req: RawRequest): Promise<RawResponse> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const socket = net.connect(port, host);
      const finish = (error?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        const text = Buffer.concat(chunks);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text.subarray(0, 16).toString("latin1"));
        resolve({ status: m ? Number(m[1]) : 0, headers: {}, trailers: {}, body: text, cut: false, error });
      };
      const timer = setTimeout(() => finish(), 2_000);
      socket.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      socket.on("end", () => finish());
      socket.on("close", () => finish());
      socket.on("error", (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
      socket.write(req.body);
    });
  }

  return {
    send(req) {
      if (req.transport === "h2") return sendH2(req);
      if (req.transport === "socket") return sendSocket(req);
      return sendH1(req);
    },
    close() {
      agent.destroy();
      for (const s of sessions) s?.destroy();
    },
  };
}
