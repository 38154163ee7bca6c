/**
 * A terminal record's encoding takes the output's JSON text the core already
 * made (src/engine/nats/records.ts encode): it must read back as the same
 * record as a plain JSON.stringify of it.
 */
import { expect, test } from "vitest";
import type { JobRecord } from "../../src/engine/nats/records.js";
import { createRecordStore } from "../../src/engine/nats/records.js";

// encode() touches no bucket.
const store = createRecordStore(undefined as never);
const decode = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as unknown;
const base: JobRecord = {
  state: "COMPLETED",
  queue: "q",
  tenant: "t",
  createdAt: 1,
  attempt: 1,
  progress: 1,
  finishedAt: 2,
};

test.each([
  ["an object", { a: [1, "é", null], b: { c: true } }],
  ["a string with quotes", 'say "hi"\n'],
  ["a number", 42],
  ["null", null],
  ["an empty object", {}],
])("with the output's JSON text, %s reads back as the record", (_name, output) => {
  const record: JobRecord = { ...base, output };
  expect(decode(store.encode(record, JSON.stringify(output)))).toEqual(decode(store.encode(record)));
  expect(decode(store.encode(record, JSON.stringify(output)))).toEqual(record);
});

test("a record without output ignores the text", () => {
  expect(decode(store.encode(base, "null"))).toEqual(base);
});
