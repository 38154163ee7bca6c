/**
 * JETQ_AUTH_FILE: API keys with more than a tenant.
 *
 *   { "keys": [
 *       { "key": "…", "tenant": "acme", "role": "submitter", "queues": ["echo"], "rate_limit": "10/s,20" },
 *       { "key_sha256": "<hex>", "name": "dashboard", "tenant": "acme", "role": "reader" } ] }
 *
 * Errors name the entry and field, never a key's value.
 */
import { z } from "zod";
import { parseRateLimit } from "./rate-limit.js";
import { ROLES, type ApiKeyInput, type RateLimit } from "./types.js";

const rateLimit = z.string().transform((text, ctx): RateLimit | null => {
  if (text.trim().toLowerCase() === "off") return null;
  try {
    return parseRateLimit(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

const KeySchema = z
  .object({
    // Messages are fixed strings: zod's defaults could quote the value.
    key: z.string({ error: "must be a string" }).min(1, "must not be empty").optional(),
    key_sha256: z
      .string({ error: "must be a string" })
      .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits")
      .optional(),
    name: z.string().min(1).max(100).optional(),
    tenant: z.string({ error: "is required (a string)" }).min(1, "must not be empty"),
    role: z.enum(ROLES as [string, ...string[]], { error: `must be one of ${ROLES.join(", ")}` }).optional(),
    queues: z
      .union([z.literal("*"), z.array(z.string())], { error: 'must be "*" or a list of queue names' })
      .optional(),
    rate_limit: rateLimit.optional(),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.key_sha256 === undefined), {
    message: "give exactly one of key and key_sha256",
  });

const FileSchema = z.object({ keys: z.array(KeySchema) }).strict();

export function parseAuthFile(text: string): ApiKeyInput[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a key.
    throw new Error("is not valid JSON");
  }
  const parsed = FileSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
      const message = issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message;
      return `${path.replace(/^\./, "") || "(top level)"}: ${message}`;
    });
    throw new Error(issues.join("; "));
  }
  return parsed.data.keys.map((k): ApiKeyInput => ({
    key: k.key,
    keySha256: k.key_sha256,
    name: k.name,
    tenant: k.tenant,
    role: k.role as ApiKeyInput["role"],
    queues: k.queues,
    rateLimit: k.rate_limit,
  }));
}
