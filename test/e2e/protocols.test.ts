/**
 * The same calls over every protocol jetq serves on its one port: Connect (JSON,
 * binary, GET) over HTTP/1.1 and h2c, gRPC over h2c, gRPC-Web, an independent
 * gRPC stack (@grpc/grpc-js), `buf curl` and plain fetch — against every engine.
 */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { JobState, LogLevel, type Job } from "../../gen/jetq/v1/queue_pb.js";
import { formatJobId } from "../../src/engine/job-id.js";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import { PROTOCOLS, type ProtocolClient } from "./clients.js";
import { echo } from "../../src/handlers/echo.js";
import { createWorker } from "../../src/worker/index.js";
import {
  drain,
  expectCode,
  json,
  nextWithin,
  pollToTerminal,
  pollUntil,
  startCollecting,
  stateName,
  useJetq,
  value,
} from "./harness.js";

const STATE_ORDER = [JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED];

// buf curl starts a process per call; on two busy cores its tests take their time.
vi.setConfig({ testTimeout: 60_000 });

for (const kind of ENGINES) {
  describe(`every protocol on one port (${kind.name})`, () => {
    const ctx = useJetq(kind);
    describe.concurrent.each(PROTOCOLS)("$name", (protocol) => {
      let client: ProtocolClient;
      beforeAll(() => {
        client = protocol.open(ctx.jetq.url);
      });
      afterAll(() => client?.close());

      it("Submit → QUEUED with a position, then COMPLETED; GetResult is the input", async ({ expect }) => {
        const input = {
          hello: protocol.name,
          n: 42,
          nested: { list: [1, "two", true, null], empty: {} },
          sleep_ms: 200,
        };
        const job = await client.submit({ queue: "echo", input: value(input) });
        // soft: a wrong state here must not hide what the rest of the test finds
        expect.soft(stateName(job.state), "Submit's state").toBe("QUEUED");
        expect.soft(job.queuePosition, "Submit's queuePosition").toBeTypeOf("number");
        expect(job.queue).toBe("echo");
        expect(job.id).toMatch(/^echo-/);
        expect(job.createdAt).toBeDefined();

        const { states, last } = await pollToTerminal(client, job.id);
        expect(stateName(last.state)).toBe("COMPLETED");
        // whatever states the polls caught, they came in order
        expect(states.every((s, i) => i === 0 || STATE_ORDER.indexOf(s) > STATE_ORDER.indexOf(states[i - 1]!))).toBe(
          true,
        );
        expect(last.attempt).toBe(1);
        expect(last.startedAt).toBeDefined();
        expect(last.finishedAt).toBeDefined();
        expect(last.error).toBeUndefined();

        const result = await client.getResult({ id: job.id });
        expect(result.id).toBe(job.id);
        expect(stateName(result.state)).toBe("COMPLETED");
        expect(json(result.output)).toEqual(input);
        expect(result.error).toBeUndefined();
      });

      it("a held job shows RUNNING; GetResult before the end → FAILED_PRECONDITION", async ({ expect }) => {
        const job = await client.submit({ queue: "echo", input: value({ sleep_ms: 30_000 }) });
        try {
          const running = await pollUntil(
            () => client.getStatus({ id: job.id }),
            (j) => j.state === JobState.RUNNING,
            { what: `${job.id} RUNNING`, timeoutMs: 10_000 },
          );
          expect(running.queuePosition).toBeUndefined();
          // With NATS, RUNNING is derived from the consumer and may be seen a moment before
          // the worker's live event brings attempt and started_at (docs/ARCHITECTURE.md §5).
          await pollUntil(
            () => client.getStatus({ id: job.id }),
            (j) => j.attempt === 1 && j.startedAt !== undefined,
            { what: `${job.id} attempt 1 with started_at`, timeoutMs: 5_000 },
          );
          const err = await expectCode(client.getResult({ id: job.id }), Code.FailedPrecondition);
          expect(err.rawMessage).toContain("RUNNING");
          expect(err.rawMessage).toContain(job.id);
        } finally {
          const cancelled = await client.cancel({ id: job.id });
          expect(cancelled.removed).toBe(true);
        }
      });

      it("fail in the input → FAILED with that message", async ({ expect }) => {
        const message = `boom over ${protocol.name}`;
        const job = await client.submit({ queue: "echo", input: value({ fail: message }) });
        const { last } = await pollToTerminal(client, job.id);
        expect(stateName(last.state)).toBe("FAILED");
        expect(last.error?.message).toBe(message);
        expect(last.error?.code).toBe("HANDLER_ERROR");
        const result = await client.getResult({ id: job.id });
        expect(stateName(result.state)).toBe("FAILED");
        expect(result.error?.message).toBe(message);
        expect(result.output).toBeUndefined();
      });

      it("StreamStatus sends the current state at once, then the cancel, then ends; QueueCount and Cancel work", async ({
        expect,
      }) => {
        // A queue of its own: no other job's cancel moves this one's position.
        const held = uniqueQueue("held");
        await ctx.jetq.engine.declareQueue(held);
        const job = await client.submit({ queue: held, input: value({ n: 1 }) });
        // counts may lag a moment behind (the JetStream engine caches consumer info briefly)
        const counts = await pollUntil(
          () => client.queueCount({ queue: held }),
          (c) => c.inQueue === 1,
          {
            what: "inQueue 1",
            timeoutMs: 5_000,
          },
        );
        expect(counts.queue).toBe(held);
        expect(counts.running).toBe(0);

        const ac = new AbortController();
        const it = client.streamStatus({ id: job.id }, { signal: ac.signal })[Symbol.asyncIterator]();
        try {
          // Nothing changes for a job nobody works on: this message can only be the current state.
          const first = await nextWithin(it, 15_000, "first StreamStatus message");
          expect(first.done).toBe(false);
          expect(first.value!.id).toBe(job.id);
          expect(stateName(first.value!.state)).toBe("QUEUED");
          expect(first.value!.queuePosition).toBeTypeOf("number");
          const early = await expectCode(client.getResult({ id: job.id }), Code.FailedPrecondition);
          expect(early.rawMessage).toContain("QUEUED");

          const cancel = await client.cancel({ id: job.id });
          expect(cancel.removed).toBe(true);
          expect(stateName(cancel.job!.state)).toBe("CANCELLED");

          const next = await nextWithin(it, 15_000, "CANCELLED on the stream");
          expect(next.done).toBe(false);
          expect(stateName(next.value!.state)).toBe("CANCELLED");
          expect(next.value!.finishedAt).toBeDefined();
          const end = await nextWithin(it, 15_000, "end of the stream after CANCELLED");
          expect(end.done).toBe(true);
        } finally {
          ac.abort();
        }
      });

      it("StreamStatus sends every change once and in order, logs only with include_logs, and ends", async ({
        expect,
      }) => {
        // The job waits in a queue no worker serves until both streams are open and have
        // the QUEUED state; only then does a worker start: the streams must see every change.
        const queue = uniqueQueue("gated");
        await ctx.jetq.engine.declareQueue(queue);
        const input = { sleep_ms: 300, progress: 3, logs: ["first line", "second line"] };
        const job = await client.submit({ queue, input: value(input) });
        const streams = [
          startCollecting((signal) => client.streamStatus({ id: job.id, includeLogs: true }, { signal })),
          startCollecting((signal) => client.streamStatus({ id: job.id }, { signal })),
        ];
        const worker = createWorker({ engine: ctx.jetq.workerEngine, queues: { [queue]: echo } });
        let withLogs: Job[];
        let withoutLogs: Job[];
        try {
          for (const s of streams) {
            const [first] = await s.atLeast(1, 15_000);
            expect(stateName(first!.state)).toBe("QUEUED");
            expect(first!.queuePosition).toBe(0);
          }
          await worker.start();
          const ended = await Promise.all(streams.map((s) => s.done));
          withLogs = ended[0]!;
          withoutLogs = ended[1]!;
        } finally {
          for (const s of streams) s.abort();
          await worker.stop({ graceMs: 0 });
        }

        for (const messages of [withLogs, withoutLogs]) {
          const seen = `stream: ${summarize(messages)}`;
          expect(messages.length, seen).toBeGreaterThanOrEqual(2);
          expect(messages.every((m) => m.id === job.id)).toBe(true);
          const states = messages.map((m) => m.state);
          // states only move forward; the stream ends right after the terminal one
          for (let i = 1; i < states.length; i++) {
            expect(STATE_ORDER.indexOf(states[i]!), seen).toBeGreaterThanOrEqual(STATE_ORDER.indexOf(states[i - 1]!));
          }
          expect(states.filter((s) => s === JobState.RUNNING).length, seen).toBeGreaterThanOrEqual(1);
          expect(stateName(states[0]!), seen).toBe("QUEUED");
          expect(
            states.filter((s) => s === JobState.QUEUED),
            seen,
          ).toHaveLength(1);
          expect(
            states.filter((s) => s === JobState.COMPLETED),
            seen,
          ).toHaveLength(1);
          const last = messages[messages.length - 1]!;
          expect(stateName(last.state), seen).toBe("COMPLETED");
          expect(last.finishedAt).toBeDefined();
          // each progress step arrives once, in order
          const steps = progressChanges(messages);
          expect(steps, seen).toHaveLength(3);
          expect(steps[0]).toBeCloseTo(1 / 3);
          expect(steps[1]).toBeCloseTo(2 / 3);
          expect(steps[2]).toBeCloseTo(1);
          // no message repeats the one before it
          for (let i = 1; i < messages.length; i++) {
            expect(sameJob(messages[i]!, messages[i - 1]!), `message ${i} repeats message ${i - 1}; ${seen}`).toBe(
              false,
            );
          }
        }

        // the lines so far in the first message, then only new ones (queue.proto, StreamStatusRequest)
        const lines = withLogs.flatMap((m) => m.logs);
        expect
          .soft(
            lines.map((l) => l.message),
            "log lines over the stream, each once",
          )
          .toEqual(input.logs);
        for (const line of lines) {
          expect(line.level).toBe(LogLevel.INFO);
          expect(line.source).toBe("handler");
          expect(line.timestamp).toBeDefined();
        }
        expect(withoutLogs.flatMap((m) => m.logs)).toEqual([]);

        // the lines stay readable after the end
        const status = await client.getStatus({ id: job.id, includeLogs: true });
        expect(status.logs.map((l) => l.message)).toEqual(input.logs);
        expect((await client.getStatus({ id: job.id })).logs).toEqual([]);
      });

      it("SubmitAndStream: the QUEUED job with its id at once, every change once, the end; a retry with the key streams the same job", async ({
        expect,
      }) => {
        // As above: no worker until the QUEUED message is in, so every change is seen.
        const queue = uniqueQueue("gated");
        await ctx.jetq.engine.declareQueue(queue);
        const input = { sleep_ms: 200, progress: 2, logs: ["only line"] };
        const idempotencyKey = `one-call-${protocol.name}`;
        const request = { queue, input: value(input), idempotencyKey, includeLogs: true };
        const stream = startCollecting((signal) => client.submitAndStream(request, { signal }));
        const worker = createWorker({ engine: ctx.jetq.workerEngine, queues: { [queue]: echo } });
        let messages: Job[];
        try {
          const [first] = await stream.atLeast(1, 15_000);
          expect(stateName(first!.state)).toBe("QUEUED");
          expect(first!.id).toMatch(new RegExp(`^${queue}-`));
          expect(first!.queuePosition).toBe(0);
          expect(first!.createdAt).toBeDefined();
          await worker.start();
          messages = await stream.done;
        } finally {
          stream.abort();
          await worker.stop({ graceMs: 0 });
        }
        const seen = `stream: ${summarize(messages)}`;
        const id = messages[0]!.id;
        expect(
          messages.every((m) => m.id === id),
          seen,
        ).toBe(true);
        const states = messages.map((m) => m.state);
        for (let i = 1; i < states.length; i++) {
          expect(STATE_ORDER.indexOf(states[i]!), seen).toBeGreaterThanOrEqual(STATE_ORDER.indexOf(states[i - 1]!));
          expect(sameJob(messages[i]!, messages[i - 1]!), `message ${i} repeats message ${i - 1}; ${seen}`).toBe(false);
        }
        expect(
          states.filter((s) => s === JobState.QUEUED),
          seen,
        ).toHaveLength(1);
        expect(states.filter((s) => s === JobState.RUNNING).length, seen).toBeGreaterThanOrEqual(1);
        expect(stateName(states.at(-1)!), seen).toBe("COMPLETED");
        expect(progressChanges(messages), seen).toEqual([0.5, 1]);
        expect(
          messages.flatMap((m) => m.logs).map((l) => l.message),
          seen,
        ).toEqual(input.logs);
        expect(json((await client.getResult({ id })).output)).toEqual(input);

        // The retry a dropped connection calls for: the same job, already finished, and no second one.
        const again = await drain(client.submitAndStream(request));
        expect(again.map((m) => [m.id, stateName(m.state)])).toEqual([[id, "COMPLETED"]]);
        // counts may lag a moment behind (the JetStream engine caches consumer info briefly)
        await pollUntil(
          () => client.queueCount({ queue }),
          (c) => c.inQueue === 0 && c.running === 0,
          {
            what: `${queue} empty`,
            timeoutMs: 5_000,
          },
        );
      });

      it("SubmitAndStream: a Cancel ends the stream CANCELLED; bad requests fail with the Submit's errors and create nothing", async ({
        expect,
      }) => {
        const held = uniqueQueue("held");
        await ctx.jetq.engine.declareQueue(held);
        const ac = new AbortController();
        const stream = client.submitAndStream({ queue: held, input: value({ n: 1 }) }, { signal: ac.signal });
        const it = stream[Symbol.asyncIterator]();
        try {
          const first = await nextWithin(it, 15_000, "first SubmitAndStream message");
          expect(stateName(first.value!.state)).toBe("QUEUED");
          const cancel = await client.cancel({ id: first.value!.id });
          expect(cancel.removed).toBe(true);
          const next = await nextWithin(it, 15_000, "CANCELLED on the stream");
          expect(stateName(next.value!.state)).toBe("CANCELLED");
          expect(next.value!.error?.code).toBe("CANCELLED");
          expect((await nextWithin(it, 15_000, "end of the stream")).done).toBe(true);
        } finally {
          ac.abort();
        }

        const unknownQueue = uniqueQueue("nobody");
        await Promise.all([
          (async () => {
            const bad = await expectCode(
              () => drain(client.submitAndStream({ queue: "a.b", input: value({}) })),
              Code.InvalidArgument,
            );
            expect(bad.rawMessage).toContain('queue: "a.b"');
          })(),
          (async () => {
            const nf = await expectCode(
              () => drain(client.submitAndStream({ queue: unknownQueue, input: value({}) })),
              Code.NotFound,
            );
            expect(nf.rawMessage).toContain(unknownQueue);
          })(),
          (async () => {
            const attempts = await expectCode(
              () => drain(client.submitAndStream({ queue: held, input: value({}), options: { maxAttempts: 0 } })),
              Code.InvalidArgument,
            );
            expect(attempts.rawMessage).toContain("max_attempts");
          })(),
        ]);
        await pollUntil(
          () => client.queueCount({ queue: held }),
          (c) => c.inQueue === 0 && c.running === 0,
          {
            what: `${held} empty`,
            timeoutMs: 5_000,
          },
        );
      });

      it("bad requests get clear errors: INVALID_ARGUMENT naming the queue, NOT_FOUND for unknown queues and jobs", async ({
        expect,
      }) => {
        // Independent calls, made at once: buf curl starts a process per call.
        const unknownQueue = uniqueQueue("nobody");
        const unknownId = formatJobId({ queue: "echo", seq: 987_654_321, token: "AbCdEfGh1234" });
        await Promise.all([
          ...["a.b", "*", ">", "", "q".repeat(65)].map(async (queue) => {
            const err = await expectCode(client.submit({ queue, input: value({}) }), Code.InvalidArgument);
            expect(err.rawMessage).toContain("queue");
            expect(err.rawMessage).toContain(JSON.stringify(queue));
          }),
          (async () => {
            const nf = await expectCode(client.submit({ queue: unknownQueue, input: value({}) }), Code.NotFound);
            expect(nf.rawMessage).toContain(unknownQueue);
          })(),
          expectCode(client.getStatus({ id: unknownId }), Code.NotFound),
          expectCode(client.getResult({ id: unknownId }), Code.NotFound),
          expectCode(client.cancel({ id: unknownId }), Code.NotFound),
          expectCode(() => drain(client.streamStatus({ id: unknownId })), Code.NotFound),
          (async () => {
            const malformed = await expectCode(client.getStatus({ id: "not a job id" }), Code.InvalidArgument);
            expect(malformed.rawMessage).toContain("id");
          })(),
        ]);
      });
    });
  });
}

/** "QUEUED#0 RUNNING a1 RUNNING p0.33 +1log COMPLETED p1" — for failure messages. */
function summarize(messages: Job[]): string {
  return messages
    .map((m) => {
      let out = stateName(m.state);
      if (m.queuePosition !== undefined) out += `#${m.queuePosition}`;
      if (m.attempt) out += ` a${m.attempt}`;
      if (m.progress) out += ` p${m.progress.toFixed(2)}`;
      if (m.logs.length) out += ` +${m.logs.length}log`;
      return out;
    })
    .join(" | ");
}

/** The progress values at which the reported progress changed, in order. */
function progressChanges(messages: Job[]): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const m of messages) {
    if (m.progress !== prev) out.push(m.progress);
    prev = m.progress;
  }
  return out;
}

function sameJob(a: Job, b: Job): boolean {
  return (
    a.state === b.state &&
    a.progress === b.progress &&
    a.attempt === b.attempt &&
    a.queuePosition === b.queuePosition &&
    a.logs.length === 0 &&
    b.logs.length === 0 &&
    (a.error?.message ?? "") === (b.error?.message ?? "")
  );
}
