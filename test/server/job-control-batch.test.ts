/**
 * SubmitBatch, WatchJobs, PauseQueue and ResumeQueue over a real server,
 * with the generated client over Connect and gRPC: per-item checks (the
 * service's: key length, the key's queues, the queue's input validator;
 * the engine's: options, queue names), roles and tenants, the stream caps
 * counting WatchJobs, and the README's `buf curl` examples.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { JobState, QueueService, type Job } from "../../gen/jetq/v1/queue_pb.js";
import { value } from "../e2e/harness.js";
import { useAuthJetq } from "../auth/harness.js";
import { waitFor } from "../conformance/harness.js";

const ADMIN = "admin-key-0123456789abcdef-batch";
const SUB = "submitter-key-0123456789abcdef-b";
const READER = "reader-key-0123456789abcdef-batc";
const OTHER = "other-tenant-key-0123456789abcde";
const HELD = "held";

const ctx = useAuthJetq({
  apiKeys: [
    { key: ADMIN, tenant: "ops", role: "admin" },
    { key: SUB, tenant: "acme", queues: ["echo", HELD] },
    { key: READER, tenant: "acme", role: "reader" },
    { key: OTHER, tenant: "globex", queues: ["echo", HELD] },
  ],
  streamCaps: { perKey: 2 },
  inputValidators: new Map([
    [
      "echo",
      (input: JsonValue) => {
        if (typeof input === "object" && input !== null && !Array.isArray(input) && input.bad === true) {
          throw new ConnectError("input.bad: must not be true", Code.InvalidArgument);
        }
      },
    ],
  ]),
});
beforeAll(async () => {
  await ctx.jetq.engine.declareQueue(HELD);
});

const bearer =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };

const TRANSPORTS = [
  [
    "connect",
    (url: string, key: string) =>
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [bearer(key)] }),
  ],
  ["grpc", (url: string, key: string) => createGrpcTransport({ baseUrl: url, interceptors: [bearer(key)] })],
] as const;

async function codeOf(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("expected the call to fail");
  return { code: Code[err.code], message: err.rawMessage };
}

async function firstOf(stream: AsyncIterable<Job>): Promise<Job[]> {
  const got: Job[] = [];
  for await (const job of stream) got.push(job);
  return got;
}

describe.each(TRANSPORTS)("over %s", (name, transport) => {
  const as = (key: string): Client<typeof QueueService> => createClient(QueueService, transport(ctx.jetq.url, key));

  test("SubmitBatch of 1,000: bad items fail alone with their index and field, a repeat returns the same ids", async () => {
    const bad: Record<number, { code: string; message: RegExp }> = {
      1: { code: "invalid_argument", message: /^jobs\[1\]\.options\.max_attempts: / },
      2: { code: "invalid_argument", message: /^jobs\[2\]\.idempotency_key: 300 characters/ },
      3: { code: "invalid_argument", message: /^jobs\[3\]\.queue: "Bad!" is not a valid queue name/ },
      4: { code: "permission_denied", message: /^jobs\[4\]: queue "billing": this API key may not use it/ },
      5: { code: "invalid_argument", message: /^jobs\[5\]\.input\.bad: must not be true/ },
    };
    const jobs = Array.from({ length: 1_000 }, (_, i) => ({
      queue: i === 3 ? "Bad!" : i === 4 ? "billing" : "echo",
      input: value(i === 5 ? { bad: true } : { i }),
      idempotencyKey: i === 2 ? "k".repeat(300) : `${name}-batch-${i}`,
      ...(i === 1 ? { options: { maxAttempts: 0 } } : {}),
    }));
    const { results } = await as(SUB).submitBatch({ jobs });
    expect(results).toHaveLength(1_000);
    const errors = results.flatMap((r, i) => (r.outcome.case === "error" ? [[i, r.outcome.value] as const] : []));
    expect(errors.map(([i]) => i)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, e] of errors) {
      expect(e.index).toBe(i);
      expect(e.code).toBe(bad[i]!.code);
      expect(e.message).toMatch(bad[i]!.message);
    }
    const ids = results.flatMap((r) => (r.outcome.case === "job" ? [r.outcome.value.id] : []));
    expect(new Set(ids).size).toBe(995);
    const again = await as(SUB).submitBatch({ jobs });
    expect(again.results.flatMap((r) => (r.outcome.case === "job" ? [r.outcome.value.id] : []))).toEqual(ids);
  }, 30_000);

  test("an empty batch and one of 1,001 are INVALID_ARGUMENT naming jobs; a reader may not submit", async () => {
    expect(await codeOf(as(SUB).submitBatch({ jobs: [] }))).toMatchObject({
      code: "InvalidArgument",
      message: expect.stringMatching(/^jobs: /),
    });
    const many = Array.from({ length: 1_001 }, () => ({ queue: "echo", input: value(1) }));
    expect(await codeOf(as(SUB).submitBatch({ jobs: many }))).toMatchObject({
      code: "InvalidArgument",
      message: expect.stringMatching(/^jobs: 1001 jobs/),
    });
    expect((await codeOf(as(READER).submitBatch({ jobs: many.slice(0, 1) }))).code).toBe("PermissionDenied");
  });

  test("the inputs of a batch count together against JETQ_MAX_INPUT_VALUES (100,000), before decoding", async () => {
    const jobs = Array.from({ length: 1_000 }, () => ({ queue: "echo", input: value(Array(101).fill(1)) }));
    expect(await codeOf(as(SUB).submitBatch({ jobs }))).toMatchObject({
      code: "ResourceExhausted",
      message: expect.stringMatching(/more than 100000 JSON values/),
    });
    const fine = await as(SUB).submitBatch({ jobs: jobs.slice(0, 900) });
    expect(fine.results.every((r) => r.outcome.case === "job")).toBe(true);
  }, 30_000);

  test("WatchJobs: a reader follows its tenant's ids to the end; other tenants' ids are NOT_FOUND; bad requests name the field", async () => {
    const { results } = await as(SUB).submitBatch({
      jobs: [1, 2, 3].map((i) => ({ queue: "echo", input: value({ i, sleep_ms: 50 }) })),
    });
    const ids = results.map((r) => (r.outcome.case === "job" ? r.outcome.value.id : ""));
    const seen = await firstOf(as(READER).watchJobs({ ids }));
    for (const id of ids) {
      const states = seen.filter((j) => j.id === id).map((j) => j.state);
      expect(states.at(-1)).toBe(JobState.COMPLETED);
      expect(states.filter((s) => s === JobState.COMPLETED)).toHaveLength(1);
    }
    const theirs = await as(OTHER).submit({ queue: HELD, input: value(1) });
    expect(await codeOf(firstOf(as(READER).watchJobs({ ids: [ids[0]!, theirs.id] })))).toMatchObject({
      code: "NotFound",
      message: expect.stringMatching(/^ids\[1\]: job ".*" not found$/),
    });
    expect((await codeOf(firstOf(as(READER).watchJobs({ ids: ["nope"] })))).message).toMatch(/^ids\[0\]: "nope"/);
    expect((await codeOf(firstOf(as(READER).watchJobs({ ids, queue: "echo" })))).message).toMatch(/^ids, queue: /);
    expect((await codeOf(firstOf(as(READER).watchJobs({})))).code).toBe("InvalidArgument");
    const tooMany = Array.from({ length: 1_001 }, () => ids[0]!);
    expect((await codeOf(firstOf(as(READER).watchJobs({ ids: tooMany })))).message).toMatch(/^ids: 1001 ids/);
  });

  test("PauseQueue / ResumeQueue: submitters of the queue and admins; QueueCount shows paused", async () => {
    expect((await codeOf(as(READER).pauseQueue({ queue: HELD }))).code).toBe("PermissionDenied");
    expect((await codeOf(as(SUB).pauseQueue({ queue: "billing" }))).code).toBe("PermissionDenied");
    expect((await codeOf(as(ADMIN).pauseQueue({ queue: "nobody" }))).code).toBe("NotFound");
    expect((await codeOf(as(SUB).pauseQueue({ queue: "Bad!" }))).message).toMatch(/^queue: /);
    expect(await as(SUB).pauseQueue({ queue: HELD })).toMatchObject({ name: HELD, paused: true });
    expect(await as(READER).queueCount({ queue: HELD })).toMatchObject({ paused: true });
    expect(await as(ADMIN).resumeQueue({ queue: HELD })).toMatchObject({ name: HELD, paused: false });
    expect(await as(READER).queueCount({ queue: HELD })).toMatchObject({ paused: false });
  });
});

test("open WatchJobs streams count in the stream caps of the key", async () => {
  const client = createClient(QueueService, TRANSPORTS[0][1](ctx.jetq.url, SUB));
  const stop = new AbortController();
  const open = [0, 1].map(() => firstOf(client.watchJobs({ queue: HELD }, { signal: stop.signal })).catch(() => []));
  await waitFor(async () => (await codeOf(firstOf(client.watchJobs({ queue: HELD })))).code === "ResourceExhausted", {
    what: "a third stream to be refused",
  });
  stop.abort();
  await Promise.all(open);
});

describe("the README's buf curl examples", () => {
  const run = promisify(execFile);
  const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
  const PROTO = fileURLToPath(new URL("../../proto", import.meta.url));
  const bufCurl = async (method: string, data: string) => {
    const { stdout } = await run(
      BUF,
      [
        "curl",
        "--schema",
        PROTO,
        "-H",
        `Authorization: Bearer ${ADMIN}`,
        "--data",
        data,
        `${ctx.jetq.url}/jetq.v1.QueueService/${method}`,
      ],
      { timeout: 30_000 },
    );
    return stdout;
  };
  let ids: string[] = [];
  afterAll(() => ctx.jetq.engine.resumeQueue(HELD));

  test("SubmitBatch, then WatchJobs of its ids until all are done", async () => {
    const out = JSON.parse(
      await bufCurl(
        "SubmitBatch",
        '{"jobs":[{"queue":"echo","input":{"n":1}},{"queue":"echo","input":{"n":2}},{"queue":"nope!"}]}',
      ),
    ) as { results: { job?: { id: string }; error?: { index?: number; code: string; message: string } }[] };
    expect(out.results[2]!.error).toMatchObject({ index: 2, code: "invalid_argument" });
    ids = out.results.flatMap((r) => (r.job ? [r.job.id] : []));
    expect(ids).toHaveLength(2);
    const stream = await bufCurl("WatchJobs", JSON.stringify({ ids }));
    // buf curl prints one JSON object per message.
    expect(stream.match(/"JOB_STATE_COMPLETED"/g)).toHaveLength(2);
  });

  test("PauseQueue, QueueCount, ResumeQueue", async () => {
    expect(JSON.parse(await bufCurl("PauseQueue", `{"queue":"${HELD}"}`))).toMatchObject({ name: HELD, paused: true });
    expect(JSON.parse(await bufCurl("QueueCount", `{"queue":"${HELD}"}`))).toMatchObject({ paused: true });
    expect(JSON.parse(await bufCurl("ResumeQueue", `{"queue":"${HELD}"}`))).toMatchObject({ name: HELD });
  });
});
