/**
 * Declared secrets and which of them a request uses. A secret has a name
 * (matched case-insensitively), a value (from the worker's environment;
 * absent in an API process that only checks Submits) and the URL prefixes it
 * may be sent to (absent: every host of JETQ_HTTP_ALLOWED_HOSTS, the
 * `JETQ_SECRET_<NAME>` shorthand).
 */
import { HttpInputError } from "./errors.js";
import type { HttpRequestSpec } from "./input.js";
import { parseUrlPrefix, type UrlPrefix } from "./url-policy.js";

/** The placeholder that stands for the secret the job names (clientSecretName). */
export const CLIENT_SECRET = "CLIENT_SECRET";

/** `$NAME` with NAME in capitals: a placeholder only when NAME is declared (or is CLIENT_SECRET). */
export const PLACEHOLDER = /\$([A-Z][A-Z0-9_]*)/g;

export const SECRET_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

export interface SecretDeclaration {
  name: string;
  /** Never logged. Unset in a process that runs no http worker. */
  value?: string;
  /** Unset: every allowed host. */
  prefixes?: readonly string[];
}

export interface DeclaredSecret {
  /** Upper case. */
  name: string;
  value?: string;
  prefixes?: readonly UrlPrefix[];
}

export interface SecretCatalog {
  get(name: string): DeclaredSecret | undefined;
  readonly names: readonly string[];
  /** Every value, for redaction. */
  readonly values: readonly string[];
}

export const normalizeSecretName = (name: string) => name.toUpperCase();

/** Throws Error naming the secret when a declaration is unusable. */
export function createSecretCatalog(declarations: readonly SecretDeclaration[]): SecretCatalog {
  const byName = new Map<string, DeclaredSecret>();
  for (const d of declarations) {
    if (!SECRET_NAME_PATTERN.test(d.name))
      throw new Error(`secret name ${JSON.stringify(d.name)}: use letters, digits and "_", starting with a letter`);
    const name = normalizeSecretName(d.name);
    if (byName.has(name)) throw new Error(`secret ${name} is declared twice`);
    const prefixes = d.prefixes?.map((p) => {
      try {
        return parseUrlPrefix(p);
      } catch (err) {
        throw new Error(`secret ${name}: URL prefix ${(err as Error).message}`, { cause: err });
      }
    });
    if (prefixes && prefixes.length === 0) throw new Error(`secret ${name}: give at least one URL prefix`);
    byName.set(name, { name, value: d.value, prefixes });
  }
  return {
    get: (name) => byName.get(normalizeSecretName(name)),
    names: [...byName.keys()],
    values: [...byName.values()].flatMap((s) => (s.value ? [s.value] : [])),
  };
}

/** The texts of a request placeholders may appear in, by field name for messages. */
function placeholderFields(spec: HttpRequestSpec): [string, string][] {
  return [
    ["input.url", spec.url],
    ...Object.entries(spec.headers).map(([k, v]): [string, string] => [`input.headers.${k}`, v]),
    ...spec.params.map(([k, v]): [string, string] => [`input.params.${k}`, v]),
    ...(spec.body !== undefined ? [["input.body", spec.body] as [string, string]] : []),
  ];
}

/**
 * The secrets a request uses, by placeholder name. `$CLIENT_SECRET` is the
 * secret the job names, else a secret declared as CLIENT_SECRET; other
 * `$NAME`s are secrets only when declared, and sent as written otherwise.
 * Throws HttpInputError.
 */
export function secretsUsed(spec: HttpRequestSpec, catalog: SecretCatalog): Map<string, DeclaredSecret> {
  const used = new Map<string, DeclaredSecret>();
  const named = spec.secretName === undefined ? undefined : catalog.get(spec.secretName);
  if (spec.secretName !== undefined && !named) {
    const declared = catalog.names.length > 0 ? catalog.names.join(", ") : "none";
    throw new HttpInputError(
      `input.clientSecretName: no secret ${JSON.stringify(spec.secretName)} is declared (declared: ${declared})`,
      "UNKNOWN_SECRET",
    );
  }
  for (const [field, text] of placeholderFields(spec)) {
    for (const [, name] of text.matchAll(PLACEHOLDER)) {
      if (name === CLIENT_SECRET) {
        const secret = named ?? catalog.get(CLIENT_SECRET);
        if (!secret) {
          throw new HttpInputError(
            `${field}: $CLIENT_SECRET stands for the secret the job names, and none is named: add "clientSecretName"`,
            "UNKNOWN_SECRET",
          );
        }
        used.set(name!, secret);
      } else {
        const secret = catalog.get(name!);
        if (secret) used.set(name!, secret);
      }
    }
  }
  return used;
}
