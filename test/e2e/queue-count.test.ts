/**
 * QueueCount over the wire, on a queue declared on the server's engine that no
 * worker serves: every submitted job waits, each with its own exact position.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINES, uniqueQueue } from "../helpers/engines.js";
import { PROTOCOLS, openConnectH2, type ProtocolClient } from "./clients.js";
import { pollUntil, stateName, useJetq, value } from "./harness.js";

const SUBMITS = 50;
const READERS = [
  "connect+json http/1.1",
  "connect+proto h2c (GET)",
  "grpc h2c",
  "grpc-web http/1.1",
  "fetch connect+json (GET)",
];

for (const kind of ENGINES) {
  describe(`QueueCount over the wire (${kind.name})`, () => {
    const ctx = useJetq(kind);
    let submitter: ProtocolClient;
    let readers: { name: string; client: ProtocolClient }[] = [];
    beforeAll(() => {
      submitter = openConnectH2(ctx.jetq.url);
      readers = READERS.map((name) => ({ name, client: PROTOCOLS.find((p) => p.name === name)!.open(ctx.jetq.url) }));
    });
    afterAll(() => {
      submitter?.close();
      for (const r of readers) r.client.close();
    });

    it(`${SUBMITS} submits to a queue without workers → inQueue ${SUBMITS}, running 0, positions 0..${SUBMITS - 1}`, async () => {
      const queue = uniqueQueue("count");
      await ctx.jetq.engine.declareQueue(queue);
      const empty = await submitter.queueCount({ queue });
      expect({ queue: empty.queue, inQueue: empty.inQueue, running: empty.running }).toEqual({
        queue,
        inQueue: 0,
        running: 0,
      });

      const jobs = await Promise.all(
        Array.from({ length: SUBMITS }, (_, i) => submitter.submit({ queue, input: value({ i }) })),
      );
      expect(jobs.every((j) => stateName(j.state) === "QUEUED")).toBe(true);
      expect(new Set(jobs.map((j) => j.id)).size).toBe(SUBMITS);
      expect(jobs.map((j) => j.queuePosition).sort((a, b) => a! - b!)).toEqual(
        Array.from({ length: SUBMITS }, (_, i) => i),
      );

      for (const { name, client } of readers) {
        const counts = await pollUntil(
          () => client.queueCount({ queue }),
          (c) => c.inQueue === SUBMITS,
          {
            what: `inQueue ${SUBMITS} over ${name}`,
            timeoutMs: 5_000,
          },
        );
        expect(counts.queue).toBe(queue);
        expect(counts.running).toBe(0);
      }

      // and the last one is still last when asked again
      const lastId = jobs.find((j) => j.queuePosition === SUBMITS - 1)!.id;
      expect((await submitter.getStatus({ id: lastId })).queuePosition).toBe(SUBMITS - 1);
    });
  });
}
