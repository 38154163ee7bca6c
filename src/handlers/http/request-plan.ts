/**
 * The checks an `http` job passes before anything is sent, shared by the API
 * (at Submit, without secret values) and the worker (again, then on the
 * final URL once secrets are in).
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { HttpInputError } from "./errors.js";
import { parseHttpInput, type HttpRequestSpec } from "./input.js";
import { secretsUsed, type DeclaredSecret, type SecretCatalog } from "./secrets.js";
import { substitute, type FinalRequest } from "./substitution.js";
import {
  hasEncodedSeparator,
  hostMatcher,
  originWithin,
  parseTemplateUrl,
  requireAllowedHost,
  withinPrefix,
} from "./url-policy.js";

export interface UrlPolicy {
  isAllowedHost: (url: URL) => boolean;
  catalog: SecretCatalog;
}

export function createUrlPolicy(allowedHosts: readonly string[], catalog: SecretCatalog): UrlPolicy {
  return { isAllowedHost: hostMatcher(allowedHosts), catalog };
}

export interface RequestPlan {
  spec: HttpRequestSpec;
  template: URL;
  /** Placeholder name -> the secret it stands for. */
  secrets: Map<string, DeclaredSecret>;
}

/** Everything that can be checked without secret values. Throws HttpInputError. */
export function planRequest(input: JsonValue, policy: UrlPolicy): RequestPlan {
  const spec = parseHttpInput(input);
  const template = parseTemplateUrl(spec.url);
  requireAllowedHost(template, policy.isAllowedHost);
  const secrets = secretsUsed(spec, policy.catalog);
  if (secrets.size > 0 && hasEncodedSeparator(template.pathname)) {
    throw new HttpInputError(
      "input.url: a path with %2e, %2f or %5c may not carry a secret (it could leave the secret's URL prefix)",
    );
  }
  for (const secret of secrets.values()) {
    // The path may still hold placeholders: the worker checks it once they are filled in.
    const decidable = !template.pathname.includes("$");
    if (
      secret.prefixes &&
      !(decidable ? secret.prefixes.some((p) => withinPrefix(template, p)) : originWithin(template, secret.prefixes))
    ) {
      throw outsidePrefixes(secret, template);
    }
  }
  return { spec, template, secrets };
}

/** The request as sent, after the final URL passed every check. Throws HttpInputError. */
export function finalRequest(plan: RequestPlan, policy: UrlPolicy): FinalRequest {
  const values = new Map<string, string>();
  for (const [placeholder, secret] of plan.secrets) {
    if (!secret.value) {
      throw new HttpInputError(
        `secret ${secret.name} has no value on this worker (JETQ_SECRET_${secret.name})`,
        "SECRET_NOT_SET",
      );
    }
    values.set(placeholder, secret.value);
  }
  const request = substitute(plan.spec, values);
  if (request.url.origin !== plan.template.origin) {
    throw new HttpInputError("input.url: the host changed when secrets were filled in", "HOST_NOT_ALLOWED");
  }
  requireAllowedHost(request.url, policy.isAllowedHost);
  for (const secret of plan.secrets.values()) {
    if (secret.prefixes && !secret.prefixes.some((p) => withinPrefix(request.url, p)))
      throw outsidePrefixes(secret, plan.template);
  }
  return request;
}

function outsidePrefixes(secret: DeclaredSecret, url: URL): HttpInputError {
  const allowed = secret.prefixes!.map((p) => p.text).join(", ");
  return new HttpInputError(
    `input.url: secret ${secret.name} may be sent only to ${allowed}; ${url.origin}${url.pathname} is outside`,
    "SECRET_URL_NOT_ALLOWED",
  );
}
