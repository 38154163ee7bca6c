/**
 * An independent check for a secret in text a caller or a log could see: it
 * decodes instead of matching known forms, so it also finds what the
 * redactor was not told about (mixed escapes, any base64 alignment).
 */

/** The ways the fake third-party API echoes a secret. */
export function echoForms(secret: string): Record<string, string> {
  return {
    raw: secret,
    "JSON-escaped": JSON.stringify(secret)
      .slice(1, -1)
      .replaceAll("/", "\\/")
      .replace(/[+k]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`),
    "percent-encoded": encodeURIComponent(secret),
    "percent-encoded, every byte": [...Buffer.from(secret)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""),
    base64: Buffer.from(secret).toString("base64"),
    "base64 url-safe": Buffer.from(secret).toString("base64url"),
    "base64 of Bearer": Buffer.from(`Bearer ${secret}`).toString("base64"),
    hex: Buffer.from(secret).toString("hex"),
    "HEX upper case": Buffer.from(secret).toString("hex").toUpperCase(),
    "lower case": secret.toLowerCase(),
    "upper case": secret.toUpperCase(),
  };
}

/** Names of the decodings of `text` that contain the secret (case-insensitively); [] = no leak. */
export function leaks(text: string, secret: string): string[] {
  const want = secret.toLowerCase();
  const found: string[] = [];
  const check = (name: string, decoded: string) => {
    if (decoded.toLowerCase().includes(want)) found.push(name);
  };
  check("raw", text);
  const unescaped = jsonUnescape(text);
  check("JSON escapes", unescaped);
  for (const [name, t] of [
    ["", text],
    ["JSON-unescaped ", unescaped],
  ] as const) {
    check(`${name}percent`, percentDecode(t));
    check(`${name}hex`, hexRuns(t));
    for (const run of t.replace(/\r?\n/g, "").match(/[A-Za-z0-9+/_=-]{8,}/g) ?? []) {
      for (let skip = 0; skip < 4; skip++) {
        const chunk = run.slice(skip).replaceAll("-", "+").replaceAll("_", "/");
        check(`${name}base64 (${run.slice(0, 12)}…)`, Buffer.from(chunk, "base64").toString("latin1"));
      }
    }
  }
  return found;
}

function jsonUnescape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])/g, (_m, hex: string | undefined, c: string | undefined) =>
    hex
      ? String.fromCharCode(parseInt(hex, 16))
      : (({ b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" } as Record<string, string>)[c!] ?? c!),
  );
}

function percentDecode(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Every run of hex digits decoded, at both nibble alignments. */
function hexRuns(text: string): string {
  return (text.match(/[0-9a-fA-F]{8,}/g) ?? [])
    .flatMap((run) =>
      [run, run.slice(1)].map((r) => Buffer.from(r.slice(0, r.length - (r.length % 2)), "hex").toString("latin1")),
    )
    .join("\n");
}
