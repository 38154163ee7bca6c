/**
 * Signed webhooks on both engines: one accepted delivery per terminal job
 * (COMPLETED, FAILED, CANCELLED, EXPIRED) with the job's JSON, retries after
 * failures with their lines in the job's log, the queue's default URL, and
 * what Submit and the sender refuse. An API engine and a worker engine each
 * run webhooks, as two processes would (one engine when embedded).
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Engine } from "../../src/engine/types.js";
import { echo } from "../../src/handlers/echo.js";
import { startServer, type RunningServer } from "../../src/server/server.js";
import { DEFAULT_WEBHOOK_POLICY, parseWebhookSecret, startWebhooks, type Webhooks } from "../../src/webhooks/index.js";
import { webhookSubmitCheck } from "../../src/webhooks/submit-check.js";
import { createWorker, PermanentError, type Worker } from "../../src/worker/index.js";
import { waitFor } from "../conformance/harness.js";
import { ENGINES, uniqueQueue, type EngineBackend } from "../helpers/engines.js";
import { startReceiver, type Receiver } from "./receiver.js";
import { verifyStandardWebhook } from "./verify.js";

const SECRET = `whsec_${Buffer.from("jetq webhook test key, 32 bytes!").toString("base64")}`;
const WRONG = `whsec_${Buffer.from("another key of thirty-two bytes!").toString("base64")}`;

interface JobJson {
  id: string;
  state: string;
  attempt?: number;
  output?: unknown;
  error?: { code: string; message: string };
  finishedAt?: string;
}

async function rpc<T>(url: string, method: string, body: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

for (const kind of ENGINES) {
  describe(`webhooks (${kind.name})`, () => {
    let backend: EngineBackend;
    let api: Engine;
    let workerEngine: Engine;
    let server: RunningServer;
    let worker: Worker;
    let receiver: Receiver;
    const hooks: Webhooks[] = [];
    const failing = uniqueQueue("wh-fail");
    const defaulted = uniqueQueue("wh-default");

    beforeAll(async () => {
      receiver = await startReceiver();
      backend = await kind.start();
      api = await backend.open();
      workerEngine = await backend.open();
      server = await startServer({ engine: api, port: 0, webhookCheck: webhookSubmitCheck(true, ["127.0.0.1"]) });
      worker = createWorker({
        engine: workerEngine,
        queues: {
          echo,
          [failing]: async () => {
            throw new PermanentError("no luck", "NO_LUCK");
          },
          [defaulted]: { handler: echo, config: { webhookUrl: `${receiver.url}/queue-default` } },
        },
      });
      await worker.start();
      const policy = { ...DEFAULT_WEBHOOK_POLICY, retryBaseMs: 50 };
      for (const engine of new Set([api, workerEngine])) {
        hooks.push(startWebhooks({ engine, key: parseWebhookSecret(SECRET), allowedHosts: ["127.0.0.1"], policy }));
      }
    });

    afterAll(async () => {
      await worker?.stop({ graceMs: 0 });
      await Promise.all(hooks.map((h) => h.stop()));
      await server?.close();
      await backend?.stop();
      await receiver?.close();
    });

    const submit = async (queue: string, input: unknown, options: Record<string, unknown> = {}) => {
      const { status, json } = await rpc<JobJson & { message?: string; code?: string }>(server.url, "Submit", {
        queue,
        input,
        options,
      });
      if (status !== 200) throw new Error(`Submit: ${status} ${JSON.stringify(json)}`);
      return json.id;
    };

    /** The one accepted delivery of the job, checked: signed, and its body the job's JSON. */
    const deliveredJob = async (id: string, timeoutMs = 10_000): Promise<JobJson> => {
      const [accepted] = await waitFor(
        () => (receiver.acceptedFor(id).length > 0 ? receiver.acceptedFor(id) : undefined),
        {
          timeoutMs,
          what: `the webhook of ${id}`,
        },
      );
      expect(verifyStandardWebhook(SECRET, accepted!.headers, accepted!.body)).toBe(true);
      expect(verifyStandardWebhook(WRONG, accepted!.headers, accepted!.body)).toBe(false);
      expect(accepted!.headers["content-type"]).toBe("application/json");
      return JSON.parse(accepted!.body) as JobJson;
    };

    test("COMPLETED: one delivery with the job's JSON and its output, to the job's URL", async () => {
      const id = await submit("echo", { hello: "hook" }, { webhookUrl: `${receiver.url}/done` });
      const job = await deliveredJob(id);
      expect(job).toMatchObject({ id, state: "JOB_STATE_COMPLETED", attempt: 1, output: { hello: "hook" } });
      expect(typeof job.finishedAt).toBe("string");
      expect(receiver.acceptedFor(id).map((r) => r.path)).toEqual(["/done"]);
      expect(receiver.acceptedFor(id)[0]!.headers["webhook-id"]).toBe(`msg_${id}_completed`);
    });

    test("FAILED: the job's error, no output", async () => {
      const id = await submit(failing, 1, { webhookUrl: `${receiver.url}/failed` });
      const job = await deliveredJob(id);
      expect(job).toMatchObject({ id, state: "JOB_STATE_FAILED", error: { code: "NO_LUCK", message: "no luck" } });
      expect(job.output).toBeUndefined();
    });

    test("CANCELLED by the API: delivered with the cancelled job's own URL", async () => {
      const idle = uniqueQueue("wh-idle");
      await api.declareQueue(idle);
      const id = await submit(idle, 1, { webhookUrl: `${receiver.url}/cancelled` });
      expect((await rpc(server.url, "Cancel", { id })).status).toBe(200);
      const job = await deliveredJob(id);
      expect(job).toMatchObject({ id, state: "JOB_STATE_CANCELLED", error: { code: "CANCELLED" } });
      expect(receiver.acceptedFor(id).map((r) => r.path)).toEqual(["/cancelled"]);
    });

    test("a running job cancelled: its URL is found too", async () => {
      const slow = uniqueQueue("wh-slow");
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const w = createWorker({
        engine: workerEngine,
        queues: {
          [slow]: async (_input, ctx) => {
            started();
            await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
            return null;
          },
        },
      });
      await w.start();
      try {
        const id = await submit(slow, 1, { webhookUrl: `${receiver.url}/cancelled-running` });
        await running;
        expect((await rpc(server.url, "Cancel", { id })).status).toBe(200);
        const job = await deliveredJob(id);
        expect(job).toMatchObject({ id, state: "JOB_STATE_CANCELLED" });
        expect(receiver.acceptedFor(id).map((r) => r.path)).toEqual(["/cancelled-running"]);
      } finally {
        await w.stop({ graceMs: 0 });
      }
    });

    test("EXPIRED: a job not started by its deadline", async () => {
      const late = uniqueQueue("wh-late");
      await api.declareQueue(late);
      const deadline = Date.now() + 300;
      const id = await submit(late, 1, {
        webhookUrl: `${receiver.url}/expired`,
        startDeadline: new Date(deadline).toISOString(),
      });
      await waitFor(() => Date.now() > deadline + 20, { what: "the deadline to pass" });
      // The JetStream engine decides expiry when a delivery begins: a worker must take the queue.
      const w = createWorker({ engine: workerEngine, queues: { [late]: echo } });
      await w.start();
      try {
        const job = await deliveredJob(id);
        expect(job).toMatchObject({ id, state: "JOB_STATE_EXPIRED", error: { code: "EXPIRED" } });
      } finally {
        await w.stop({ graceMs: 0 });
      }
    });

    test("the queue's default URL when the job names none", async () => {
      const id = await submit(defaulted, { d: 1 });
      const job = await deliveredJob(id);
      expect(job).toMatchObject({ id, state: "JOB_STATE_COMPLETED", output: { d: 1 } });
      expect(receiver.acceptedFor(id).map((r) => r.path)).toEqual(["/queue-default"]);
    });

    test("a receiver failing 3 times: exactly one accepted delivery, every attempt in the job's log", async () => {
      receiver.failFirst = 3;
      try {
        const id = await submit("echo", 7, { webhookUrl: `${receiver.url}/flaky` });
        await deliveredJob(id);
        const attempts = receiver.of(`msg_${id}_completed`);
        expect(attempts.map((r) => r.status)).toEqual([500, 500, 500, 200]);
        for (const r of attempts) expect(verifyStandardWebhook(SECRET, r.headers, r.body)).toBe(true);
        expect(new Set(attempts.map((r) => r.body)).size).toBe(1);
        const logs = await waitFor(
          async () => {
            const status = await api.getStatus(id, { includeLogs: true });
            const lines = (status.logs ?? []).filter((l) => l.source === "jetq").map((l) => l.message);
            return lines.some((l) => l.startsWith("webhook delivered")) ? lines : undefined;
          },
          { what: "the webhook lines in the job's log" },
        );
        expect(logs.filter((l) => l.startsWith("webhook"))).toEqual([
          expect.stringMatching(/^webhook attempt 1 failed: 500, retrying in \d+ ms$/),
          expect.stringMatching(/^webhook attempt 2 failed: 500, retrying in \d+ ms$/),
          expect.stringMatching(/^webhook attempt 3 failed: 500, retrying in \d+ ms$/),
          "webhook delivered (200) attempt 4",
        ]);
        expect(receiver.acceptedFor(id)).toHaveLength(1);
      } finally {
        receiver.failFirst = 0;
      }
    });

    test("a private IP literal is refused at Submit; a name resolving to one, when sent, in the job's log", async () => {
      const refused = await rpc<{ code: string; message: string }>(server.url, "Submit", {
        queue: "echo",
        input: 1,
        options: { webhookUrl: "http://10.0.0.1/hook" },
      });
      expect(refused.status).toBe(400);
      expect(refused.json.code).toBe("invalid_argument");
      expect(refused.json.message).toMatch(
        /^options\.webhook_url: 10\.0\.0\.1 is a private.*JETQ_WEBHOOK_ALLOWED_HOSTS/,
      );

      const id = await submit("echo", 1, { webhookUrl: "http://localhost:9/hook" });
      const line = await waitFor(
        async () =>
          (await api.getStatus(id, { includeLogs: true })).logs?.find((l) => l.message.startsWith("webhook refused")),
        { what: "the refusal in the job's log" },
      );
      expect(line).toMatchObject({ source: "jetq", level: "warn" });
      expect(line.message).toMatch(/localhost resolves to .*add localhost to JETQ_WEBHOOK_ALLOWED_HOSTS/);
    });

    test.each([
      ["ftp://example.com/", /http or https/],
      ["example.com/hook", /not an absolute URL/],
      ["https://user:pw@example.com/", /user or password/],
    ])("webhook_url %s is INVALID_ARGUMENT naming the field", async (url, why) => {
      const { status, json } = await rpc<{ code: string; message: string }>(server.url, "Submit", {
        queue: "echo",
        input: 1,
        options: { webhookUrl: url },
      });
      expect(status).toBe(400);
      expect(json.code).toBe("invalid_argument");
      expect(json.message).toMatch(/^options\.webhook_url: /);
      expect(json.message).toMatch(why);
    });
  });
}

test("a server without JETQ_WEBHOOK_SECRET refuses webhook_url with FAILED_PRECONDITION naming it", async () => {
  const backend = await ENGINES[0]!.start();
  const server = await startServer({ engine: await backend.open(), port: 0 });
  try {
    const { status, json } = await rpc<{ code: string; message: string }>(server.url, "Submit", {
      queue: "echo",
      input: 1,
      options: { webhookUrl: "https://hooks.example.com/x" },
    });
    expect(status).toBe(400);
    expect(json.code).toBe("failed_precondition");
    expect(json.message).toMatch(/options\.webhook_url: .*JETQ_WEBHOOK_SECRET is not set/);
  } finally {
    await server.close();
    await backend.stop();
  }
});
