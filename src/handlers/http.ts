/**
 * http: queue calls to third-party APIs. The caller describes the request and
 * writes `$NAME` where a secret belongs (`Authorization: Bearer $CLIENT_SECRET`);
 * the worker substitutes the secret from its own configuration, so callers
 * never hold it and it never enters a job's input, output, logs or errors.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { PermanentError, type Handler, type JobContext } from "../worker/index.js";

export interface HttpHandlerOptions {
  /** Hosts the handler may call: "api.example.com", "*.example.com", "127.0.0.1:8443". */
  allowedHosts: string[];
  /** Secret values by name, substituted for `$NAME`. */
  secrets?: Record<string, string>;
  /** Per request, unless the job's own timeout is shorter. Default 60 s. */
  timeoutMs?: number;
  /** Larger responses fail the attempt (code RESPONSE_TOO_LARGE). Default 8 MiB. */
  maxResponseBytes?: number;
}

interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

const PLACEHOLDER = /\$([A-Z][A-Z0-9_]*)/g;
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const REDACTED = "[REDACTED]";
/** Statuses worth another attempt: the request may succeed later. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export function createHttpHandler(options: HttpHandlerOptions): Handler {
  const secrets = options.secrets ?? {};
  const secretValues = Object.values(secrets).filter((v) => v.length > 0);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxResponseBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;
  const isAllowed = hostMatcher(options.allowedHosts);
  const redact = (text: string) => redactSecrets(text, secretValues);

  return async (input: JsonValue, ctx: JobContext) => {
    const spec = readSpec(input);
    const target = parseUrl(spec.url);
    if (!isAllowed(target)) {
      throw new PermanentError(
        `host "${target.host}" is not allowed: the worker's JETQ_HTTP_ALLOWED_HOSTS does not list it`,
        "HOST_NOT_ALLOWED",
      );
    }
    const fill = (text: string) => substitute(text, secrets);
    const headers = Object.fromEntries(Object.entries(spec.headers).map(([k, v]) => [k, fill(v)]));
    ctx.log("info", `${spec.method} ${spec.url}`);

    let response: Response;
    try {
      response = await fetch(fill(spec.url), {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : fill(spec.body),
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
        redirect: "manual",
      });
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      // Network errors are worth a retry; the message may quote the URL, so redact.
      throw new Error(redact(`request failed: ${errorMessage(err)}`));
    }

    const text = redact(await readLimited(response, maxResponseBytes));
    // Redirects are not followed (they could leave the allowed hosts): a 3xx is an output.
    if (response.status >= 400) {
      const message = `${spec.method} ${spec.url} answered ${response.status}: ${text.slice(0, 500)}`;
      if (RETRYABLE_STATUS.has(response.status)) throw new Error(message);
      throw new PermanentError(message, `HTTP_${response.status}`);
    }
    return {
      status: response.status,
      headers: redactHeaders(response.headers, redact),
      body: parseBody(text, response.headers.get("content-type")),
    };
  };
}

function readSpec(input: JsonValue): HttpRequestSpec {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new PermanentError('input must be an object like {"url": "https://...", "method": "POST"}', "INVALID_INPUT");
  }
  const { url, method = "GET", headers = {}, body } = input;
  if (typeof url !== "string" || url === "") {
    throw new PermanentError("input.url must be a non-empty string", "INVALID_INPUT");
  }
  if (typeof method !== "string" || !METHODS.has(method.toUpperCase())) {
    throw new PermanentError(`input.method must be one of ${[...METHODS].join(", ")}`, "INVALID_INPUT");
  }
  if (headers === null || typeof headers !== "object" || Array.isArray(headers)) {
    throw new PermanentError("input.headers must be an object of strings", "INVALID_INPUT");
  }
  const headerStrings: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") {
      throw new PermanentError(`input.headers.${name} must be a string`, "INVALID_INPUT");
    }
    headerStrings[name] = value;
  }
  const spec: HttpRequestSpec = { method: method.toUpperCase(), url, headers: headerStrings };
  if (body !== undefined && body !== null) {
    spec.body = typeof body === "string" ? body : JSON.stringify(body);
    if (typeof body !== "string" && !Object.keys(headerStrings).some((h) => h.toLowerCase() === "content-type")) {
      spec.headers["content-type"] = "application/json";
    }
  }
  return spec;
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PermanentError(`input.url ${JSON.stringify(raw.slice(0, 200))} is not a URL`, "INVALID_INPUT");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new PermanentError(`input.url must be http or https, not ${url.protocol}`, "INVALID_INPUT");
  }
  if (url.username || url.password) {
    throw new PermanentError("input.url must not carry credentials; use a $SECRET in a header", "INVALID_INPUT");
  }
  return url;
}

/** "*.example.com" matches subdomains only; an entry with a port matches that port only. */
function hostMatcher(allowed: string[]): (url: URL) => boolean {
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

function substitute(text: string, secrets: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => {
    const value = secrets[name];
    if (value === undefined) {
      throw new PermanentError(
        `unknown secret $${name}: the worker has no JETQ_SECRET_${name}`,
        "UNKNOWN_SECRET",
      );
    }
    return value;
  });
}

function redactSecrets(text: string, values: string[]): string {
  let out = text;
  for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED);
  return out;
}

function redactHeaders(headers: Headers, redact: (s: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    out[name] = redact(value);
  });
  return out;
}

async function readLimited(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => undefined);
      throw new PermanentError(`response is larger than ${limit} bytes`, "RESPONSE_TOO_LARGE");
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseBody(text: string, contentType: string | null): JsonValue {
  if (contentType && /\bjson\b/i.test(contentType) && text !== "") {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      return text;
    }
  }
  return text;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
