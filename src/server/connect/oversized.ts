/**
 * HTTP/1.1 requests answered before their body was read get their answer,
 * and the client is never cut off while it still writes. That happens to a
 * body over readMaxBytes (refused part way) and to every call without a
 * valid key (auth-gate.ts answers UNAUTHENTICATED at once). connect-node
 * then destroys the request or leaves it paused, and node would reset the
 * connection under a client still sending (ECONNRESET or `write EPIPE`
 * instead of the answer). Instead the rest of the body is read and dropped
 * (up to discardMaxBytes) after the answer, which says `Connection: close`,
 * and the connection is closed only once the body has arrived: the client
 * finishes writing, reads its answer and opens a new connection for its
 * next call. (Keeping such a connection alive instead made node's own
 * HTTP/1.1 client see resets after refused 20 MiB bodies.)
 *
 * All of Node's behaviour that is replaced for this (req.destroy, res.writeHead,
 * the socket's destroySoon, per request, never on a prototype) is in this
 * file; test/server/early-answer-node.test.ts fails when Node stops calling
 * the last two the way this relies on.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;

export function drainOversizedBodies<H extends Handler>(handler: H, discardMaxBytes: number): H {
  const wrapped = (req: Request, res: Response) => {
    if (!("stream" in req)) answerBeforeBody(req, res as http.ServerResponse, discardMaxBytes);
    handler(req, res);
  };
  return wrapped as H;
}

function answerBeforeBody(h1: http.IncomingMessage, res: http.ServerResponse, discardMaxBytes: number): void {
  const destroy = h1.destroy.bind(h1);
  let draining = false;
  const drain = () => {
    if (draining || h1.complete || h1.destroyed) return;
    draining = true;
    let discarded = 0;
    h1.on("data", (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > discardMaxBytes) destroy();
    });
    h1.resume();
  };
  h1.destroy = ((err?: Error) => {
    // The body iterator's return() destroys with an AbortError; anything
    // else (the client went away, a socket error) really ends the request.
    if (h1.complete || (err !== undefined && err.name !== "AbortError")) return destroy(err);
    drain();
    return h1;
  }) as typeof h1.destroy;
  // Answered with the body half read and left paused.
  res.once("finish", drain);
  holdCloseUntilBodyArrived(h1);
  // Answered before its body arrived: the connection closes after it (once
  // the body is in); say so, or the client reuses it for its next call.
  const writeHead = res.writeHead.bind(res);
  res.writeHead = ((...args: Parameters<typeof writeHead>) => {
    if (!h1.complete && !res.headersSent) res.setHeader("connection", "close");
    return writeHead(...args);
  }) as typeof res.writeHead;
}

/**
 * A connection closing after its answer (the client asked for it, or node
 * decided) is closed by node with socket.destroySoon() the moment the answer
 * is written: a client still sending its body then gets a reset. Until the
 * body has arrived (or was cut), that close waits.
 */
function holdCloseUntilBodyArrived(h1: http.IncomingMessage): void {
  const socket = h1.socket;
  if (h1.complete || typeof socket.destroySoon !== "function") return;
  const destroySoon = socket.destroySoon.bind(socket);
  let wanted = false;
  const release = () => {
    h1.off("end", release);
    h1.off("close", release);
    // Only if nobody replaced it meanwhile (the next request on the connection).
    if (socket.destroySoon === held) delete (socket as { destroySoon?: unknown }).destroySoon;
    if (wanted) destroySoon();
  };
  const held = () => {
    if (h1.complete || h1.destroyed) return destroySoon();
    wanted = true;
  };
  socket.destroySoon = held;
  h1.once("end", release);
  h1.once("close", release);
}
