/**
 * The HTTP floor: jetq's own listener (src/server/listener.ts: HTTP/1.1 and
 * h2c on one port) answering Submit, StreamStatus and SubmitAndStream with canned jobs, with
 * no queue behind them. Measured as jetq is, it gives what node's HTTP stack,
 * the two messages and the bench's clients cost per job on this machine: the
 * part of jetq's cost that no queue design can take away.
 * Listens on 127.0.0.1:$PORT, answers GET /healthz, runs until killed.
 * Started by bench/floor-process.ts.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  JobSchema,
  JobState,
  StreamStatusRequestSchema,
  SubmitAndStreamRequestSchema,
  SubmitRequestSchema,
} from "../gen/jetq/v1/queue_pb.js";
import { formatJobId, jobIdParts, newToken } from "../src/engine/job-id.js";
import { createListener } from "../src/server/listener.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
/** The methods both response kinds share, with one signature each. */
type Res = Pick<http.ServerResponse, "writeHead" | "write" | "end">;

const SUBMIT = "/jetq.v1.QueueService/Submit";
const STREAM_STATUS = "/jetq.v1.QueueService/StreamStatus";
const SUBMIT_AND_STREAM = "/jetq.v1.QueueService/SubmitAndStream";
const PATHS = new Set([SUBMIT, STREAM_STATUS, SUBMIT_AND_STREAM]);

function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + data.byteLength);
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

/** An end-stream envelope with no error and no trailers, as connect-es writes it. */
const END_STREAM = envelope(0x02, Buffer.from("{}"));

function readBody(req: Req): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

let seq = 0;

/** A QUEUED job with an id made the way jetq makes them (jetq's own token pool). */
function submit(queue: string): { id: string; bytes: Uint8Array } {
  const id = formatJobId({ queue, seq: ++seq, token: newToken() });
  return {
    id,
    bytes: toBinary(
      JobSchema,
      create(JobSchema, { id, queue, state: JobState.QUEUED, queuePosition: 0, createdAt: timestampNow() }),
    ),
  };
}

const firstEnvelope = (body: Buffer) => body.subarray(5, 5 + body.readUInt32BE(1));

/** The job COMPLETED at once, and the end of the stream in the same write (as jetq's fast path does). */
function completed(id: string): Buffer {
  const now = timestampNow();
  const job = create(JobSchema, {
    id,
    queue: jobIdParts(id)?.queue ?? "",
    state: JobState.COMPLETED,
    attempt: 1,
    progress: 1,
    createdAt: now,
    startedAt: now,
    finishedAt: now,
  });
  return Buffer.concat([envelope(0, toBinary(JobSchema, job)), END_STREAM]);
}

async function serve(req: Req, res: Res, path: string): Promise<void> {
  const body = await readBody(req);
  if (path === SUBMIT) {
    const job = submit(fromBinary(SubmitRequestSchema, body).queue).bytes;
    res.writeHead(200, { "content-type": "application/proto", "content-length": String(job.byteLength) });
    res.end(job);
  } else if (path === STREAM_STATUS) {
    res.writeHead(200, { "content-type": "application/connect+proto" });
    res.end(completed(fromBinary(StreamStatusRequestSchema, firstEnvelope(body)).id));
  } else {
    // As jetq does: the QUEUED job goes out on its own, the end comes a turn later.
    const queued = submit(fromBinary(SubmitAndStreamRequestSchema, firstEnvelope(body)).queue);
    res.writeHead(200, { "content-type": "application/connect+proto" });
    res.write(envelope(0, queued.bytes));
    setImmediate(() => res.end(completed(queued.id)));
  }
}

const listener = createListener({
  handler(req, res) {
    const r = res as Res;
    if (req.method === "GET" && req.url === "/healthz") {
      r.writeHead(200, { "content-type": "text/plain" });
      r.end("ok");
      return;
    }
    const path = req.method === "POST" ? req.url : undefined;
    if (path === undefined || !PATHS.has(path)) {
      r.writeHead(404);
      r.end();
      return;
    }
    // Only the bench's own clients call: a failure here is a bug, made visible to them as a 500.
    serve(req, r, path).catch((err: unknown) => {
      r.writeHead(500, { "content-type": "text/plain" });
      r.end(String(err));
    });
  },
});
const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT must be a port number, got ${process.env.PORT}`);
await listener.listen(port, "127.0.0.1");
