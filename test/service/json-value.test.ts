import { describe, expect, it } from "vitest";
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { jsonToValue, valueToJsonStrict } from "../../src/service/json-value.js";

const nested = (depth: number): JsonValue => {
  let v: JsonValue = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

const samples: JsonValue[] = [
  null,
  0,
  -1.5,
  1e308,
  "",
  "text ✓",
  true,
  false,
  [],
  {},
  [1, "two", null, [false], { three: 3 }],
  { n: 7, text: "a small job input", list: [1, 2, { deep: [null] }], empty: {}, "": "empty key" },
  JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as JsonValue,
  nested(31),
  nested(40),
  nested(45),
];

describe("JSON ⇄ google.protobuf.Value", () => {
  it.each(samples.map((s) => [JSON.stringify(s).slice(0, 60), s] as const))(
    "%s: the same message as protobuf-es's fromJson, and back the same JSON as its toJson",
    (_, json) => {
      const value = jsonToValue(json);
      expect(value).toStrictEqual(fromJson(ValueSchema, json));
      expect(valueToJsonStrict(value)).toStrictEqual(toJson(ValueSchema, fromJson(ValueSchema, json)));
    },
  );

  it("nesting past protobuf-es's limit fails with its error", () => {
    expect(() => jsonToValue(nested(150))).toThrow(/maximum recursion depth/);
  });

  it("a Value JSON cannot hold fails with protobuf-es's errors, nested or not", () => {
    const nan = create(ValueSchema, { kind: { case: "numberValue", value: Number.NaN } });
    const unset = create(ValueSchema);
    const inList = (v: Value) =>
      create(ValueSchema, {
        kind: {
          case: "listValue",
          value: { values: [create(ValueSchema, { kind: { case: "boolValue", value: true } }), v] },
        },
      });
    for (const bad of [nan, unset, inList(nan), inList(unset)]) {
      let expected: unknown;
      try {
        toJson(ValueSchema, bad);
      } catch (err) {
        expected = err;
      }
      expect(expected).toBeInstanceOf(Error);
      expect(() => valueToJsonStrict(bad)).toThrow((expected as Error).message);
    }
  });
});
