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
  /** Compared case-insensitively. */
  foldCase: boolean;
}

export function createRedactor(secretValues: readonly string[]): Redactor {
  const needles = secretValues.filter((v) => v.length > 0).flatMap(needlesOf);
  const shortest = Math.min(...needles.map((n) => n.text.length));
  // Shorter than every needle: nothing to find (escapes only make a text longer than what it says).
  const text = (input: string) =>
    needles.length === 0 || input.length < shortest ? input : redactText(input, needles);
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
  const encoded: Needle[] = [
    { text: bytes.toString("hex"), foldCase: true },
    { text: encodeURIComponent(secret), foldCase: true },
  ];
  for (const core of base64Cores(bytes)) {
    encoded.push({ text: core, foldCase: false });
    encoded.push({ text: core.replaceAll("+", "-").replaceAll("/", "_"), foldCase: false });
  }
  const seen = new Set<string>([`true:${secret}`]);
  // The secret itself is always searched for, however short.
  return [
    { text: secret, foldCase: true },
    ...encoded.filter((n) => {
      const key = `${n.foldCase}:${n.text}`;
      if (n.text.length < MIN_NEEDLE_LENGTH || seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
  ];
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

/** A decoded form of a text; `origin` maps a decoded range back to the original. */
interface View {
  text: string;
  /** [start, end) in the original of decoded characters [from, to). */
  origin(from: number, to: number): [number, number];
}

function redactText(original: string, needles: Needle[]): string {
  const spans: [number, number][] = [];
  for (const view of viewsOf(original)) {
    const folded = fold(view.text);
    for (const needle of needles) {
      const haystack = needle.foldCase ? folded.text : view.text;
      const target = needle.foldCase ? fold(needle.text, folded.ascii).text : needle.text;
      for (let at = haystack.indexOf(target); at !== -1; at = haystack.indexOf(target, at + 1)) {
        spans.push(view.origin(at, at + target.length));
      }
    }
  }
  return replaceSpans(original, spans);
}

/** A decoding: what to find in the text, and what each match stands for. */
interface Decoding {
  pattern: RegExp;
  decode: (match: string) => string;
}

const JSON_ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

const DECODINGS: Decoding[] = [
  {
    pattern: /\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])/g,
    decode: (m) => (m[1] === "u" ? String.fromCharCode(parseInt(m.slice(2), 16)) : JSON_ESCAPES[m[1]!]!),
  },
  { pattern: /%[0-9a-fA-F]{2}/g, decode: (m) => String.fromCharCode(parseInt(m.slice(1), 16)) },
  // Base64 and hex are often wrapped at 64 or 76 columns.
  { pattern: /[\r\n]+/g, decode: () => "" },
];

/**
 * The text as is, and decoded by every combination of DECODINGS (in their
 * order) whose escapes it holds, so an escape inside another (JSON-escaped
 * percent-encoding) is undone too.
 */
function viewsOf(text: string): View[] {
  let views: View[] = [{ text, origin: (from, to) => [from, to] }];
  for (const decoding of DECODINGS) {
    const decoded = views.flatMap((view) => {
      decoding.pattern.lastIndex = 0;
      return decoding.pattern.test(view.text) ? [decodedView(view, decoding)] : [];
    });
    views = [...views, ...decoded];
  }
  return views;
}

/**
 * Decoding is one native replace(); the map back to the original is built
 * only when a secret was found, which is rare (answers may be megabytes).
 */
function decodedView(base: View, decoding: Decoding): View {
  const decoded = base.text.replace(decoding.pattern, decoding.decode);
  let map: { starts: Uint32Array; ends: Uint32Array } | undefined;
  return {
    text: decoded,
    origin(from, to) {
      map ??= mapToOriginal(base.text, decoded.length, decoding);
      return base.origin(map.starts[from]!, map.ends[to - 1]!);
    },
  };
}

function mapToOriginal(text: string, length: number, decoding: Decoding) {
  const starts = new Uint32Array(length);
  const ends = new Uint32Array(length);
  let n = 0;
  let plainFrom = 0;
  for (const match of text.matchAll(decoding.pattern)) {
    for (let k = plainFrom; k < match.index; k++, n++) {
      starts[n] = k;
      ends[n] = k + 1;
    }
    const chars = decoding.decode(match[0]).length;
    for (let k = 0; k < chars; k++, n++) {
      starts[n] = match.index;
      ends[n] = match.index + match[0].length;
    }
    plainFrom = match.index + match[0].length;
  }
  for (let k = plainFrom; k < text.length; k++, n++) {
    starts[n] = k;
    ends[n] = k + 1;
  }
  return { starts, ends };
}

/**
 * Lower case with every index kept: toLowerCase() when it keeps the length
 * (always for ASCII), else A-Z only. `ascii` says which, so a needle is
 * folded the same way as the text it is searched in.
 */
function fold(text: string, asciiOnly = false): { text: string; ascii: boolean } {
  if (!asciiOnly) {
    const lower = text.toLowerCase();
    if (lower.length === text.length) return { text: lower, ascii: false };
  }
  return { text: text.replace(/[A-Z]+/g, (c) => c.toLowerCase()), ascii: true };
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
