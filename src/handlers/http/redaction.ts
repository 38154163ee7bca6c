/**
 * Redaction of secret values from text a third party sent back. A secret is
 * searched for in several encodings (raw, base64 standard and url-safe, hex,
 * percent-encoded), case-insensitively where the encoding allows it, and in
 * several decoded views of the text (as is, JSON string escapes undone,
 * percent-escapes undone), so `sk\/x`, `\u0073k-x`, `SK-X`, `c2stee…` and
 * `%73k-x` are all found. Matches are replaced by [REDACTED] in the original
 * text. What this cannot catch (fragments, other encodings, encryption) is
 * why secrets are also bound to URL prefixes.
 */
import type { JsonValue } from "@bufbuild/protobuf";

export const REDACTED = "[REDACTED]";

/** Shorter encoded forms would match innocent text too often. */
const MIN_NEEDLE_LENGTH = 4;

export interface Redactor {
  /** The text with every found form of every secret replaced. */
  text(text: string): string;
  /** A JSON value with every string (keys too) redacted. */
  json(value: JsonValue): JsonValue;
}

interface Needle {
  text: string;
  /** Compared with ASCII letters folded to lower case. */
  foldCase: boolean;
}

export function createRedactor(secretValues: readonly string[]): Redactor {
  const needles = secretValues.filter((v) => v.length > 0).flatMap(needlesOf);
  const text = (input: string) => (needles.length === 0 ? input : redactText(input, needles));
  const json = (value: JsonValue): JsonValue => {
    if (typeof value === "string") return text(value);
    // A secret of digits could come back as a JSON number.
    if (typeof value === "number") return text(String(value)) === String(value) ? value : REDACTED;
    if (Array.isArray(value)) return value.map(json);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [text(k), json(v)]));
    }
    return value;
  };
  return { text, json };
}

/** Every encoded form of one secret that is searched for. */
function needlesOf(secret: string): Needle[] {
  const bytes = Buffer.from(secret, "utf8");
  const out: Needle[] = [
    { text: secret, foldCase: true },
    { text: bytes.toString("hex"), foldCase: true },
    { text: encodeURIComponent(secret), foldCase: true },
  ];
  for (const core of base64Cores(bytes)) {
    out.push({ text: core, foldCase: false });
    out.push({ text: core.replaceAll("+", "-").replaceAll("/", "_"), foldCase: false });
  }
  const seen = new Set<string>();
  return out.filter((n) => {
    const key = `${n.foldCase}:${n.text}`;
    if (n.text.length < MIN_NEEDLE_LENGTH || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The secret's bytes start at offset 0, 1 or 2 of a base64 group depending on
 * what precedes them ("Bearer ", "user:"): for each alignment, the characters
 * that only the secret's bits determine. One of them appears in any base64
 * text whose decoding contains the secret.
 */
function base64Cores(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64");
    const first = Math.ceil((shift * 8) / 6);
    const end = Math.floor(((shift + bytes.length) * 8) / 6);
    if (end > first) cores.push(encoded.slice(first, end));
  }
  return cores;
}

/** A decoded form of a text, each decoded character mapped back to its span in the original. */
interface View {
  text: string;
  /** Original start of decoded char i. */
  start(i: number): number;
  /** Original end (exclusive) of decoded char i. */
  end(i: number): number;
}

function redactText(original: string, needles: Needle[]): string {
  const spans: [number, number][] = [];
  for (const view of viewsOf(original)) {
    const folded = foldAscii(view.text);
    for (const needle of needles) {
      const haystack = needle.foldCase ? folded : view.text;
      const target = needle.foldCase ? foldAscii(needle.text) : needle.text;
      for (let at = haystack.indexOf(target); at !== -1; at = haystack.indexOf(target, at + 1)) {
        spans.push([view.start(at), view.end(at + target.length - 1)]);
      }
    }
  }
  return replaceSpans(original, spans);
}

function viewsOf(text: string): View[] {
  const views = [identityView(text)];
  if (text.includes("\\")) views.push(decodedView(text, jsonEscapeAt));
  if (text.includes("%")) views.push(decodedView(text, percentEscapeAt));
  if (/[\r\n]/.test(text)) views.push(decodedView(text, lineBreakAt));
  return views;
}

function identityView(text: string): View {
  return { text, start: (i) => i, end: (i) => i + 1 };
}

/** At index i: [decoded text, original length] of an escape starting there, or undefined. */
type EscapeReader = (text: string, i: number) => [string, number] | undefined;

function decodedView(text: string, readEscape: EscapeReader): View {
  const out: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < text.length; ) {
    const escape = readEscape(text, i);
    const [chars, length] = escape ?? [text[i]!, 1];
    for (const c of chars) {
      out.push(c);
      starts.push(i);
      ends.push(i + length);
    }
    i += length;
  }
  return { text: out.join(""), start: (i) => starts[i]!, end: (i) => ends[i]! };
}

const JSON_ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

const jsonEscapeAt: EscapeReader = (text, i) => {
  if (text[i] !== "\\") return undefined;
  const next = text[i + 1];
  if (next === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
    return [String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)), 6];
  }
  const simple = next === undefined ? undefined : JSON_ESCAPES[next];
  return simple === undefined ? undefined : [simple, 2];
};

const percentEscapeAt: EscapeReader = (text, i) => {
  if (text[i] !== "%" || !/^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) return undefined;
  return [String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16)), 3];
};

/** Line breaks vanish: base64 and hex are often wrapped at 64 or 76 columns. */
const lineBreakAt: EscapeReader = (text, i) => (text[i] === "\r" || text[i] === "\n" ? ["", 1] : undefined);

/** Lower-cases A-Z only, so indexes stay those of the original. */
function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function replaceSpans(text: string, spans: [number, number][]): string {
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([span[0], span[1]]);
  }
  let out = "";
  let at = 0;
  for (const [start, end] of merged) {
    out += text.slice(at, start) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}
