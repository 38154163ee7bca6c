/**
 * The `http` queue's Submit-time check, for the API process: the input's
 * shape, where it may go, which secrets it uses and whether the caller's
 * tenant is granted them. Needs the secrets' names and prefixes, not their values.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { checkSecret, type Principal, type SecretGrants } from "../../auth/index.js";
import type { InputValidator } from "../../service/input-validators.js";
import { HttpInputError } from "./errors.js";
import { createUrlPolicy, planRequest } from "./request-plan.js";
import { createSecretCatalog, type SecretDeclaration } from "./secrets.js";

export interface HttpSubmitCheckOptions {
  allowedHosts: string[];
  secrets: readonly SecretDeclaration[];
  /** Applies to callers with an API key; unset = no tenant may use a secret. */
  grants?: SecretGrants;
}

/**
 * Without allowed hosts this process cannot tell which secrets a job uses,
 * so it cannot check grants either: it refuses every http job (fail closed)
 * rather than let workers configured elsewhere run it unchecked.
 */
export function createHttpSubmitCheck(options: HttpSubmitCheckOptions): InputValidator {
  if (options.allowedHosts.length === 0) {
    return () => {
      throw new ConnectError(
        'queue "http": this API process has no JETQ_HTTP_ALLOWED_HOSTS, so it cannot check http jobs; set it and JETQ_SECRETS as on the workers',
        Code.FailedPrecondition,
      );
    };
  }
  const policy = createUrlPolicy(options.allowedHosts, createSecretCatalog(options.secrets));
  const grants = options.grants ?? {};
  return (input: JsonValue, caller: Principal | undefined) => {
    let names: string[];
    try {
      names = [...planRequest(input, policy).secrets.values()].map((s) => s.name);
    } catch (err) {
      if (err instanceof HttpInputError) throw new ConnectError(err.message, Code.InvalidArgument);
      throw err;
    }
    for (const name of new Set(names)) {
      const denied = checkSecret(caller, grants, name);
      if (denied) throw new ConnectError(denied, Code.PermissionDenied);
    }
  };
}
