/**
 * JSON values ⇄ google.protobuf.Value without the reflective walk of
 * protobuf-es's fromJson/toJson, which took a visible share of the API's CPU
 * per job: every input is converted once (Value → JSON) and every output
 * with include_output once more (JSON → Value); REST does the first both ways.
 * The messages built are what create(ValueSchema, ...) builds (plain objects
 * with their $typeName: struct.proto is proto3). Anything unusual (nesting
 * deeper than FAST_DEPTH, a Value without a kind, NaN or Infinity) goes to
 * protobuf-es, so its limits and error messages stay exactly as they were.
 */
import { fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { NullValue, ValueSchema, type ListValue, type Struct, type Value } from "@bufbuild/protobuf/wkt";

/** Well under protobuf-es's recursion limit (100), so only it ever reports that limit. */
const FAST_DEPTH = 32;

class Unusual extends Error {}
const UNUSUAL = new Unusual();

export function jsonToValue(json: JsonValue): Value {
  try {
    return valueOf(json, 0);
  } catch (err) {
    if (err !== UNUSUAL) throw err;
    return fromJson(ValueSchema, json);
  }
}

/** JSON of a Value; throws protobuf-es's error for one JSON cannot hold. */
export function valueToJsonStrict(value: Value): JsonValue {
  try {
    return jsonOf(value, 0);
  } catch (err) {
    if (err !== UNUSUAL) throw err;
    return toJson(ValueSchema, value);
  }
}

function valueOf(json: JsonValue, depth: number): Value {
  if (depth > FAST_DEPTH) throw UNUSUAL;
  switch (typeof json) {
    case "number":
      return { $typeName: "google.protobuf.Value", kind: { case: "numberValue", value: json } };
    case "string":
      return { $typeName: "google.protobuf.Value", kind: { case: "stringValue", value: json } };
    case "boolean":
      return { $typeName: "google.protobuf.Value", kind: { case: "boolValue", value: json } };
    case "object": {
      if (json === null)
        return { $typeName: "google.protobuf.Value", kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
      if (Array.isArray(json)) {
        const list: ListValue = {
          $typeName: "google.protobuf.ListValue",
          values: json.map((v) => valueOf(v, depth + 1)),
        };
        return { $typeName: "google.protobuf.Value", kind: { case: "listValue", value: list } };
      }
      const struct: Struct = { $typeName: "google.protobuf.Struct", fields: {} };
      const keys = Object.keys(json);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const v = (json as JsonObject)[key];
        // __proto__ and undefined: protobuf-es's own handling.
        if (v === undefined || key === "__proto__") throw UNUSUAL;
        struct.fields[key] = valueOf(v, depth + 1);
      }
      return { $typeName: "google.protobuf.Value", kind: { case: "structValue", value: struct } };
    }
    default:
      throw UNUSUAL;
  }
}

function jsonOf(value: Value, depth: number): JsonValue {
  if (depth > FAST_DEPTH) throw UNUSUAL;
  const { kind } = value;
  switch (kind.case) {
    case "nullValue":
      return null;
    case "numberValue":
      if (!Number.isFinite(kind.value)) throw UNUSUAL;
      return kind.value;
    case "boolValue":
    case "stringValue":
      return kind.value;
    case "structValue": {
      const out: JsonObject = {};
      const { fields } = kind.value;
      const keys = Object.keys(fields);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (key === "__proto__") throw UNUSUAL;
        out[key] = jsonOf(fields[key]!, depth + 1);
      }
      return out;
    }
    case "listValue":
      return kind.value.values.map((v) => jsonOf(v, depth + 1));
    default:
      throw UNUSUAL;
  }
}
