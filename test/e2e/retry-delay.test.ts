/**
 * Retry, attempt history and delayed jobs through a real server (issue 17):
 * the generated client over Connect and over gRPC, and the README's
 * `buf curl` examples as written there, on every engine.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JobState, QueueService, type Job } from "../../gen/jetq/v1/queue_pb.js";
import { ENGINES } from "../helpers/engines.js";
import { expectCode, pollUntil, useJetq, value } from "./harness.js";

// buf curl starts a process per call; on two busy cores it takes its time.
vi.setConfig({ testTimeout: 60_000 });

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `npx buf curl --schema proto --data '<data>' <url>/jetq.v1.QueueService/<rpc>`, as the README writes it. */
async function bufCurl(baseUrl: string, rpc: string, data: unknown): Promise<Record<string, unknown>> {
  const args = ["curl", "--schema", "proto", "--data", JSON.stringify(data), `${baseUrl}/jetq.v1.QueueService/${rpc}`];
  const child = spawn(`${ROOT}node_modules/.bin/buf`, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  if (code !== 0) throw new Error(`buf curl ${rpc} exited ${code}: ${err}`);
  return JSON.parse(out) as Record<string, unknown>;
}

type QueueClient = Client<typeof QueueService>;
const state = (client: QueueClient, id: string, want: JobState) =>
  pollUntil(
    () => client.getStatus({ id }),
    (j) => j.state === want,
    { timeoutMs: 10_000, what: JobState[want] },
  );

for (const kind of ENGINES) {
  describe(`retry and delayed jobs over the API (${kind.name})`, () => {
    const ctx = useJetq(kind);
    let connect: QueueClient;
    let grpc: QueueClient;
    let session: Http2SessionManager | undefined;
    beforeAll(() => {
      connect = createClient(QueueService, createConnectTransport({ baseUrl: ctx.jetq.url, httpVersion: "1.1" }));
      session = new Http2SessionManager(ctx.jetq.url);
      grpc = createClient(QueueService, createGrpcTransport({ baseUrl: ctx.jetq.url, sessionManager: session }));
    });
    afterAll(() => session?.abort());

    for (const [name, client] of [
      ["connect", () => connect],
      ["grpc", () => grpc],
    ] as const) {
      it(`${name}: a job failing its first try, Retry, COMPLETED with both attempts readable; Retry again is FAILED_PRECONDITION`, async () => {
        const c = client();
        const job = await c.submit({ queue: "echo", input: value({ fail_attempts: 1 }) });
        await state(c, job.id, JobState.FAILED);
        const retried = await c.retry({ id: job.id });
        expect(retried.id).toBe(job.id);
        const done = await state(c, job.id, JobState.COMPLETED);
        expect(done.attempt).toBe(2);
        const read = await c.getStatus({ id: job.id, includeAttempts: true });
        expect(read.attempts.map((a) => [a.attempt, JobState[a.outcome]])).toEqual([
          [1, "FAILED"],
          [2, "COMPLETED"],
        ]);
        expect(read.attempts[0]!.error?.message).toContain("fail_attempts=1");
        expect(read.attempts[0]!.startedAt).toBeDefined();
        expect(read.attempts[0]!.finishedAt).toBeDefined();
        const again = await expectCode(c.retry({ id: job.id }), Code.FailedPrecondition);
        expect(again.rawMessage).toContain("is COMPLETED");
        await expectCode(c.retry({ id: "nope" }), Code.InvalidArgument);
      });

      it(`${name}: delay and run_at: QUEUED with scheduled_at, no position, runs after its time; bad ones name the field`, async () => {
        const c = client();
        const job = await c.submit({ queue: "echo", input: value(1), options: { delay: { seconds: 1n, nanos: 0 } } });
        expect(job.state).toBe(JobState.QUEUED);
        expect(job.queuePosition).toBeUndefined();
        const scheduledAt = timestampMs(job.scheduledAt!);
        expect(scheduledAt).toBeGreaterThanOrEqual(timestampMs(job.createdAt!) + 990);
        const done: Job = await state(c, job.id, JobState.COMPLETED);
        expect(timestampMs(done.startedAt!)).toBeGreaterThanOrEqual(scheduledAt);

        // One stream from Submit to the end: the first message carries scheduled_at.
        const streamed: Job[] = [];
        for await (const m of c.submitAndStream({
          queue: "echo",
          input: value("streamed"),
          options: { delay: { seconds: 0n, nanos: 300_000_000 } },
        })) {
          streamed.push(m);
        }
        expect(streamed[0]!.scheduledAt).toBeDefined();
        expect(streamed.at(-1)!.state).toBe(JobState.COMPLETED);

        const both = await expectCode(
          c.submit({
            queue: "echo",
            input: value(1),
            options: { delay: { seconds: 1n, nanos: 0 }, runAt: { seconds: 2_000_000_000n, nanos: 0 } },
          }),
          Code.InvalidArgument,
        );
        expect(both.rawMessage).toBe("options.run_at and options.delay: set at most one of them");
        const zero = await expectCode(
          c.submit({ queue: "echo", input: value(1), options: { delay: { seconds: 0n, nanos: 0 } } }),
          Code.InvalidArgument,
        );
        expect(zero.rawMessage).toMatch(/^options\.delay: 0 ms must be greater than zero/);
        const far = await expectCode(
          c.submit({ queue: "echo", input: value(1), options: { runAt: { seconds: 9_000_000_000n, nanos: 0 } } }),
          Code.InvalidArgument,
        );
        expect(far.rawMessage).toMatch(/^options\.run_at: .* more than a year ahead/);
      });
    }

    it("the README's buf curl examples: Retry, GetStatus with includeAttempts and includeInput, Submit with a delay", async () => {
      const url = ctx.jetq.url;
      const submitted = await bufCurl(url, "Submit", { queue: "echo", input: { fail_attempts: 1 } });
      const id = submitted.id as string;
      await state(connect, id, JobState.FAILED);
      const retried = await bufCurl(url, "Retry", { id });
      expect(retried).toMatchObject({ id, state: "JOB_STATE_QUEUED" });
      await state(connect, id, JobState.COMPLETED);
      const read = await bufCurl(url, "GetStatus", { id, includeAttempts: true });
      expect((read.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual([
        "JOB_STATE_FAILED",
        "JOB_STATE_COMPLETED",
      ]);
      const withInput = await bufCurl(url, "GetStatus", { id, includeInput: true });
      expect(withInput.input).toEqual({ fail_attempts: 1 });
      const delayed = await bufCurl(url, "Submit", {
        queue: "echo",
        input: { hello: "later" },
        options: { delay: "2s" },
      });
      expect(delayed.state).toBe("JOB_STATE_QUEUED");
      expect(typeof delayed.scheduledAt).toBe("string");
      expect(delayed.queuePosition).toBeUndefined();
      await state(connect, delayed.id as string, JobState.COMPLETED);
    });
  });
}
