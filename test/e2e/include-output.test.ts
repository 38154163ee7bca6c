/**
 * include_output on StreamStatus and SubmitAndStream: the terminal message
 * carries a COMPLETED job's output (submit and wait for the result in one
 * call); without the flag it does not; a FAILED or CANCELLED job's carries
 * its error and no output; a null output is sent as null. Over Connect (the
 * fast path and connect-es's own route), gRPC, gRPC-Web and `buf curl`, on
 * every engine.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { JobState, QueueService, type Job } from "../../gen/jetq/v1/queue_pb.js";
import { ENGINES } from "../helpers/engines.js";
import { PROTOCOLS, type Protocol, type ProtocolClient } from "./clients.js";
import { collectStream, json, pollToTerminal, startCollecting, stateName, useJetq, value } from "./harness.js";

// buf curl starts a process per call; on two busy cores it takes its time.
vi.setConfig({ testTimeout: 60_000 });

const byName = (name: string): Protocol => {
  const found = PROTOCOLS.find((p) => p.name === name);
  if (!found) throw new Error(`no protocol named ${name}`);
  return found;
};

/**
 * A deadline header sends a Connect call past the server's fast path
 * (src/server/connect/fast-path.ts) to connect-es: both routes must honour
 * the flag.
 */
const connectEsRoute: Protocol = {
  name: "connect+json http/1.1 (deadline: connect-es route)",
  open(baseUrl) {
    const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", defaultTimeoutMs: 60_000 });
    return Object.assign(createClient(QueueService, transport), { close() {} });
  },
};

const PROTOCOLS_UNDER_TEST: Protocol[] = [
  byName("connect+json http/1.1"),
  byName("connect+proto h2c"),
  connectEsRoute,
  byName("grpc h2c"),
  byName("grpc-web http/1.1"),
  byName("grpc-web+json http/1.1"),
  byName("buf curl connect http/1.1"),
];

const last = (messages: Job[]): Job => {
  const job = messages[messages.length - 1];
  if (!job) throw new Error("the stream sent no message");
  return job;
};

for (const kind of ENGINES) {
  describe(`include_output (${kind.name})`, () => {
    const ctx = useJetq(kind);
    describe.concurrent.each(PROTOCOLS_UNDER_TEST)("$name", (protocol) => {
      let client: ProtocolClient;
      beforeAll(() => {
        client = protocol.open(ctx.jetq.url);
      });
      afterAll(() => client?.close());

      it("SubmitAndStream: the terminal message carries the output, earlier ones none", async ({ expect }) => {
        const input = { via: protocol.name, n: 7, nested: { list: [1, "two", null, true] }, sleep_ms: 50 };
        const messages = await collectStream((signal) =>
          client.submitAndStream({ queue: "echo", input: value(input), includeOutput: true }, { signal }),
        );
        expect(stateName(messages[0]!.state)).toBe("QUEUED");
        const end = last(messages);
        expect(stateName(end.state)).toBe("COMPLETED");
        expect(json(end.output)).toEqual(input);
        expect(end.error).toBeUndefined();
        expect(messages.slice(0, -1).filter((m) => m.output !== undefined)).toEqual([]);
      });

      it("StreamStatus: the terminal message carries the output, for a live and a finished job", async ({ expect }) => {
        const input = { via: protocol.name, watched: true, sleep_ms: 50 };
        const job = await client.submit({ queue: "echo", input: value(input) });
        const live = await collectStream((signal) =>
          client.streamStatus({ id: job.id, includeOutput: true }, { signal }),
        );
        expect(stateName(last(live).state)).toBe("COMPLETED");
        expect(json(last(live).output)).toEqual(input);
        expect(live.slice(0, -1).filter((m) => m.output !== undefined)).toEqual([]);

        // Finished already: the one message is terminal and carries it too.
        const again = await collectStream((signal) =>
          client.streamStatus({ id: job.id, includeOutput: true }, { signal }),
        );
        expect(again.map((m) => stateName(m.state))).toEqual(["COMPLETED"]);
        expect(json(again[0]!.output)).toEqual(input);
      });

      it("without include_output no message carries an output", async ({ expect }) => {
        const input = { via: protocol.name, flag: false };
        const submitted = await collectStream((signal) =>
          client.submitAndStream({ queue: "echo", input: value(input) }, { signal }),
        );
        expect(stateName(last(submitted).state)).toBe("COMPLETED");
        expect(submitted.filter((m) => m.output !== undefined)).toEqual([]);

        const watched = await collectStream((signal) => client.streamStatus({ id: last(submitted).id }, { signal }));
        expect(stateName(last(watched).state)).toBe("COMPLETED");
        expect(watched.filter((m) => m.output !== undefined)).toEqual([]);
        // The output is there all the same, for GetResult.
        expect(json((await client.getResult({ id: last(submitted).id })).output)).toEqual(input);
      });

      it("a FAILED job: the terminal message carries its error and no output", async ({ expect }) => {
        const message = `failed over ${protocol.name}`;
        const submitted = await collectStream((signal) =>
          client.submitAndStream({ queue: "echo", input: value({ fail: message }), includeOutput: true }, { signal }),
        );
        const end = last(submitted);
        expect(stateName(end.state)).toBe("FAILED");
        expect(end.error?.code).toBe("HANDLER_ERROR");
        expect(end.error?.message).toBe(message);
        expect(end.output).toBeUndefined();

        const watched = await collectStream((signal) =>
          client.streamStatus({ id: end.id, includeOutput: true }, { signal }),
        );
        expect(watched.map((m) => stateName(m.state))).toEqual(["FAILED"]);
        expect(watched[0]!.error?.message).toBe(message);
        expect(watched[0]!.output).toBeUndefined();
      });
    });

    it.each(["connect+proto h2c", "connect+json http/1.1"])(
      "a job whose output is JSON null: the terminal message carries null, not nothing (%s)",
      async (name) => {
        const client = byName(name).open(ctx.jetq.url);
        try {
          const messages = await collectStream((signal) =>
            client.submitAndStream({ queue: "echo", input: value(null), includeOutput: true }, { signal }),
          );
          const end = last(messages);
          expect(stateName(end.state)).toBe("COMPLETED");
          expect(end.output).toBeDefined();
          expect(json(end.output)).toBeNull();
          const { last: status } = await pollToTerminal(client, end.id);
          expect(status.state).toBe(JobState.COMPLETED);
          // GetStatus is not a stream's terminal message: no output there.
          expect(status.output).toBeUndefined();
        } finally {
          client.close();
        }
      },
    );

    it("a job cancelled while streamed: the terminal message carries CANCELLED's error and no output", async () => {
      const client = byName("connect+proto h2c").open(ctx.jetq.url);
      try {
        const stream = startCollecting((signal) =>
          client.submitAndStream(
            { queue: "echo", input: value({ sleep_ms: 60_000 }), includeOutput: true },
            { signal },
          ),
        );
        const [first] = await stream.atLeast(1);
        const cancelled = await client.cancel({ id: first!.id });
        expect(cancelled.removed).toBe(true);
        const end = last(await stream.done);
        expect(stateName(end.state)).toBe("CANCELLED");
        expect(end.error?.code).toBe("CANCELLED");
        expect(end.output).toBeUndefined();
      } finally {
        client.close();
      }
    });
  });
}
