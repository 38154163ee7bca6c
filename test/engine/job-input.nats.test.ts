/**
 * Where a COMPLETED job's input is kept on JetStream (job-input.ts,
 * attempt-records.ts), read from the server itself: in the record, the
 * message's bytes as they were; a big input's object-store name, the very
 * object Submit wrote (a reference, no second object); an input that fit
 * its message but not a record beside the rest, in an object of its own
 * (the larger of input and output moves first, the other only if need be).
 */
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { JsonValue } from "@bufbuild/protobuf";
import { BLOBS_BUCKET, JOBS_BUCKET } from "../../src/engine/nats/layout.js";
import { recordKey, type JobRecord } from "../../src/engine/nats/records.js";
import type { Engine } from "../../src/engine/types.js";
import { uniqueQueue, useNatsEngines } from "../helpers/engines.js";

const fixture = useNatsEngines();
let engine: Engine;
let nc: NatsConnection;

beforeAll(async () => {
  engine = await fixture.open();
  nc = await connect({ servers: fixture.nats.url });
});
afterAll(async () => {
  await nc?.close();
});

/** Submits, runs and completes one job; its record as stored and the blob names there are. */
async function completed(
  input: JsonValue,
  output: JsonValue = "done",
): Promise<{ id: string; record: JobRecord; blobs: string[] }> {
  const queue = uniqueQueue("kept");
  await engine.declareQueue(queue);
  const { id } = await engine.submit({ queue, input });
  const [lease] = await engine.fetch(queue, { max: 1, expiresMs: 5_000 });
  expect(await lease!.begin()).toBe(true);
  expect(await lease!.complete(output)).toBe(true);
  const js = jetstream(nc);
  const entry = await (await new Kvm(js).open(JOBS_BUCKET)).get(recordKey(id));
  const store = await new Objm(js).open(BLOBS_BUCKET).catch(() => undefined);
  const blobs: string[] = [];
  for (const info of (await store?.list()) ?? []) blobs.push(info.name);
  return { id, record: entry!.json<JobRecord>(), blobs: blobs.filter((n) => n.includes(id.split("-").at(-1)!)) };
}

test("a small input: in the record, as submitted", async () => {
  const input = { a: [1, 2.5, null], s: 'quote " and ü' };
  const { id, record } = await completed(input);
  expect(record.state).toBe("COMPLETED");
  expect(record.input).toStrictEqual(input);
  expect(record.inputRef).toBeUndefined();
  expect((await engine.getStatus(id, { includeInput: true })).input).toStrictEqual(input);
});

test("an input over max_payload: the record names Submit's object, and no second object is written", async () => {
  const input = { blob: "b".repeat(1_500_000) };
  const { record, blobs } = await completed(input);
  expect(record.input).toBeUndefined();
  expect(record.inputRef).toMatch(/^in-/);
  expect(blobs).toEqual([record.inputRef]);
});

test("an input that fits its message but not the record beside the rest: an object of its own", async () => {
  const input = { blob: "u".repeat(1_048_000 - 11) };
  const { id, record, blobs } = await completed(input);
  expect(record.input).toBeUndefined();
  expect(record.inputRef).toBe(`in-${id}`);
  expect(blobs).toEqual([`in-${id}`]);
  expect((await engine.getStatus(id, { includeInput: true })).input).toStrictEqual(input);
});

test("a big output beside a small input: only the output moves, the input stays in the record", async () => {
  const output = { out: "o".repeat(1_048_000) };
  const { id, record, blobs } = await completed({ small: true }, output);
  expect(record.input).toStrictEqual({ small: true });
  expect(record.outputRef).toBe(`out-${id}`);
  expect(blobs).toEqual([`out-${id}`]);
  expect((await engine.getResult(id)).output).toStrictEqual(output);
});
