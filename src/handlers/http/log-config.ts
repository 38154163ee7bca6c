/**
 * A log line at start says where the http queue may send which secret, by
 * name and prefix (never a value), so an operator sees the binding in force;
 * a secret without prefixes (the JETQ_SECRET_<NAME> short form) gets a warning.
 */
import type { Logger } from "pino";
import type { Config } from "../../config.js";

export function logHttpSecrets(config: Config, logger: Logger): void {
  if (!config.httpAllowedHosts || config.httpAllowedHosts.length === 0) return;
  const secrets = Object.fromEntries(config.secrets.map((s) => [s.name, s.prefixes ?? "every allowed host"]));
  logger.info(
    { allowedHosts: config.httpAllowedHosts, secrets, tenantSecrets: config.tenantSecrets },
    `http: ${config.secrets.length} secret(s) (${config.secrets.map((s) => s.name).join(", ") || "none"}) for hosts ${config.httpAllowedHosts.join(", ")}`,
  );
  const unbound = config.secrets.filter((s) => !s.prefixes).map((s) => s.name);
  if (unbound.length > 0) {
    logger.warn(
      { secrets: unbound },
      `http: secret(s) ${unbound.join(", ")} may go to every allowed host; declare URL prefixes in JETQ_SECRETS to bind them to their APIs`,
    );
  }
}
