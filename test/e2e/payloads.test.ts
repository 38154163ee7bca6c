/**
 * Large payloads over the wire, on every engine, with the default limits
 * (JETQ_MAX_PAYLOAD_BYTES 16 MiB, server readMaxBytes 17 MiB): 5 MiB inputs
 * and outputs round-trip intact (on NATS through the object store, as they
 * are over max_payload); a 16 MiB input is accepted; a 20 MiB request is
 * RESOURCE_EXHAUSTED (not a crash, not a 5xx); an output over the limit ends
 * the job FAILED with OUTPUT_TOO_LARGE.
 */
import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { echo } from "../../src/handlers/echo.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import { PROTOCOLS, type ProtocolClient } from "./clients.js";
import { expectCode, json, pollToTerminal, stateName, useJetq, value } from "./harness.js";

vi.setConfig({ testTimeout: 60_000 });

const MiB = 1024 * 1024;
const CLIENTS = ["connect+json http/1.1", "connect+proto h2c", "grpc h2c"];

/** A string of n bytes that is not one repeated character, so corruption shows. */
function payload(n: number, seed: string): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const block = Array.from(
    { length: 4096 },
    (_, i) => alphabet[(i * 7 + seed.length * 13 + (i >> 6)) % alphabet.length],
  ).join("");
  return (seed + block.repeat(Math.ceil(n / block.length))).slice(0, n);
}
const digest = (s: string) => createHash("sha256").update(s).digest("hex");

for (const kind of ENGINES) {
  describe(`large payloads (${kind.name})`, () => {
    const ctx = useJetq(kind, {
      queues: {
        echo,
        // Returns a string of input.bytes bytes.
        big: { handler: (input) => payload((input as { bytes: number }).bytes, "out"), config: { maxAttempts: 3 } },
      },
    });
    let clients: { name: string; client: ProtocolClient }[] = [];
    /** Declared, served by nobody: a job accepted here just waits. */
    let quiet: string;
    beforeAll(async () => {
      clients = CLIENTS.map((name) => ({ name, client: PROTOCOLS.find((p) => p.name === name)!.open(ctx.jetq.url) }));
      quiet = uniqueQueue("quiet");
      await ctx.jetq.engine.declareQueue(quiet);
    });
    afterAll(() => {
      for (const c of clients) c.client.close();
    });

    it("a 5 MiB input and a 5 MiB output round-trip intact over Connect JSON (HTTP/1.1) and gRPC (h2c)", async () => {
      for (const { name, client } of clients.filter((c) => c.name !== "connect+proto h2c")) {
        const input = { data: payload(5 * MiB, name), note: "ünïcode ✓" };
        const job = await client.submit({ queue: "echo", input: value(input) });
        expect(stateName(job.state), name).toBe("QUEUED");
        const { last } = await pollToTerminal(client, job.id, 30_000);
        expect(stateName(last.state), `${name}: ${last.error?.message}`).toBe("COMPLETED");
        const result = await client.getResult({ id: job.id });
        const out = json(result.output) as typeof input;
        expect(out.note, name).toBe(input.note);
        expect(out.data.length, name).toBe(input.data.length);
        expect(digest(out.data), name).toBe(digest(input.data));

        const made = await client.submit({ queue: "big", input: value({ bytes: 5 * MiB }) });
        const done = await pollToTerminal(client, made.id, 30_000);
        expect(stateName(done.last.state), `${name}: ${done.last.error?.message}`).toBe("COMPLETED");
        const big = json((await client.getResult({ id: made.id })).output) as string;
        expect(big.length, name).toBe(5 * MiB);
        expect(digest(big), name).toBe(digest(payload(5 * MiB, "out")));
      }
    });

    it("a 16 MiB input (the default limit, less the JSON quotes) is accepted", async () => {
      const { client } = clients.find((c) => c.name === "connect+proto h2c")!;
      const job = await client.submit({ queue: quiet, input: value(payload(16 * MiB - 2, "sixteen")) });
      expect(job.state).toBe(JobState.QUEUED);
      expect((await client.cancel({ id: job.id })).removed).toBe(true);
    });

    it("a 20 MiB input is RESOURCE_EXHAUSTED on every client, and the server keeps serving", async () => {
      const huge = value(payload(20 * MiB, "huge"));
      const grpcWeb = PROTOCOLS.find((p) => p.name === "grpc-web http/1.1")!.open(ctx.jetq.url);
      for (const { name, client } of [...clients, { name: "grpc-web http/1.1", client: grpcWeb }]) {
        // Twice: an HTTP/1.1 client must not reuse a connection the refusal closed.
        for (let i = 0; i < 2; i++) {
          const err = await expectCode(client.submit({ queue: quiet, input: huge }), Code.ResourceExhausted);
          expect(err.rawMessage, name).toMatch(/larger than configured readMaxBytes/);
        }
      }
      grpcWeb.close();
      // A plain HTTP client sees a 4xx-class answer, never a 5xx.
      const body = JSON.stringify({ queue: quiet, input: payload(20 * MiB, "raw") });
      const res = await fetch(`${ctx.jetq.url}/jetq.v1.QueueService/Submit`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
        body,
      });
      expect(res.status).toBeLessThan(500);
      expect(res.status).toBeGreaterThanOrEqual(400);
      const answer = (await res.json()) as { code: string };
      expect(answer.code).toBe("resource_exhausted");
      const counts = await clients[0]!.client.queueCount({ queue: quiet });
      expect(counts.inQueue).toBe(0);
      const ok = await clients[0]!.client.submit({ queue: "echo", input: value("still serving") });
      expect(stateName((await pollToTerminal(clients[0]!.client, ok.id)).last.state)).toBe("COMPLETED");
    });

    it("an output over the limit ends the job FAILED with OUTPUT_TOO_LARGE, without retries", async () => {
      const { client } = clients.find((c) => c.name === "grpc h2c")!;
      const job = await client.submit({ queue: "big", input: value({ bytes: 16 * MiB + 1 }) });
      const { last } = await pollToTerminal(client, job.id, 30_000);
      expect(stateName(last.state)).toBe("FAILED");
      expect(last.attempt).toBe(1);
      expect(last.error?.code).toBe("OUTPUT_TOO_LARGE");
      expect(last.error?.message).toContain(`limit of ${16 * MiB} bytes`);
      const result = await client.getResult({ id: job.id });
      expect(result.error?.code).toBe("OUTPUT_TOO_LARGE");
      expect(result.output).toBeUndefined();
    });
  });
}
