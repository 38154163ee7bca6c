/**
 * JETQ_TENANT_SECRETS: which declared secrets each tenant's keys may use,
 * e.g. {"acme": ["openai"], "ops": "*"}. With API keys on, a tenant not
 * listed may use none; without keys (an open server) every secret is usable.
 */
import { z } from "zod";
import type { Principal } from "./types.js";

export type SecretGrants = Readonly<Record<string, "*" | readonly string[]>>;

const GrantsSchema = z.record(
  z.string(),
  z.union([z.literal("*"), z.array(z.string().min(1))], { error: 'must be "*" or a list of secret names' }),
  { error: 'must be a JSON object like {"acme": ["openai"], "ops": "*"}' },
);

/** Throws Error saying what is wrong. */
export function parseSecretGrants(text: string): SecretGrants {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('is not valid JSON (expected e.g. {"acme": ["openai"], "ops": "*"})');
  }
  const parsed = GrantsSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.map(String).join(".") || "(top level)"}: ${issue.message}`);
  }
  return parsed.data;
}

/** A denial message for the client, or undefined when the caller may use the secret. */
export function checkSecret(
  principal: Principal | undefined,
  grants: SecretGrants,
  secretName: string,
): string | undefined {
  if (!principal) return undefined;
  const granted = Object.hasOwn(grants, principal.tenant) ? grants[principal.tenant] : undefined;
  if (granted === "*" || granted?.some((name) => name.toUpperCase() === secretName.toUpperCase())) return undefined;
  return `secret ${secretName}: tenant "${principal.tenant}" is not granted it (JETQ_TENANT_SECRETS)`;
}
