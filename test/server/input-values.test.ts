/**
 * The value count of a job input, on the request bytes: never fewer than
 * the input holds (commas and brackets inside strings do not count), in
 * JSON and in protobuf binary, stopping once past the limit.
 */
import { create, fromJson, toBinary } from "@bufbuild/protobuf";
import { expect, it } from "vitest";
import { SubmitRequestSchema } from "../../gen/jetq/v1/queue_pb.js";
import { assertInputValues, countBinaryInputValues, countJsonValues } from "../../src/server/input-values.js";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const binary = (input: unknown) =>
  toBinary(SubmitRequestSchema, fromJson(SubmitRequestSchema, { queue: "q", input } as never));

const INPUTS: Array<[string, unknown, number]> = [
  // [what, input, values it holds]
  ["a string", 'a, [b] {c} "d"', 1],
  ["a list of 3", [1, "x,y", null], 4],
  ["an object of lists", { a: [1, 2], b: { c: true, d: "}," } }, 7],
  ["nested lists", [[[]], [1]], 5],
];

it.each(INPUTS)("%s: JSON counts at least its values, binary exactly", (_what, input, values) => {
  expect(countBinaryInputValues(binary(input), 1_000)).toBe(values);
  const json = countJsonValues(enc({ queue: "q", input }), 1_000);
  expect(json).toBeGreaterThanOrEqual(values);
  // The request's own fields add a few, no more.
  expect(json).toBeLessThanOrEqual(values + 3);
});

it("stops counting once past the limit, and refuses naming the setting", () => {
  const big = Array.from({ length: 10_000 }, (_, i) => i);
  expect(countJsonValues(enc({ queue: "q", input: big }), 100)).toBe(101);
  expect(countBinaryInputValues(binary(big), 100)).toBeLessThanOrEqual(102);
  expect(() => assertInputValues(binary(big), true, 100)).toThrow(
    /more than 100 JSON values \(JETQ_MAX_INPUT_VALUES\)/,
  );
  expect(() => assertInputValues(enc({ queue: "q", input: big }), false, 10_010)).not.toThrow();
});

it("a malformed or empty message counts what it can (the decoder reports the rest)", () => {
  expect(countBinaryInputValues(new Uint8Array([0x12, 0xff, 0xff]), 10)).toBe(0);
  expect(countBinaryInputValues(toBinary(SubmitRequestSchema, create(SubmitRequestSchema, { queue: "q" })), 10)).toBe(
    0,
  );
  expect(countJsonValues(enc({ queue: "q", input: '\\"[,,,]' }), 10)).toBe(3); // the object, "q" and the string
});
