/**
 * The HTTP floor: jetq's own listener (src/server/listener.ts: HTTP/1.1 and
 * h2c on one port) answering Submit and StreamStatus with canned jobs, with
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
import { JobSchema, JobState, StreamStatusRequestSchema, SubmitRequestSchema } from "../gen/jetq/v1/queue_pb.js";
import { formatJobId, jobIdParts, newToken } from "../src/engine/job-id.js";
import { createListener } from "../src/server/listener.js";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
/** The methods both response kinds share, with one signature each. */
type Res = Pick<http.ServerResponse, "writeHead" | "end">;

const SUBMIT = "/jetq.v1.QueueService/Submit";
const STREAM_STATUS = "/jetq.v1.QueueService/StreamStatus";

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
function submit(body: Buffer): Uint8Array {
  const req = fromBinary(SubmitRequestSchema, body);
  const id = formatJobId({ queue: req.queue, seq: ++seq, token: newToken() });
  return toBinary(JobSchema, create(JobSchema, { id, queue: req.queue, state: JobState.QUEUED, queuePosition: 0, createdAt: timestampNow() }));
}

/** The job COMPLETED at once, and the end of the stream in the same write (as jetq's fast path does). */
function streamStatus(body: Buffer): Buffer {
  const req = fromBinary(StreamStatusRequestSchema, body.subarray(5, 5 + body.readUInt32BE(1)));
  const now = timestampNow();
  const job = create(JobSchema, {
    id: req.id,
    queue: jobIdParts(req.id)?.queue ?? "",
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
    const job = submit(body);
    res.writeHead(200, { "content-type": "application/proto", "content-length": String(job.byteLength) });
    res.end(job);
  } else {
    res.writeHead(200, { "content-type": "application/connect+proto" });
    res.end(streamStatus(body));
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
    if (path !== SUBMIT && path !== STREAM_STATUS) {
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
