// Pretty JSON; a payload too large to show whole is cut, with a link that
// downloads all of it (a blob: URL made in the page, so the API key never
// goes into a URL).
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { h } from "./dom.js";

/** Characters shown before the rest is cut. */
export const SHOW_AT_MOST = 20_000;

export function valueToJson(value: Value | undefined): JsonValue {
  return value ? toJson(ValueSchema, value) : null;
}

export function jsonToValue(json: JsonValue): Value {
  return fromJson(ValueSchema, json);
}

export function jsonView(json: JsonValue, fileName: string): HTMLElement {
  const text = JSON.stringify(json, null, 2);
  const pre = h("pre", { class: "json", tabindex: 0 });
  if (text.length <= SHOW_AT_MOST) {
    pre.textContent = text;
    return pre;
  }
  pre.textContent = `${text.slice(0, SHOW_AT_MOST)}\n…`;
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const kib = Math.ceil(new TextEncoder().encode(text).length / 1024);
  return h(
    "div",
    {},
    pre,
    h(
      "p",
      { class: "cut" },
      `Showing the first ${SHOW_AT_MOST.toLocaleString()} characters. `,
      h("a", { href: url, download: fileName }, `Download all (${kib.toLocaleString()} KiB)`),
    ),
  );
}
