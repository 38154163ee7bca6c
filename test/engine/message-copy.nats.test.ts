/**
 * A job's identity is its token, not its stream sequence: a copy of a job's
 * message under another sequence (as a cluster node whose stream diverged
 * delivered after a restart) is acknowledged and dropped when the job's
 * record is terminal. Its handler never runs again and no new job appears.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import { parseJobId } from "../../src/engine/job-id.js";
import { queueSubject, streamName } from "../../src/engine/nats/layout.js";
import type { JobLease, JobState } from "../../src/engine/types.js";
import { fetchFor, fetchOne, waitFor, waitForState } from "../conformance/harness.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";

const fixture = useNatsEngines();
let raw: NatsConnection;

beforeAll(async () => {
  raw = await connect({ servers: fixture.nats.url, name: "test-raw" });
});
afterAll(async () => {
  await raw?.close();
});

/** Publishes a copy of the job's message (headers and body) while it is still in the stream. */
async function copyOf(id: string) {
  const { queue, seq } = parseJobId(id);
  const jsm = await jetstreamManager(raw);
  const original = await jsm.streams.getMessage(streamName(queue), { seq });
  if (!original) throw new Error(`message ${seq} of ${queue} not found`);
  return async () => {
    const ack = await jetstream(raw).publish(queueSubject(queue), original.data, { headers: original.header });
    expect(ack.seq).not.toBe(seq);
    return ack.seq;
  };
}

async function streamMessages(queue: string): Promise<number> {
  const jsm = await jetstreamManager(raw);
  return (await jsm.streams.info(streamName(queue))).state.messages;
}

for (const end of ["COMPLETED", "FAILED", "CANCELLED"] as const satisfies readonly JobState[]) {
  test(`a copy of a ${end} job's message under a new sequence is dropped without running`, async () => {
    const engine = await fixture.open();
    const queue = uniqueQueue("copy");
    await engine.declareQueue(queue, { ackWaitMs: 2_000 });
    const { id } = await engine.submit({ queue, input: { n: 1 } });
    const publishCopy = await copyOf(id);
    if (end === "CANCELLED") {
      await engine.cancel(id);
    } else {
      const lease = await fetchOne(engine, queue);
      expect(await lease.begin()).toBe(true);
      if (end === "COMPLETED") expect(await lease.complete("done")).toBe(true);
      else expect(await lease.fail({ code: "E", message: "no" }, { retryable: false })).toBe(true);
    }
    const before = await waitForState(engine, id, end);
    await waitFor(async () => (await streamMessages(queue)) === 0, { what: "the original message to leave the queue" });

    const copySeq = await publishCopy();
    // Another process's worker, which never heard of the job, takes the copy.
    const other = await fixture.open();
    const leases: JobLease[] = await fetchFor(other, queue, 1_000);
    expect(leases.map((l) => parseJobId(l.id))).toEqual([{ ...parseJobId(id), seq: copySeq }]);
    const began = await leases[0]!.begin();
    expect(began).toBe(false);
    await waitFor(async () => (await streamMessages(queue)) === 0, { what: "the copy to be acknowledged" });
    expect(await fetchFor(other, queue, 2_500)).toEqual([]);
    expect(await engine.getStatus(id)).toEqual(before);
    expect((await engine.queueCount(queue)).inQueue).toBe(0);
  });
}
