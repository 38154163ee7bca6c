/** The built-in `http` handler and its Submit-time check. */
export { createHttpHandler, type HttpHandlerOptions } from "./handler.js";
export { createHttpSubmitCheck, type HttpSubmitCheckOptions } from "./submit-check.js";
export { createRedactor, REDACTED, type Redactor } from "./redaction.js";
export type { SecretDeclaration } from "./secrets.js";
