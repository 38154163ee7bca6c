/**
 * Cancel over the wire: a running job's handler is stopped, a queued job never
 * runs, a finished job is left alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobState } from "../../gen/jetq/v1/queue_pb.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import { PROTOCOLS, type ProtocolClient } from "./clients.js";
import { collectStream, expectCode, pollToTerminal, pollUntil, stateName, useJetq, value } from "./harness.js";
import { Code } from "@connectrpc/connect";

const connectJson = PROTOCOLS.find((p) => p.name === "connect+json http/1.1")!;

for (const kind of ENGINES) {
  describe(`Cancel over the wire (${kind.name})`, () => {
    const ctx = useJetq(kind);
    let client: ProtocolClient;
    beforeAll(() => {
      client = connectJson.open(ctx.jetq.url);
    });
    afterAll(() => client?.close());

    it("a running job: removed true, CANCELLED, its handler stops and it never completes", async () => {
      const { worker } = ctx.jetq;
      const job = await client.submit({ queue: "echo", input: value({ sleep_ms: 60_000, marker: "cancel-running" }) });
      const streamed = collectStream((signal) => client.streamStatus({ id: job.id }, { signal }));
      await pollUntil(
        () => client.getStatus({ id: job.id }),
        (j) => j.state === JobState.RUNNING,
        {
          what: "job RUNNING",
        },
      );
      expect(worker.running).toBe(1);

      const out = await client.cancel({ id: job.id });
      expect(out.removed).toBe(true);
      expect(out.message).not.toBe("");
      expect(stateName(out.job!.state)).toBe("CANCELLED");

      // The handler was sleeping 60 s: it returns this soon only because its signal fired.
      await pollUntil(
        () => worker.running,
        (n) => n === 0,
        { what: "handler stopped", timeoutMs: 5_000 },
      );
      const messages = await streamed;
      expect(stateName(messages[messages.length - 1]!.state)).toBe("CANCELLED");
      expect(messages.filter((m) => m.state === JobState.COMPLETED)).toEqual([]);

      const status = await client.getStatus({ id: job.id });
      expect(stateName(status.state)).toBe("CANCELLED");
      expect(status.finishedAt).toBeDefined();
      const result = await client.getResult({ id: job.id });
      expect(stateName(result.state)).toBe("CANCELLED");
      expect(result.output).toBeUndefined();
      expect(result.error?.code).toBe("CANCELLED");
      await pollUntil(
        () => client.queueCount({ queue: "echo" }),
        (c) => c.running === 0 && c.inQueue === 0,
        {
          what: "echo idle after the cancel",
        },
      );
    });

    it("a finished job: removed false with a message, state unchanged", async () => {
      const job = await client.submit({ queue: "echo", input: value({ done: true }) });
      const { last } = await pollToTerminal(client, job.id);
      expect(stateName(last.state)).toBe("COMPLETED");
      const out = await client.cancel({ id: job.id });
      expect(out.removed).toBe(false);
      expect(out.message).toMatch(/already finished/i);
      expect(out.message).toContain("COMPLETED");
      expect(stateName(out.job!.state)).toBe("COMPLETED");
      expect(stateName((await client.getStatus({ id: job.id })).state)).toBe("COMPLETED");
    });

    it("a queued job: removed true, CANCELLED, out of the queue count; the job behind it moves up", async () => {
      const queue = uniqueQueue("cq");
      await ctx.jetq.engine.declareQueue(queue);
      const first = await client.submit({ queue, input: value({ n: 1 }) });
      const second = await client.submit({ queue, input: value({ n: 2 }) });
      expect(second.queuePosition).toBe(1);
      await pollUntil(
        () => client.queueCount({ queue }),
        (c) => c.inQueue === 2,
        { what: "2 in queue" },
      );

      const out = await client.cancel({ id: first.id });
      expect(out.removed).toBe(true);
      expect(stateName(out.job!.state)).toBe("CANCELLED");
      await pollUntil(
        () => client.queueCount({ queue }),
        (c) => c.inQueue === 1,
        { what: "1 in queue after cancel" },
      );
      await pollUntil(
        () => client.getStatus({ id: second.id }),
        (j) => j.queuePosition === 0,
        {
          what: "the second job moves up to position 0",
        },
      );
      await expectCode(client.getResult({ id: second.id }), Code.FailedPrecondition);
      const again = await client.cancel({ id: first.id });
      expect(again.removed).toBe(false);
      expect(again.message).toContain("CANCELLED");
      await client.cancel({ id: second.id });
    });
  });
}
