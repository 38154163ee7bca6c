/**
 * Open streams are capped per API key (across its connections) and per
 * connection (HTTP/2 streams on one socket, keys or not): beyond a cap a
 * StreamStatus or SubmitAndStream is RESOURCE_EXHAUSTED naming the cap and
 * its setting, enqueues nothing, and a closed stream frees its place. The
 * same on the Connect fast path and connect-es (gRPC).
 */
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import type { ProtocolClient } from "../e2e/clients.js";
import { expectCode, startCollecting, value, type StreamCollector } from "../e2e/harness.js";
import { uniqueQueue } from "../helpers/engines.js";
import { KEYED_PROTOCOLS } from "./clients.js";
import { useAuthJetq } from "./harness.js";

/** Key A of each protocol's test: the per-key count is the server's, across tests. */
const keyA = (protocol: { name: string }) => `k-stream-caps-a-${protocol.name.replace(/\W/g, "")}-0123456789`;
const KEY_B = "k-stream-caps-b-0123456789abcdef";
const PER_KEY = 3;
const PER_CONNECTION = 4;
const H2 = KEYED_PROTOCOLS.filter((p) => p.name === "connect+proto h2c" || p.name === "grpc h2c");

describe("with keys", () => {
  const ctx = useAuthJetq({
    apiKeys: [...H2.map((p) => ({ key: keyA(p), tenant: "acme" })), { key: KEY_B, tenant: "acme" }],
    streamCaps: { perKey: PER_KEY, perConnection: 100 },
  });
  const open = useStreams();

  it.each(H2)(
    "$name: a key over its cap (across connections) is RESOURCE_EXHAUSTED; another key is not; a closed stream frees its place",
    async (protocol) => {
      const { queue, job } = await queuedJob(ctx.jetq);
      const watch = (c: ProtocolClient) => open.watch(c, job);
      // Each stream of key A on a connection of its own: the cap is the key's.
      const streams = Array.from({ length: PER_KEY }, () => watch(open.client(protocol, ctx.jetq.url, keyA(protocol))));
      await Promise.all(streams.map((s) => s.atLeast(1)));
      const over = open.client(protocol, ctx.jetq.url, keyA(protocol));
      const err = await expectCode(drainFirst(over.streamStatus({ id: job })), Code.ResourceExhausted);
      expect(err.rawMessage).toBe(
        `too many open streams: this API key has ${PER_KEY} streams open, its limit (JETQ_MAX_STREAMS_PER_KEY); close some before opening more`,
      );
      // SubmitAndStream counts too, and a refused one enqueues nothing.
      await expectCode(drainFirst(over.submitAndStream({ queue, input: value(1) })), Code.ResourceExhausted);
      expect((await over.queueCount({ queue })).inQueue).toBe(1);
      // Another key has its own count.
      await watch(open.client(protocol, ctx.jetq.url, KEY_B)).atLeast(1);
      // Unary calls are not streams.
      expect((await over.getStatus({ id: job })).id).toBe(job);

      streams[0]!.abort();
      await expect(streams[0]!.done).rejects.toThrow();
      const again = await waitForStream(() => watch(open.client(protocol, ctx.jetq.url, keyA(protocol))));
      expect(again.messages[0]!.id).toBe(job);
    },
  );
});

describe("without keys", () => {
  const ctx = useAuthJetq({ streamCaps: { perKey: 1, perConnection: PER_CONNECTION } });
  const open = useStreams();

  it.each(H2)(
    "$name: one connection over its cap is RESOURCE_EXHAUSTED; another connection is not",
    async (protocol) => {
      const { job } = await queuedJob(ctx.jetq);
      const shared = open.client(protocol, ctx.jetq.url);
      const streams = Array.from({ length: PER_CONNECTION }, () => open.watch(shared, job));
      await Promise.all(streams.map((s) => s.atLeast(1)));
      const err = await expectCode(drainFirst(shared.streamStatus({ id: job })), Code.ResourceExhausted);
      expect(err.rawMessage).toBe(
        `too many open streams: this connection has ${PER_CONNECTION} streams open, its limit (JETQ_MAX_STREAMS_PER_CONNECTION); close some before opening more`,
      );
      await open.watch(open.client(protocol, ctx.jetq.url), job).atLeast(1);
      streams[1]!.abort();
      await waitForStream(() => open.watch(shared, job));
    },
  );
});

/** Clients and streams of a test, closed after it. */
function useStreams() {
  const clients: ProtocolClient[] = [];
  const streams: StreamCollector[] = [];
  afterEach(() => {
    streams.splice(0).forEach((s) => s.abort());
    clients.splice(0).forEach((c) => c.close());
  });
  return {
    client(protocol: (typeof KEYED_PROTOCOLS)[number], url: string, key?: string) {
      const c = protocol.open(url, key);
      clients.push(c);
      return c;
    },
    watch(c: ProtocolClient, id: string) {
      const s = startCollecting((signal) => c.streamStatus({ id }, { signal }), 60_000);
      streams.push(s);
      return s;
    },
  };
}

async function queuedJob(jetq: {
  engine: {
    declareQueue(q: string): Promise<void>;
    submit(i: { queue: string; input: number; tenant: string }): Promise<{ id: string }>;
  };
}) {
  const queue = uniqueQueue("caps");
  await jetq.engine.declareQueue(queue);
  const { id } = await jetq.engine.submit({ queue, input: 1, tenant: "acme" });
  return { queue, job: id };
}

/** The first message of a stream (or its error). */
async function drainFirst(stream: AsyncIterable<unknown>): Promise<unknown> {
  for await (const m of stream) return m;
  return undefined;
}

/** A released place may take a moment to be seen free (the stream's end travels back): retry a bounded while. */
async function waitForStream(open: () => StreamCollector): Promise<StreamCollector> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const s = open();
    try {
      await s.atLeast(1);
      return s;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
