import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "./connect-internals.js";

/**
 * A guard that runs before a route's handler must still look like that route
 * to the router (path, method, protocols), so it carries over its identity.
 */
export function wrapHandler(
  handler: UniversalHandler,
  guarded: (req: UniversalServerRequest) => Promise<UniversalServerResponse>,
): UniversalHandler {
  return Object.assign(guarded, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}
