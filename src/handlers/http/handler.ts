/**
 * http: queue calls to third-party APIs. The caller describes the request and
 * writes `$CLIENT_SECRET` where a secret belongs (`Authorization: Bearer
 * $CLIENT_SECRET`, naming it with `clientSecretName`); the worker fills in
 * the value from its own configuration, only for URLs under the secret's
 * prefixes, so callers never hold it. Everything the handler emits goes
 * through redaction (redacting-handler.ts).
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { PermanentError, type Handler, type JobContext } from "../../worker/index.js";
import { HttpInputError } from "./errors.js";
import { createRedactor } from "./redaction.js";
import { withRedaction } from "./redacting-handler.js";
import { createUrlPolicy, finalRequest, planRequest, type UrlPolicy } from "./request-plan.js";
import { createSecretCatalog, type SecretDeclaration } from "./secrets.js";

export interface HttpHandlerOptions {
  /** Hosts the handler may call: "api.example.com", "*.example.com", "127.0.0.1:8443". */
  allowedHosts: string[];
  /**
   * Declared secrets, each with its value and URL prefixes; or values by
   * name (`{CLIENT_SECRET: "sk-..."}`), each usable on every allowed host.
   */
  secrets?: readonly SecretDeclaration[] | Record<string, string>;
  /** Per request, unless the job's own timeout is shorter. Default 60 s. */
  timeoutMs?: number;
  /** Larger responses fail the attempt (code RESPONSE_TOO_LARGE). Default 8 MiB. */
  maxResponseBytes?: number;
}

/** Statuses worth another attempt: the request may succeed later. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

function secretDeclarations(secrets: HttpHandlerOptions["secrets"]): SecretDeclaration[] {
  if (secrets === undefined) return [];
  if (Array.isArray(secrets)) return [...(secrets as readonly SecretDeclaration[])];
  return Object.entries(secrets as Record<string, string>).map(([name, value]) => ({ name, value }));
}

/** Throws Error when a declared secret has no value: a worker would fail every job using it. */
export function createHttpHandler(options: HttpHandlerOptions): Handler {
  const catalog = createSecretCatalog(secretDeclarations(options.secrets));
  const missing = catalog.names.filter((name) => !catalog.get(name)!.value);
  if (missing.length > 0) {
    throw new Error(
      `http handler: secret(s) ${missing.join(", ")} declared without a value: set JETQ_SECRET_<NAME> on the worker`,
    );
  }
  const policy = createUrlPolicy(options.allowedHosts, catalog);
  const call = callApi(policy, options.timeoutMs ?? 60_000, options.maxResponseBytes ?? 8 * 1024 * 1024);
  return withRedaction(call, createRedactor(catalog.values));
}

function callApi(policy: UrlPolicy, timeoutMs: number, maxResponseBytes: number): Handler {
  return async (input: JsonValue, ctx: JobContext) => {
    const { plan, request } = prepare(input, policy);
    const shown = `${plan.spec.method} ${plan.spec.url}`;
    ctx.log("info", shown);
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: plan.spec.method,
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
        redirect: "manual",
      });
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      // Network errors are worth a retry. No `cause`: the library's error may
      // quote the filled-in URL, and loggers print causes; only this message
      // passes the redaction choke point.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`request failed: ${messageWithCause(err)}`);
    }
    const text = await readLimited(response, maxResponseBytes);
    // Redirects are not followed (they could leave the allowed hosts): a 3xx is an output.
    if (response.status >= 400) {
      const message = `${shown} answered ${response.status}: ${text}`;
      if (RETRYABLE_STATUS.has(response.status)) throw new Error(message);
      throw new PermanentError(message, `HTTP_${response.status}`);
    }
    return {
      status: response.status,
      headers: headersOf(response.headers),
      body: parseBody(text, response.headers.get("content-type")),
    };
  };
}

function prepare(input: JsonValue, policy: UrlPolicy) {
  try {
    const plan = planRequest(input, policy);
    return { plan, request: finalRequest(plan, policy) };
  } catch (err) {
    if (err instanceof HttpInputError) throw new PermanentError(err.message, err.code);
    throw err;
  }
}

function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name !== "set-cookie") out[name] = value;
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

/** JSON bodies are parsed first, so redaction sees the values escapes stood for. */
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

function messageWithCause(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
