/**
 * The redactor on its own: every encoding of a secret a third party may send
 * back is found, in the raw text and in parsed JSON, and innocent text is
 * left alone.
 */
import { describe, expect, it } from "vitest";
import { createRedactor, REDACTED } from "../../src/handlers/http/index.js";
import { createRng } from "../fuzz/prng.js";
import { echoForms, leaks } from "./leak-detector.js";

const SECRET = "sk-Live/0123+abcdEF_xyz";
const redactor = createRedactor([SECRET]);

describe("redaction", () => {
  it.each(Object.entries(echoForms(SECRET)))("finds the %s form in text", (_form, echoed) => {
    const text = `{"error": "bad key ${echoed}", "n": 1}`;
    expect(leaks(text, SECRET), "the detector finds the echo").not.toEqual([]);
    const out = redactor.text(text);
    expect(leaks(out, SECRET), out).toEqual([]);
    expect(out).toContain(REDACTED);
  });

  it("finds a secret escaped character by character in raw JSON, and in the parsed value", () => {
    const escaped = [...SECRET].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");
    const raw = `{"echo":"${escaped}","slashes":"${SECRET.replaceAll("/", "\\/")}"}`;
    expect(leaks(redactor.text(raw), SECRET)).toEqual([]);
    const parsed = redactor.json(JSON.parse(raw));
    expect(parsed).toEqual({ echo: REDACTED, slashes: REDACTED });
  });

  it("replaces exactly the escaped span, leaving the text around it as it was", () => {
    const head = "x\\u0041y %41 \\n".repeat(500);
    const escaped = `${SECRET.slice(0, 3)}\\u00${SECRET.charCodeAt(3).toString(16)}${SECRET.slice(4).replaceAll("/", "\\/")}`;
    expect(redactor.text(`${head}[${escaped}] tail`)).toBe(`${head}[${REDACTED}] tail`);
    const percent = encodeURIComponent(SECRET).replace("L", "%4C");
    expect(redactor.text(`${head}<${percent}>`)).toBe(`${head}<${REDACTED}>`);
  });

  it("redacts object keys and numbers that spell a secret", () => {
    const digits = createRedactor(["987654321012"]);
    expect(digits.json({ "987654321012": 987654321012, ok: 5 })).toEqual({ [REDACTED]: REDACTED, ok: 5 });
  });

  it("finds the secret behind common prefixes in base64 (Basic, Bearer) and wrapped across lines", () => {
    for (const prefix of ["Bearer ", "user:", "x", "xy", ""]) {
      const b64 = Buffer.from(`${prefix}${SECRET}`).toString("base64");
      const wrapped = `${b64.slice(0, 10)}\r\n${b64.slice(10)}`;
      for (const text of [b64, b64.replaceAll("+", "-").replaceAll("/", "_"), wrapped]) {
        expect(leaks(redactor.text(`auth=${text}`), SECRET), `${prefix} ${text}`).toEqual([]);
      }
    }
  });

  it("redacts a secret too short for its encodings to be searched", () => {
    expect(createRedactor(["Xy7"]).text("a xy7 b")).toBe(`a ${REDACTED} b`);
  });

  it("random secrets, echoed in random forms behind random prefixes and escapes, never survive", () => {
    const seed = Number(process.env.FUZZ_SEED ?? 12);
    const rng = createRng(seed);
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+~=:";
    const escapeSome = (text: string) =>
      [...text]
        .map((c) => (rng.chance(0.3) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : c === "/" ? "\\/" : c))
        .join("");
    for (let i = 0; i < 400; i++) {
      const secret = Array.from({ length: rng.range(8, 48) }, () => rng.pick([...alphabet])).join("");
      const prefix = rng.pick(["", "Bearer ", "user:", "x", "key=", "Basic "]);
      const forms = echoForms(`${prefix}${secret}`);
      let echoed = forms[rng.pick(Object.keys(forms))]!;
      if (rng.chance(0.3)) echoed = escapeSome(echoed);
      const text = `${rng.pick(["", '{"e":"', "error: ", "%41"])}${echoed}${rng.pick(["", '"}', " end", "\n"])}`;
      const out = createRedactor([secret]).text(text);
      expect(leaks(out, secret), `seed ${seed} case ${i}: ${JSON.stringify(text)} -> ${JSON.stringify(out)}`).toEqual(
        [],
      );
    }
  });

  it("leaves text without the secret as it was", () => {
    const text = 'costs $USD 5, \\u0041 %41 {"a": "sk-Live"} c2stTGl2ZQ==';
    expect(redactor.text(text)).toBe(text);
    expect(redactor.json({ a: [1, "b", null, true] })).toEqual({ a: [1, "b", null, true] });
  });
});
