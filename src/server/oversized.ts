/**
 * Oversized HTTP/1.1 requests get their answer. A body over readMaxBytes is
 * refused before it was read to its end: connect-node then destroys the
 * request (or leaves it paused), and on HTTP/1.1 either resets the
 * connection under a client still sending, which sees ECONNRESET instead of
 * the RESOURCE_EXHAUSTED answer. Instead, the rest of the body is read and
 * discarded (up to a bound) so the answer arrives, and the answer says
 * `Connection: close`, as node closes such a connection after it.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;

export function drainOversizedBodies<H extends Handler>(handler: H, discardMaxBytes: number): H {
  const wrapped = (req: Request, res: Response) => {
    if (!("stream" in req)) {
      const h1 = req;
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
      const h1res = res as http.ServerResponse;
      h1res.once("finish", drain);
      // Node closes such a connection after the answer: say so, or the
      // client reuses it for its next call and gets a reset.
      const writeHead = h1res.writeHead.bind(h1res);
      h1res.writeHead = ((...args: Parameters<typeof writeHead>) => {
        if (!h1.complete && !h1res.headersSent) h1res.setHeader("connection", "close");
        return writeHead(...args);
      }) as typeof h1res.writeHead;
    }
    handler(req, res);
  };
  return wrapped as H;
}
