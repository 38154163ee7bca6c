/**
 * Roles and allowed queues: a reader key only reads; a key limited to some
 * queues submits to, counts and reads jobs of those only. Bad input is still
 * INVALID_ARGUMENT (validation comes before permissions).
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { uniqueQueue } from "../helpers/engines.js";
import type { ProtocolClient } from "../e2e/clients.js";
import { drain, expectCode, pollToTerminal, value } from "../e2e/harness.js";
import { KEYED_PROTOCOLS, keyed } from "./clients.js";
import { useAuthJetq } from "./harness.js";

const KEYS = { full: "full-key-000000000001", reader: "reader-key-00000000002", echoOnly: "echo-only-key-0000003" };
const ctx = useAuthJetq({
  apiKeys: [
    { key: KEYS.full, tenant: "acme" },
    { key: KEYS.reader, tenant: "acme", role: "reader", name: "dashboard" },
    { key: KEYS.echoOnly, tenant: "acme", queues: ["echo"] },
  ],
});

describe("permissions", () => {
  let other: string;
  const clients: ProtocolClient[] = [];
  const open = (key: string, protocol = "connect+json http/1.1") => {
    const c = keyed(protocol).open(ctx.jetq.url, key);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    other = uniqueQueue("other");
    await ctx.jetq.engine.declareQueue(other);
  });
  afterAll(() => clients.forEach((c) => c.close()));

  it("a key limited to echo reusing the idempotency key of its tenant's job in another queue learns nothing of that job", async () => {
    const full = open(KEYS.full);
    const hidden = await full.submit({ queue: other, input: value({ secret: 1 }), idempotencyKey: "shared-idem" });
    const limited = open(KEYS.echoOnly, "connect+proto h2c");
    const own = await limited.submit({ queue: "echo", input: value({ mine: 1 }), idempotencyKey: "shared-idem" });
    expect(own.id).not.toBe(hidden.id);
    expect(own.queue).toBe("echo");
    const streamed = await drain(
      limited.submitAndStream({ queue: "echo", input: value({ mine: 2 }), idempotencyKey: "shared-idem" }),
    );
    expect(new Set(streamed.map((j) => j.id))).toEqual(new Set([own.id]));
    // The other queue's job is untouched and still its own.
    expect((await full.getStatus({ id: hidden.id })).state).toBe(JobState.QUEUED);
    await expectCode(limited.getStatus({ id: hidden.id }), Code.PermissionDenied);
    await full.cancel({ id: hidden.id });
  });

  it("a reader key gets PERMISSION_DENIED on Submit and Cancel, on every protocol, and reads the tenant's jobs", async () => {
    const full = open(KEYS.full);
    const job = await full.submit({ queue: "echo", input: value({ r: 1 }) });
    await pollToTerminal(full, job.id);
    const queued = await full.submit({ queue: other, input: value(1) });
    for (const protocol of KEYED_PROTOCOLS) {
      const reader = open(KEYS.reader, protocol.name);
      const s = await expectCode(reader.submit({ queue: "echo", input: value(1) }), Code.PermissionDenied);
      expect(s.rawMessage, protocol.name).toContain("Submit");
      expect(s.rawMessage).toContain("reader");
      const ss = await expectCode(
        drain(reader.submitAndStream({ queue: "echo", input: value(1) })),
        Code.PermissionDenied,
      );
      expect(ss.rawMessage).toContain("SubmitAndStream");
      const c = await expectCode(reader.cancel({ id: queued.id }), Code.PermissionDenied);
      expect(c.rawMessage).toContain("Cancel");
      expect((await reader.getStatus({ id: job.id })).state).toBe(JobState.COMPLETED);
      expect((await reader.getResult({ id: job.id })).state).toBe(JobState.COMPLETED);
      expect((await drain(reader.streamStatus({ id: job.id }))).at(-1)?.state).toBe(JobState.COMPLETED);
      expect((await reader.queueCount({ queue: other })).inQueue).toBe(1);
    }
    expect((await full.getStatus({ id: queued.id })).state).toBe(JobState.QUEUED);
    await full.cancel({ id: queued.id });
  });

  it("a key limited to some queues: PERMISSION_DENIED naming any other queue", async () => {
    const limited = open(KEYS.echoOnly);
    const full = open(KEYS.full);
    const ok = await limited.submit({ queue: "echo", input: value({ q: "echo" }) });
    expect((await pollToTerminal(limited, ok.id)).last.state).toBe(JobState.COMPLETED);
    await limited.queueCount({ queue: "echo" });

    const denied = await expectCode(limited.submit({ queue: other, input: value(1) }), Code.PermissionDenied);
    expect(denied.rawMessage).toContain(`queue "${other}"`);
    const deniedStream = await expectCode(
      drain(limited.submitAndStream({ queue: other, input: value(1) })),
      Code.PermissionDenied,
    );
    expect(deniedStream.rawMessage).toContain(`queue "${other}"`);
    expect(denied.rawMessage).toContain('"echo"');
    const count = await expectCode(limited.queueCount({ queue: other }), Code.PermissionDenied);
    expect(count.rawMessage).toContain(other);
    // A queue that does not exist is denied the same way: no probing of queue names.
    const ghost = uniqueQueue("ghost");
    expect((await expectCode(limited.queueCount({ queue: ghost }), Code.PermissionDenied)).rawMessage).toContain(ghost);

    // Jobs of other queues, even of its own tenant, are out of reach too.
    const theirs = await full.submit({ queue: other, input: value(1) });
    await expectCode(limited.getStatus({ id: theirs.id }), Code.PermissionDenied);
    await expectCode(limited.cancel({ id: theirs.id }), Code.PermissionDenied);
    await expectCode(drain(limited.streamStatus({ id: theirs.id })), Code.PermissionDenied);
    await expectCode(limited.getResult({ id: theirs.id }), Code.PermissionDenied);
    expect((await full.getStatus({ id: theirs.id })).state).toBe(JobState.QUEUED);
    await full.cancel({ id: theirs.id });
  });

  it("bad input is INVALID_ARGUMENT naming the field, before any permission check", async () => {
    const limited = open(KEYS.echoOnly);
    const reader = open(KEYS.reader);
    const q = await expectCode(limited.submit({ queue: "Bad.Queue", input: value(1) }), Code.InvalidArgument);
    expect(q.rawMessage).toMatch(/^queue: "Bad.Queue"/);
    const id = await expectCode(reader.getStatus({ id: "nope" }), Code.InvalidArgument);
    expect(id.rawMessage).toMatch(/^id: "nope"/);
    const k = await expectCode(
      limited.submit({ queue: "echo", input: value(1), idempotencyKey: "k".repeat(257) }),
      Code.InvalidArgument,
    );
    expect(k.rawMessage).toMatch(/^idempotency_key: 257 characters/);
    const o = await expectCode(
      limited.submit({ queue: "echo", input: value(1), options: { maxAttempts: 0 } }),
      Code.InvalidArgument,
    );
    expect(o.rawMessage).toMatch(/^options.max_attempts/);
  });
});
