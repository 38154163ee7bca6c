/**
 * A webhook receiver on loopback for the tests: records every request and
 * answers each webhook id's first `failFirst` attempts with 500, then 200.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  /** When it arrived (epoch ms). */
  at: number;
}

export interface Receiver {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly received: Received[];
  /** Requests of one webhook id (the job's `msg_<id>_<state>`). */
  of(webhookId: string): Received[];
  /** Accepted (2xx) requests of one job. */
  acceptedFor(jobId: string): Received[];
  /** Attempts of each webhook id answered 500 before the 200. */
  failFirst: number;
  close(): Promise<void>;
}

export async function startReceiver(failFirst = 0): Promise<Receiver> {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const receiver: Receiver = {
    url: "",
    received,
    failFirst,
    of: (id) => received.filter((r) => r.headers["webhook-id"] === id),
    acceptedFor: (jobId) =>
      received.filter((r) => r.status === 200 && String(r.headers["webhook-id"]).startsWith(`msg_${jobId}_`)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      const status = n <= receiver.failFirst ? 500 : 200;
      received.push({
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        status,
        at: Date.now(),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, { url: `http://127.0.0.1:${port}` });
}
