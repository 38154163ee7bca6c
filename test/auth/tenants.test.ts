/**
 * Tenant isolation over the wire, on every engine: another tenant's job is
 * NOT_FOUND for GetStatus, StreamStatus, GetResult and Cancel, worded exactly
 * like an id that never existed, and nothing about it changes. Idempotency
 * keys belong to a tenant. Admin keys read every tenant's jobs.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { formatJobId, newToken, parseJobId } from "../../src/engine/job-id.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { drain, expectCode, pollToTerminal, stateName, value } from "../e2e/harness.js";
import { keyed } from "./clients.js";
import { useAuthJetq } from "./harness.js";

const KEYS = {
  a: "tenant-a-key-0000000000000001",
  b: "tenant-b-key-0000000000000002",
  admin: "admin-key-000000000000000003",
};

/** The message with the id taken out, to compare the shape of two messages. */
const shape = (message: string, id: string) => message.split(id).join("<id>");

for (const kind of ENGINES) {
  describe(`tenants (${kind.name})`, () => {
    const ctx = useAuthJetq(
      {
        apiKeys: [
          { key: KEYS.a, tenant: "tenant-a" },
          { key: KEYS.b, tenant: "tenant-b" },
          { key: KEYS.admin, tenant: "ops", role: "admin" },
        ],
      },
      kind,
    );
    // Connect over h2 for most calls; gRPC (grpc-js) for the NOT_FOUND shape too.
    let a: ProtocolClient, b: ProtocolClient, bGrpc: ProtocolClient, admin: ProtocolClient;
    let quiet: string;
    beforeAll(async () => {
      const connect = keyed("connect+proto h2c");
      a = connect.open(ctx.jetq.url, KEYS.a);
      b = connect.open(ctx.jetq.url, KEYS.b);
      admin = connect.open(ctx.jetq.url, KEYS.admin);
      bGrpc = keyed("@grpc/grpc-js").open(ctx.jetq.url, KEYS.b);
      quiet = uniqueQueue("quiet");
      await ctx.jetq.engine.declareQueue(quiet);
    });
    afterAll(() => [a, b, bGrpc, admin].forEach((c) => c?.close()));

    it("B cannot see, stream, fetch or cancel A's jobs: NOT_FOUND worded like a random id", async () => {
      const queued = await a.submit({ queue: quiet, input: value({ secret: "a" }) });
      const done = await a.submit({ queue: "echo", input: value({ secret: "a" }) });
      expect(stateName((await pollToTerminal(a, done.id)).last.state)).toBe("COMPLETED");

      for (const job of [queued, done]) {
        const { queue, seq } = parseJobId(job.id);
        const unknown = formatJobId({ queue, seq: seq + 100_000, token: newToken() });
        for (const client of [b, bGrpc]) {
          const reads: [string, (id: string) => Promise<unknown>][] = [
            ["GetStatus", (id) => client.getStatus({ id })],
            ["StreamStatus", (id) => drain(client.streamStatus({ id }))],
            ["GetResult", (id) => client.getResult({ id })],
            ["Cancel", (id) => client.cancel({ id })],
          ];
          for (const [name, read] of reads) {
            const foreign = await expectCode(read(job.id), Code.NotFound);
            const missing = await expectCode(read(unknown), Code.NotFound);
            expect(shape(foreign.rawMessage, job.id), name).toBe(shape(missing.rawMessage, unknown));
            expect(foreign.rawMessage).not.toMatch(/tenant|secret/i);
          }
        }
      }
      // B's cancel changed nothing: A's queued job is still queued, A's done job still has its output.
      expect((await a.getStatus({ id: queued.id })).state).toBe(JobState.QUEUED);
      expect((await a.getResult({ id: done.id })).state).toBe(JobState.COMPLETED);
      const cancelled = await a.cancel({ id: queued.id });
      expect(cancelled.removed).toBe(true);
    });

    it("admin keys read and cancel every tenant's jobs", async () => {
      const job = await a.submit({ queue: quiet, input: value(1) });
      expect((await admin.getStatus({ id: job.id })).state).toBe(JobState.QUEUED);
      expect((await admin.cancel({ id: job.id })).removed).toBe(true);
      await expectCode(b.getStatus({ id: job.id }), Code.NotFound);
    });

    it("idempotency keys are per tenant", async () => {
      const key = `order-${newToken()}`;
      const a1 = await a.submit({ queue: quiet, input: value({ n: 1 }), idempotencyKey: key });
      const b1 = await b.submit({ queue: quiet, input: value({ n: 2 }), idempotencyKey: key });
      expect(b1.id).not.toBe(a1.id);
      const a2 = await a.submit({ queue: quiet, input: value({ n: 3 }), idempotencyKey: key });
      const b2 = await b.submit({ queue: quiet, input: value({ n: 4 }), idempotencyKey: key });
      expect(a2.id).toBe(a1.id);
      expect(b2.id).toBe(b1.id);
      const count = await a.queueCount({ queue: quiet });
      expect(count.inQueue).toBe(2);
      await a.cancel({ id: a1.id });
      await b.cancel({ id: b1.id });
    });

    it("each tenant follows its own job through to the result", async () => {
      const job = await b.submit({ queue: "echo", input: value({ mine: "b" }) });
      const stream = await drain(b.streamStatus({ id: job.id }));
      expect(stateName(stream.at(-1)!.state)).toBe("COMPLETED");
      const result = await b.getResult({ id: job.id });
      expect(result.output?.kind.case).toBe("structValue");
      await expectCode(a.getResult({ id: job.id }), Code.NotFound);
    });
  });
}
