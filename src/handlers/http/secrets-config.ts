/**
 * The `http` handler's secrets from the environment:
 *   JETQ_SECRETS={"OPENAI": ["https://api.openai.com/v1/"]}   names and URL prefixes
 *   JETQ_SECRET_OPENAI=sk-...                                  each value
 *   JETQ_TENANT_SECRETS={"acme": ["openai"], "ops": "*"}       grants, with API keys on
 * Problems name variables and secrets, never a value.
 */
import { parseSecretGrants, type SecretGrants } from "../../auth/index.js";
import { createSecretCatalog, normalizeSecretName, SECRET_NAME_PATTERN, type SecretDeclaration } from "./secrets.js";
import { hostMatcher, parseUrlPrefix } from "./url-policy.js";

const VALUE_PREFIX = "JETQ_SECRET_";

export interface SecretsConfig {
  declarations: SecretDeclaration[];
  grants?: SecretGrants;
  problems: string[];
}

export function readSecretDeclarations(env: NodeJS.ProcessEnv, allowedHosts: string[] | undefined): SecretsConfig {
  const problems: string[] = [];
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(VALUE_PREFIX) || key.length === VALUE_PREFIX.length || !value) continue;
    const name = key.slice(VALUE_PREFIX.length);
    if (!SECRET_NAME_PATTERN.test(name))
      problems.push(`  ${key} (value not shown): the name must be letters, digits and "_"`);
    else values.set(normalizeSecretName(name), value);
  }
  const prefixes = readPrefixes(env.JETQ_SECRETS, problems);
  const names = new Set([...values.keys(), ...prefixes.keys()]);
  const declarations = [...names].map((name) => ({ name, value: values.get(name), prefixes: prefixes.get(name) }));
  try {
    createSecretCatalog(declarations);
  } catch (err) {
    problems.push(`  JETQ_SECRETS: ${(err as Error).message}`);
  }
  checkPrefixHosts(prefixes, allowedHosts, problems);
  const grants = readGrants(env.JETQ_TENANT_SECRETS, names, problems);
  return { declarations, grants, problems };
}

/** {"NAME": "prefix" | ["prefix", ...]} by upper-case name. */
function readPrefixes(text: string | undefined, problems: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (text === undefined || text.trim() === "") return out;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    problems.push('  JETQ_SECRETS: is not valid JSON (expected e.g. {"OPENAI": ["https://api.openai.com/v1/"]})');
    return out;
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    problems.push("  JETQ_SECRETS: must be a JSON object of secret name -> URL prefix(es)");
    return out;
  }
  for (const [name, value] of Object.entries(doc)) {
    const list: unknown[] = Array.isArray(value) ? value : [value];
    if (list.length === 0 || !list.every((p) => typeof p === "string")) {
      problems.push(`  JETQ_SECRETS: ${name}: must be a URL prefix or a non-empty list of them`);
    } else if (!SECRET_NAME_PATTERN.test(name)) {
      problems.push(
        `  JETQ_SECRETS: ${JSON.stringify(name)}: a secret name is letters, digits and "_", starting with a letter`,
      );
    } else {
      out.set(normalizeSecretName(name), list as string[]);
    }
  }
  return out;
}

/** A prefix on a host the handler may not call is a typo: say so at start. */
function checkPrefixHosts(
  prefixes: Map<string, string[]>,
  allowedHosts: string[] | undefined,
  problems: string[],
): void {
  const allowed = hostMatcher(allowedHosts ?? []);
  for (const [name, list] of prefixes) {
    for (const text of list) {
      let origin: string;
      try {
        origin = parseUrlPrefix(text).origin;
      } catch {
        continue; // reported by createSecretCatalog
      }
      if (!allowed(new URL(origin))) {
        problems.push(
          `  JETQ_SECRETS: ${name}: ${JSON.stringify(text)} is on a host JETQ_HTTP_ALLOWED_HOSTS does not list`,
        );
      }
    }
  }
}

function readGrants(text: string | undefined, declared: Set<string>, problems: string[]): SecretGrants | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  let grants: SecretGrants;
  try {
    grants = parseSecretGrants(text);
  } catch (err) {
    problems.push(`  JETQ_TENANT_SECRETS: ${(err as Error).message}`);
    return undefined;
  }
  for (const [tenant, names] of Object.entries(grants)) {
    if (names === "*") continue;
    const unknown = names.filter((n) => !declared.has(normalizeSecretName(n)));
    if (unknown.length > 0)
      problems.push(`  JETQ_TENANT_SECRETS: ${tenant}: ${unknown.join(", ")} is not a declared secret`);
  }
  return grants;
}
