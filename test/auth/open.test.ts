/**
 * Without keys the server is open (any or no Authorization header works, jobs
 * belong to tenant "" and everyone sees them); startTestServer takes keys too.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { startTestServer, type TestServer } from "../../src/testing.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { expectCode, pollToTerminal, value } from "../e2e/harness.js";
import { keyed } from "./clients.js";

describe("open server and startTestServer", () => {
  const servers: TestServer[] = [];
  const clients: ProtocolClient[] = [];
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(servers.map((s) => s.close()));
  });

  it("without keys: no header or any header works, and every caller sees every job", async () => {
    const server = await startTestServer();
    servers.push(server);
    const anon = keyed("connect+json http/1.1").open(server.url);
    const someone = keyed("grpc h2c").open(server.url, "whatever");
    clients.push(anon, someone);
    const job = await anon.submit({ queue: "echo", input: value({ open: true }) });
    expect((await pollToTerminal(someone, job.id)).last.state).toBe(JobState.COMPLETED);
    expect((await someone.getResult({ id: job.id })).state).toBe(JobState.COMPLETED);
    // Idempotency keys are shared by all callers of an open server (one tenant, "").
    const a = await anon.submit({ queue: "echo", input: value(1), idempotencyKey: "same" });
    const b = await someone.submit({ queue: "echo", input: value(2), idempotencyKey: "same" });
    expect(b.id).toBe(a.id);
  });

  it("startTestServer({ apiKeys }) requires them", async () => {
    const server = await startTestServer({ apiKeys: [{ key: "test-key", tenant: "me" }] });
    servers.push(server);
    const none = keyed("connect+proto h2c").open(server.url);
    const mine = keyed("connect+proto h2c").open(server.url, "test-key");
    clients.push(none, mine);
    await expectCode(none.queueCount({ queue: "echo" }), Code.Unauthenticated);
    const job = await mine.submit({ queue: "echo", input: value(1) });
    expect((await pollToTerminal(mine, job.id)).last.state).toBe(JobState.COMPLETED);
  });
});
