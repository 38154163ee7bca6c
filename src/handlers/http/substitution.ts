/**
 * Puts secret values where their placeholders are. Only the placeholders of
 * `used` are replaced; any other `$WORD` is sent exactly as written. In the
 * URL a value is percent-encoded, so it stays inside the path or query it
 * was written in; in a JSON body it is JSON-escaped, so it stays inside the
 * string it was written in.
 */
import type { HttpRequestSpec } from "./input.js";
import { PLACEHOLDER } from "./secrets.js";

export interface FinalRequest {
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** used: placeholder name -> secret value. */
export function substitute(spec: HttpRequestSpec, used: ReadonlyMap<string, string>): FinalRequest {
  const fill = (text: string, encode: (v: string) => string = (v) => v) =>
    text.replace(PLACEHOLDER, (match, name: string) => {
      const value = used.get(name);
      return value === undefined ? match : encode(value);
    });
  const url = new URL(fill(spec.url, encodeURIComponent));
  for (const [name, value] of spec.params) url.searchParams.append(name, fill(value));
  const headers = Object.fromEntries(Object.entries(spec.headers).map(([k, v]) => [k, fill(v)]));
  const jsonString = (v: string) => JSON.stringify(v).slice(1, -1);
  const body = spec.body === undefined ? undefined : fill(spec.body, spec.bodyIsJson ? jsonString : undefined);
  return { url, headers, body };
}
