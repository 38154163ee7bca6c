import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { expect, it } from "vitest";
import { JobState, QueueService } from "../../gen/jetq/v1/queue_pb.js";
import { startTestServer } from "../../src/testing.js";

it("startTestServer serves echo and the given handlers on a free port", async () => {
  const jetq = await startTestServer({
    handlers: { shout: (input) => String(input).toUpperCase() },
  });
  try {
    expect(jetq.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(jetq.engine.kind).toBe("memory");
    const client = createClient(QueueService, createConnectTransport({ baseUrl: jetq.url, httpVersion: "1.1" }));
    for (const [queue, input, output] of [
      ["shout", "hello", "HELLO"],
      ["echo", { a: 1 }, { a: 1 }],
    ] as const) {
      const job = await client.submit({ queue, input: fromJson(ValueSchema, input) });
      let last = job;
      for await (const status of client.streamStatus({ id: job.id })) last = status;
      expect(last.state).toBe(JobState.COMPLETED);
      const result = await jetq.engine.getResult(job.id);
      expect(result.output).toEqual(output);
    }
  } finally {
    await jetq.close();
  }
  await expect(fetch(jetq.url)).rejects.toThrow();
});
