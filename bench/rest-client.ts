/**
 * The REST flow as curl, fetch and EventSource users run it: POST
 * /queue/{queue} with the input as JSON, then GET
 * /queue/requests/{id}/status/stream (Server-Sent Events) until the terminal
 * event, over HTTP/1.1 keep-alive sockets (src/server/rest/, README "REST and
 * Server-Sent Events").
 */
import * as http from "node:http";

/** Statuses after which the event stream ends. */
const RUNNING = new Set(["IN_QUEUE", "IN_PROGRESS"]);

export interface RestClient {
  /** Submits one job and resolves with its terminal status ("COMPLETED", "FAILED", …). */
  run(queue: string, input: unknown): Promise<string>;
  close(): void;
}

interface Answer {
  status: number;
  body: string;
}

export function openRestClient(baseUrl: string): RestClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const url = new URL(baseUrl);
  const request = (method: string, path: string, body?: string, onData?: (chunk: string) => void) =>
    new Promise<Answer>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = body
        ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
        : { accept: "text/event-stream" };
      const req = http.request({ agent, host: url.hostname, port: url.port, method, path, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (onData ? onData(c) : (text += c)));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });

  async function run(queue: string, input: unknown): Promise<string> {
    const submitted = await request("POST", `/queue/${queue}`, JSON.stringify(input));
    if (submitted.status !== 202) throw new Error(`POST /queue/${queue}: HTTP ${submitted.status} ${submitted.body}`);
    const id = (JSON.parse(submitted.body) as { request_id: string }).request_id;
    let pending = "";
    let last = "";
    // Events are separated by a blank line; their data lines carry the status JSON.
    const onData = (chunk: string) => {
      pending += chunk;
      let at: number;
      while ((at = pending.indexOf("\n\n")) >= 0) {
        const event = pending.slice(0, at);
        pending = pending.slice(at + 2);
        const data = event
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trimStart())
          .join("\n");
        if (data) last = (JSON.parse(data) as { status: string }).status;
      }
    };
    const streamed = await request("GET", `/queue/requests/${encodeURIComponent(id)}/status/stream`, undefined, onData);
    if (streamed.status !== 200) throw new Error(`status stream of ${id}: HTTP ${streamed.status}`);
    if (RUNNING.has(last) || last === "") throw new Error(`status stream of ${id} ended at ${last || "no event"}`);
    return last;
  }

  return { run, close: () => agent.destroy() };
}
