/**
 * The `http` queue's input, one schema for the API (checked at Submit) and
 * the worker (checked again before the request). Seed-style names are
 * accepted beside jetq's: `data` for `body`, `secret` for `clientSecretName`.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { z } from "zod";
import { HttpInputError } from "./errors.js";

export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const FIELDS = "url, method, headers, body (or data), params, clientSecretName (or secret)";

const InputSchema = z
  .object(
    {
      url: z.string({ error: "is required: a string like https://api.example.com/v1/..." }).min(1, "must not be empty"),
      method: z
        .string({ error: "must be a string" })
        .transform((m) => m.toUpperCase())
        .pipe(z.enum(METHODS, { error: `must be one of ${METHODS.join(", ")}` }))
        .optional(),
      headers: z
        .record(
          z.string().regex(HEADER_NAME),
          z.string({ error: "must be a string" }).regex(/^[^\r\n\0]*$/, "must not contain line breaks or NUL"),
          { error: "must be an object of strings" },
        )
        .optional(),
      body: z.json().optional(),
      data: z.json().optional(),
      params: z
        .record(z.string(), z.union([z.string(), z.number()], { error: "must be a string or a number" }), {
          error: "must be an object of strings or numbers",
        })
        .optional(),
      clientSecretName: z.string({ error: "must be a string" }).min(1, "must not be empty").optional(),
      secret: z.string({ error: "must be a string" }).min(1, "must not be empty").optional(),
    },
    { error: 'must be an object like {"url": "https://...", "method": "POST"}' },
  )
  .strict();

/** A valid input, its synonyms folded. Placeholders are still unsubstituted. */
export interface HttpRequestSpec {
  method: (typeof METHODS)[number];
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The body is JSON the job gave as a value: placeholders in it are inside JSON strings. */
  bodyIsJson: boolean;
  params: [string, string][];
  /** The secret `$CLIENT_SECRET` stands for, as the job named it. */
  secretName?: string;
}

/** Throws HttpInputError naming the first bad field. */
export function parseHttpInput(input: JsonValue): HttpRequestSpec {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) throw new HttpInputError(describeIssue(parsed.error.issues[0]!));
  const { url, method = "GET", headers = {}, body, data, params = {}, clientSecretName, secret } = parsed.data;
  if (body !== undefined && data !== undefined) throw new HttpInputError("input.data: give body or data, not both");
  if (clientSecretName !== undefined && secret !== undefined) {
    throw new HttpInputError("input.secret: give clientSecretName or secret, not both");
  }
  const spec: HttpRequestSpec = {
    method,
    url,
    headers: { ...headers },
    bodyIsJson: false,
    params: Object.entries(params).map(([k, v]) => [k, String(v)]),
    secretName: clientSecretName ?? secret,
  };
  const content = body ?? data;
  if (content !== undefined && content !== null && (method === "GET" || method === "HEAD")) {
    // fetch() refuses such a request: say so now instead of failing every attempt.
    throw new HttpInputError(
      `input.${body !== undefined ? "body" : "data"}: a ${method} request has no body; use POST, or params for the query`,
    );
  }
  if (content !== undefined && content !== null) {
    spec.body = typeof content === "string" ? content : JSON.stringify(content);
    spec.bodyIsJson = typeof content !== "string";
    const typed = Object.keys(headers).some((h) => h.toLowerCase() === "content-type");
    if (typeof content !== "string" && !typed) spec.headers["content-type"] = "application/json";
  }
  return spec;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = ["input", ...issue.path.map(String)].join(".");
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.map((k) => JSON.stringify(k)).join(", ");
    return `${field}: unknown field ${names}; the http queue takes ${FIELDS}`;
  }
  // Only headers have keys that can be invalid; zod reports them with the record's message.
  if (issue.code === "invalid_key") return `${field}: is not a valid header name`;
  return `${field}: ${issue.message}`;
}
