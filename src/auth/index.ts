/** API keys, roles, tenants and rate limits: pure logic, no transport. */
export type { ApiKeyInput, Principal, RateLimit, Role } from "./types.js";
export { ROLES } from "./types.js";
export { createKeyStore, keyDigest, parseApiKeysList, TENANT_PATTERN, type KeyStore } from "./key-store.js";
export { checkQueue, checkRpc, READ_ONLY_RPCS, readTenant, roleAllows, submitTenant } from "./permissions.js";
export { MISSING_KEY_MESSAGE, parseBearer, UNKNOWN_KEY_MESSAGE, type BearerResult } from "./bearer.js";
export {
  createRateLimiter,
  describeRateLimit,
  parseRateLimit,
  type RateLimiter,
  type TakeResult,
} from "./rate-limit.js";
export { parseAuthFile } from "./auth-file.js";
export { checkSecret, parseSecretGrants, type SecretGrants } from "./secret-grants.js";
