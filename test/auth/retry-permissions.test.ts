/**
 * Retry follows the key roles (issue 17): a reader key gets
 * PERMISSION_DENIED; a submitter (or admin) key retries its tenant's
 * failed jobs; another tenant's job is NOT_FOUND, as for a made-up id; a
 * key limited to some queues may not retry a job of another queue.
 */
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { uniqueQueue } from "../helpers/engines.js";
import { expectCode, pollUntil, value } from "../e2e/harness.js";
import { useAuthJetq } from "./harness.js";

const KEYS = {
  acme: "acme-submitter-000001",
  reader: "acme-reader-00000002",
  globex: "globex-submitter-003",
  echoOnly: "acme-echo-only-00004",
};
const ctx = useAuthJetq({
  apiKeys: [
    { key: KEYS.acme, tenant: "acme" },
    { key: KEYS.reader, tenant: "acme", role: "reader" },
    { key: KEYS.globex, tenant: "globex" },
    { key: KEYS.echoOnly, tenant: "acme", queues: ["echo"] },
  ],
});

const bearer =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
const client = (key: string) =>
  createClient(
    QueueService,
    createConnectTransport({ baseUrl: ctx.jetq.url, httpVersion: "1.1", interceptors: [bearer(key)] }),
  );

describe("Retry permissions", () => {
  it("reader: PERMISSION_DENIED; other tenant: NOT_FOUND; other queue: PERMISSION_DENIED; the owner retries", async () => {
    const acme = client(KEYS.acme);
    const job = await acme.submit({ queue: "echo", input: value({ fail: "no" }) });
    await pollUntil(
      () => acme.getStatus({ id: job.id }),
      (j) => j.state === JobState.FAILED,
      { what: "FAILED" },
    );

    const denied = await expectCode(client(KEYS.reader).retry({ id: job.id }), Code.PermissionDenied);
    expect(denied.rawMessage).toContain("Retry");
    expect(denied.rawMessage).toContain("reader");
    const hidden = await expectCode(client(KEYS.globex).retry({ id: job.id }), Code.NotFound);
    expect(hidden.rawMessage).toContain(job.id);

    const other = uniqueQueue("other");
    await ctx.jetq.engine.declareQueue(other);
    const theirs = await acme.submit({ queue: other, input: value(1) });
    await acme.cancel({ id: theirs.id });
    await expectCode(client(KEYS.echoOnly).retry({ id: theirs.id }), Code.PermissionDenied);

    expect((await acme.getStatus({ id: job.id })).state).toBe(JobState.FAILED);
    const retried = await acme.retry({ id: job.id });
    expect(retried.state).not.toBe(JobState.FAILED);
    expect((await acme.retry({ id: theirs.id })).state).toBe(JobState.QUEUED);
    await acme.cancel({ id: theirs.id });
  });
});
