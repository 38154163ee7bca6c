/**
 * GET /queue/requests/{id}/status/stream over plain HTTP: an event per
 * change ending with the terminal one, keep-alive comments, and resuming with
 * Last-Event-ID (the status already seen and its log lines are not sent
 * again; the terminal event always is).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import type { Engine } from "../../src/engine/types.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { createWorker, type Worker } from "../../src/worker/index.js";
import { uniqueQueue } from "../helpers/engines.js";
import { curl } from "./curl.js";
import { gatedHandler } from "./gate.js";
import { nextData, openSse } from "./sse-client.js";

describe("REST event stream (memory)", () => {
  let engine: Engine;
  let server: RunningServer;
  const workers: Worker[] = [];

  beforeAll(async () => {
    engine = createMemoryEngine();
    server = await startServer({ engine, port: 0, host: "127.0.0.1", sseKeepAliveMs: 50 });
  });
  afterAll(async () => {
    for (const w of workers) await w.stop({ graceMs: 0 });
    await server?.close();
    await engine?.close();
  });

  /** A queue whose worker is started when the test says, running gated jobs. */
  async function gatedQueue() {
    const queue = uniqueQueue("sse");
    await engine.declareQueue(queue);
    const gate = gatedHandler();
    const worker = createWorker({ engine, queues: { [queue]: gate.handler } });
    workers.push(worker);
    const submitted = await curl("POST", `${server.url}/queue/${queue}`, { body: '{"n":1}' });
    return { queue, gate, worker, job: submitted.body };
  }

  it("an event per change, keep-alive comments, closed after the terminal event", async () => {
    const { gate, worker, job } = await gatedQueue();
    const { res, events } = await openSse(`${job.status_url}/stream?logs=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const first = await nextData(events);
    expect(first!.status).toEqual({
      request_id: job.request_id,
      status: "IN_QUEUE",
      queue_position: 0,
      progress: 0,
      attempt: 0,
      logs: [],
      response_url: job.response_url,
    });
    // Nothing changes while no worker runs: keep-alive comments only.
    let comment: string | undefined;
    while (comment === undefined) comment = (await events.next()).value?.comment;
    expect(comment).toBe("keep-alive");

    await worker.start();
    const seen = [first!];
    while (seen.at(-1)!.status.status === "IN_QUEUE" || seen.at(-1)!.status.progress < 0.5) {
      seen.push((await nextData(events))!);
    }
    expect(seen.at(-1)!.status.status).toBe("IN_PROGRESS");
    gate.open();
    for (;;) {
      const event = await nextData(events);
      if (!event) break;
      seen.push(event);
    }
    const last = seen.at(-1)!.status;
    expect(last).toMatchObject({ status: "COMPLETED", progress: 1 });
    const statuses = seen.map((e) => e.status.status);
    expect([...new Set(statuses)]).toEqual(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]);
    // Each log line once, in order, across the events.
    const lines = seen.flatMap((e) => e.status.logs.map((l: { message: string; level: string }) => l.message));
    expect(lines).toEqual(["started", "finishing"]);
    expect(seen.flatMap((e) => e.status.logs).at(-1).level).toBe("ERROR");
    const seqs = seen.map((e) => Number(e.id.split(".")[0]));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it("Last-Event-ID resumes: the status already seen is not sent again, the terminal one is", async () => {
    const { gate, worker, job } = await gatedQueue();
    await worker.start();
    const cut = new AbortController();
    const before = await openSse(`${job.status_url}/stream?logs=1`, {}, cut.signal);
    let last = (await nextData(before.events))!;
    while (last.status.status !== "IN_PROGRESS" || last.status.progress < 0.5) last = (await nextData(before.events))!;
    cut.abort();

    const resumed = await openSse(`${job.status_url}/stream?logs=1`, { "Last-Event-ID": last.id });
    gate.open();
    const after = [];
    for (;;) {
      const event = await nextData(resumed.events);
      if (!event) break;
      after.push(event);
    }
    // The status the client had (IN_PROGRESS at 0.5, "started") is not sent again; only what is new.
    const digest = (id: string) => id.split(".")[2];
    expect(after.every((e) => digest(e.id) !== digest(last.id) || e.status.logs.length > 0)).toBe(true);
    expect(after.flatMap((e) => e.status.logs.map((l: { message: string }) => l.message))).toEqual(["finishing"]);
    expect(after.at(-1)!.status.status).toBe("COMPLETED");
    expect(after.map((e) => Number(e.id.split(".")[0]))).toEqual(
      after.map((_, i) => Number(last.id.split(".")[0]) + 1 + i),
    );

    // Resuming after the terminal event: it comes again, and the stream ends.
    const again = await openSse(`${job.status_url}/stream`, { "Last-Event-ID": after.at(-1)!.id });
    expect((await nextData(again.events))!.status.status).toBe("COMPLETED");
    expect(await nextData(again.events)).toBeUndefined();
  });

  it("a refused stream is an HTTP error, so EventSource stops: unknown job 404 JSON", async () => {
    const res = await fetch(`${server.url}/queue/requests/echo-00000000zzz-AAAAAAAAAAAA/status/stream`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("server shutdown ends an open stream without a terminal event: the client reconnects elsewhere", async () => {
    const { job } = await gatedQueue();
    const other = await startServer({ engine, port: 0, host: "127.0.0.1" });
    const { events } = await openSse(`${other.url}${new URL(job.status_url).pathname}/stream`);
    expect((await nextData(events))!.status.status).toBe("IN_QUEUE");
    const closed = other.close();
    expect(await nextData(events)).toBeUndefined();
    await closed;
  });
});
