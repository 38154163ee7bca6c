/**
 * After its last attempt a webhook is given up: a line in the job's log and
 * a warning in the process's log, and no further request. The policy is
 * shortened (the real one gives up 24 h after the job ended).
 */
import pino from "pino";
import { expect, test } from "vitest";
import { createMemoryEngine } from "../../src/engine/memory/index.js";
import { DEFAULT_WEBHOOK_POLICY, parseWebhookSecret, startWebhooks } from "../../src/webhooks/index.js";
import { fetchOne, waitFor, waitForState } from "../conformance/harness.js";
import { startReceiver } from "./receiver.js";

test("a receiver that always fails: attempts until the policy's end, then one giving-up line and a warning", async () => {
  const receiver = await startReceiver(Number.MAX_SAFE_INTEGER);
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) });
  const engine = createMemoryEngine();
  const hooks = startWebhooks({
    engine,
    key: parseWebhookSecret(`whsec_${Buffer.alloc(32, 1).toString("base64")}`),
    allowedHosts: ["127.0.0.1"],
    policy: { ...DEFAULT_WEBHOOK_POLICY, retryBaseMs: 20, retryMaxMs: 40, giveUpAfterMs: 1_000 },
    logger,
  });
  try {
    await engine.declareQueue("q");
    const { id } = await engine.submit({ queue: "q", input: 1, options: { webhookUrl: `${receiver.url}/never` } });
    const lease = await fetchOne(engine, "q");
    expect(await lease.begin()).toBe(true);
    expect(await lease.complete(1)).toBe(true);
    await waitForState(engine, id, "COMPLETED");
    const last = await waitFor(
      async () =>
        (await engine.getStatus(id, { includeLogs: true })).logs?.find((l) => l.message.endsWith("giving up")),
      { what: "the giving-up line" },
    );
    const attempts = receiver.of(`msg_${id}_completed`).length;
    // How many fit in the policy's time depends on the machine's load; the last is the one given up.
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(last).toMatchObject({
      level: "error",
      source: "jetq",
      message: `webhook attempt ${attempts} failed: 500; giving up`,
    });
    expect(warnings).toContain(`webhook attempt ${attempts} failed: 500; giving up`);
    expect(receiver.acceptedFor(id)).toEqual([]);
  } finally {
    await hooks.stop();
    await engine.close();
    await receiver.close();
  }
});
