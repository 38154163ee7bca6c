/**
 * Where a request may go. The URL a job gives is checked before
 * substitution (no placeholder may reach the scheme, host or port, so a
 * secret never becomes a DNS lookup), and the final URL after it (the host
 * allow-list, each secret's URL prefixes). URLs are compared parsed and
 * normalised, so `..` and `%2e%2e` cannot climb out of a prefix.
 */
import { HttpInputError } from "./errors.js";

/** A secret's allowed destination: scheme, host and port, and a path prefix. */
export interface UrlPrefix {
  /** "https://api.example.com" (default port left out, as URL.origin does). */
  origin: string;
  /** Always starts with "/". */
  path: string;
  /** As configured, for messages. */
  text: string;
}

/** The job's URL, placeholders unsubstituted. Throws HttpInputError. */
export function parseTemplateUrl(raw: string): URL {
  // Checked on the text too: "http://$NAME.10.0.0.1/" does not even parse, and should say why.
  const authority = /^[^:/?#]*:[/\\]*([^/?#\\]*)/.exec(raw)?.[1] ?? "";
  if (authority.includes("$")) throw placeholderInHost();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HttpInputError(`input.url: ${JSON.stringify(raw.slice(0, 200))} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new HttpInputError(`input.url: must be http or https, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new HttpInputError("input.url: must not carry credentials; put $CLIENT_SECRET in a header");
  }
  if (`${url.hostname}:${url.port}`.includes("$")) throw placeholderInHost();
  return url;
}

function placeholderInHost(): HttpInputError {
  return new HttpInputError(
    "input.url: a placeholder ($...) in the host or port is refused: a secret goes only into the path, query, headers and body",
  );
}

/** "*.example.com" matches subdomains only; an entry with a port matches that port only. */
export function hostMatcher(allowed: readonly string[]): (url: URL) => boolean {
  const entries = allowed.map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
  return (url) => {
    const host = url.hostname.toLowerCase();
    const hostPort = url.host.toLowerCase();
    return entries.some((entry) => {
      if (entry.startsWith("*.")) return host.endsWith(entry.slice(1));
      return entry.includes(":") && !entry.startsWith("[") ? entry === hostPort : entry === host || entry === hostPort;
    });
  };
}

export function requireAllowedHost(url: URL, isAllowed: (url: URL) => boolean): void {
  if (!isAllowed(url)) {
    throw new HttpInputError(
      `input.url: host "${url.host}" is not allowed: JETQ_HTTP_ALLOWED_HOSTS does not list it`,
      "HOST_NOT_ALLOWED",
    );
  }
}

/** Throws Error (for config) when the prefix is not an absolute http(s) URL without query or credentials. */
export function parseUrlPrefix(text: string): UrlPrefix {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new Error(`${JSON.stringify(text)}: must be http or https`);
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(
      `${JSON.stringify(text)}: a prefix is scheme, host, optional port and path; no credentials, query or fragment`,
    );
  }
  if (hasEncodedSeparator(url.pathname))
    throw new Error(`${JSON.stringify(text)}: the path must not hold %2e, %2f or %5c`);
  return { origin: url.origin, path: url.pathname, text };
}

/** Same origin, and the path is the prefix's or below it ("/v1" covers "/v1/x", not "/v10"). */
export function withinPrefix(url: URL, prefix: UrlPrefix): boolean {
  if (url.origin !== prefix.origin) return false;
  const path = url.pathname;
  if (path === prefix.path) return true;
  return path.startsWith(prefix.path.endsWith("/") ? prefix.path : `${prefix.path}/`);
}

/** Whether the origin alone already rules the URL out (a check that does not need the final path). */
export function originWithin(url: URL, prefixes: readonly UrlPrefix[]): boolean {
  return prefixes.some((p) => p.origin === url.origin);
}

/**
 * Encoded dots and slashes are left alone by the URL parser but decoded by
 * some servers, which would then resolve a `..` the prefix check never saw.
 */
export function hasEncodedSeparator(path: string): boolean {
  return /%2e|%2f|%5c/i.test(path);
}
