/**
 * A webhook survives its process: jetq (`npm start` on NATS, a real process)
 * fails the first attempt against a receiver that answers 500 three times,
 * is killed with SIGKILL, and started again; the delivery resumes from the
 * JETQ_WEBHOOKS stream and the receiver gets exactly one accepted, signed
 * delivery, with every attempt (both processes') in the job's log.
 */
import { expect, it } from "vitest";
import { waitFor } from "../conformance/harness.js";
import { freePort } from "../helpers/free-port.js";
import { startProcess, useNatsForProcesses } from "../server/process.js";
import { startReceiver } from "./receiver.js";
import { verifyStandardWebhook } from "./verify.js";

const backend = useNatsForProcesses();
const SECRET = `whsec_${Buffer.from("restart test key, thirty-two by!").toString("base64")}`;

interface Job {
  id: string;
  logs?: { message: string; source: string }[];
}

it("a delivery resumes after the jetq process is killed between attempts", async () => {
  const receiver = await startReceiver(3);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PORT: String(port),
    HOST: "127.0.0.1",
    NATS_URL: backend.nats.url,
    JETQ_WEBHOOK_SECRET: SECRET,
    JETQ_WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
    // Attempt 2 is due (1.6 s or more) after the killed process's last pull (1 s) has ended.
    JETQ_WEBHOOK_RETRY_BASE_MS: "2000",
    // For the line saying attempt 2's task is back in the stream.
    JETQ_LOG_LEVEL: "debug",
  };
  const rpc = async <T>(method: string, body: unknown): Promise<T> => {
    const res = await fetch(`${url}/jetq.v1.QueueService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    const first = startProcess("start", env);
    await first.waitForLine((l) => l.msg.includes("listening"), 30_000);
    const { id } = await rpc<Job>("Submit", {
      queue: "echo",
      input: { survive: true },
      options: { webhookUrl: `${receiver.url}/hook` },
    });
    await first.waitForLine((l) => l.msg.startsWith("webhook attempt 1 failed: 500"));
    // Killed once attempt 2's task waits in the stream, not in this process's hands.
    await first.waitForLine((l) => l.msg === "webhook task not due yet");
    first.proc.kill("SIGKILL");
    await first.exited;
    const killedAt = Date.now();
    expect(receiver.acceptedFor(id)).toEqual([]);

    const second = startProcess("start", env);
    await second.waitForLine((l) => l.msg.includes("listening"), 30_000);
    const accepted = await waitFor(() => receiver.acceptedFor(id)[0], {
      timeoutMs: 45_000,
      what: "the accepted delivery after the restart",
    }).catch((err: unknown) => {
      const seen = receiver.received.map((r) => `${r.status} +${r.at - killedAt}ms`).join(", ");
      const said = second.lines.map((l) => l.msg).join("\n");
      throw new Error(`${(err as Error).message}\nreceived: ${seen}\nsecond process:\n${said}`);
    });
    expect(accepted.at).toBeGreaterThan(killedAt);
    const attempts = receiver.of(`msg_${id}_completed`);
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    for (const r of attempts) expect(verifyStandardWebhook(SECRET, r.headers, r.body)).toBe(true);
    expect(JSON.parse(accepted.body)).toMatchObject({ id, state: "JOB_STATE_COMPLETED", output: { survive: true } });

    const lines = await waitFor(
      async () => {
        const job = await rpc<Job>("GetStatus", { id, includeLogs: true });
        const hooks = (job.logs ?? []).filter((l) => l.source === "jetq" && l.message.startsWith("webhook"));
        return hooks.some((l) => l.message.startsWith("webhook delivered")) ? hooks.map((l) => l.message) : undefined;
      },
      { what: "the delivered line in the job's log" },
    );
    expect(lines).toEqual([
      expect.stringMatching(/^webhook attempt 1 failed: 500, retrying in [23]s$/),
      expect.stringMatching(/^webhook attempt 2 failed: 500, retrying in [3-5]s$/),
      expect.stringMatching(/^webhook attempt 3 failed: 500, retrying in ([6-9]|10)s$/),
      "webhook delivered (200) attempt 4",
    ]);
    // Nothing more arrives: the task left the stream with the accepted delivery.
    second.proc.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    expect(receiver.acceptedFor(id)).toHaveLength(1);
  } finally {
    await receiver.close();
  }
}, 90_000);
