/**
 * GET /queue/requests/{id}/status/stream: StreamStatus as Server-Sent Events
 * for the browser's EventSource. One event per change, in the shape of
 * GET .../status, each with an id (event-ids.ts) so a reconnect with
 * Last-Event-ID resumes where the client was and always ends with the
 * terminal event; a keep-alive comment while nothing changes (proxies close
 * idle connections); the response ends after the terminal event. Before the
 * first event nothing is written, so a refused call (401, 404, 429) is an
 * HTTP error, which makes EventSource stop instead of retrying.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Job } from "../../../gen/jetq/v1/queue_pb.js";
import { formatEventId, parseEventId, statusDigest, type EventPosition } from "./event-ids.js";
import { restError } from "./errors.js";
import { writeChunk, writeError, type Res } from "./respond.js";
import type { ServiceCalls } from "./service-calls.js";
import { isTerminalStatus, statusJson } from "./shapes.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type HeadWriter = { writeHead(status: number, headers: http.OutgoingHttpHeaders): unknown };

export const DEFAULT_SSE_KEEP_ALIVE_MS = 15_000;
/** How long EventSource waits before reconnecting after a cut (its default is ~3 s). */
const RETRY_MS = 1_000;

export interface StatusStreamOptions {
  calls: ServiceCalls;
  keepAliveMs: number;
  shutdownSignal: AbortSignal;
}

export interface StatusStreamRequest {
  id: string;
  withLogs: boolean;
  responseUrl: string;
}

export function createStatusStreams(o: StatusStreamOptions) {
  // One shutdown listener for all streams (node scans a signal's listeners on every add).
  const open = new Set<() => void>();
  o.shutdownSignal.addEventListener("abort", () => [...open].forEach((end) => end()), { once: true });

  return async (req: Req, res: Res, r: StatusStreamRequest): Promise<void> => {
    const abort = new AbortController();
    const end = () => abort.abort(o.shutdownSignal.reason);
    const state = { ended: false };
    // Not after the terminal event: the call is then finishing on its own.
    const onClose = () => state.ended || abort.abort(new Error("the client closed the stream"));
    if (o.shutdownSignal.aborted) end();
    else open.add(end);
    res.once("close", onClose);
    try {
      await stream(o, req, res, r, abort.signal, state);
    } finally {
      open.delete(end);
      res.off("close", onClose);
      if (!abort.signal.aborted) abort.abort(new Error("stream over"));
    }
  };
}

async function stream(
  o: StatusStreamOptions,
  req: Req,
  res: Res,
  r: StatusStreamRequest,
  signal: AbortSignal,
  state: { ended: boolean },
) {
  let it: AsyncIterator<Job>;
  let next: IteratorResult<Job>;
  try {
    const messages = await o.calls.stream("streamStatus", req, { id: r.id, includeLogs: r.withLogs }, signal);
    it = messages[Symbol.asyncIterator]();
    next = await it.next();
  } catch (e) {
    writeError(res, e);
    return;
  }
  (res as HeadWriter).writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    // nginx buffers responses unless told not to.
    "x-accel-buffering": "no",
  });
  writeChunk(res, `retry: ${RETRY_MS}\n\n`);
  const keepAlive = setInterval(() => writeChunk(res, ": keep-alive\n\n"), o.keepAliveMs);
  const events = createEventWriter(res, r, parseEventId(req.headers["last-event-id"]));
  try {
    while (!next.done) {
      // The terminal event ends the answer at once; the stream is still read to
      // its end (right after), so the interceptors see the call finish as on the RPC.
      if (events.write(next.value)) {
        state.ended = true;
        res.end();
      }
      next = await it.next();
    }
    // Ended without a terminal status: cut (shutdown). The client reconnects with Last-Event-ID.
  } catch (e) {
    // After the head an error can only be told in a comment; the client reconnects and hears it as HTTP.
    if (!signal.aborted) writeChunk(res, `: error: ${restError(e).body.error.message.replace(/\s+/g, " ")}\n\n`);
  } finally {
    clearInterval(keepAlive);
    if (!next!.done) void it.return?.().catch(() => undefined);
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}

/** Writes a job's statuses as events; write() answers true after the terminal one. */
function createEventWriter(res: Res, r: StatusStreamRequest, resumed: EventPosition | undefined) {
  let position: EventPosition = resumed ?? { seq: 0, logs: 0, digest: "" };
  let first = true;
  return {
    write(job: Job): boolean {
      const status = statusJson(job, r.responseUrl, r.withLogs);
      const terminal = isTerminalStatus(status.status);
      // The first message of a stream holds every line so far: the client has position.logs of them.
      if (status.logs && first && resumed) status.logs = status.logs.slice(position.logs);
      const digest = statusDigest(status);
      const news = (status.logs?.length ?? 0) > 0;
      const skip = first && resumed !== undefined && digest === resumed.digest && !news && !terminal;
      first = false;
      if (skip) return false;
      position = { seq: position.seq + 1, logs: position.logs + (status.logs?.length ?? 0), digest };
      writeChunk(res, `id: ${formatEventId(position)}\ndata: ${JSON.stringify(status)}\n\n`);
      return terminal;
    },
  };
}
