/**
 * Callers without a valid key are refused before their request body is read.
 *
 * connect-es runs interceptors only once the request message is parsed, so
 * an unauthenticated client could make us buffer up to readMaxBytes per call.
 * This wraps each handler of the protected services: when the key is missing
 * or unknown, the body is replaced by an empty message of the request's own
 * framing, and the auth interceptor then answers UNAUTHENTICATED in whatever
 * protocol the client speaks. The client's bytes are never buffered: they
 * are read and dropped (so a client still sending is not stuck on HTTP/2
 * flow control), and past discardMaxBytes the request is cut.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "./connect-internals.js";
import { emptyMessage, ENCODING_HEADERS, framingOf } from "./content-types.js";
import { wrapHandler } from "./wrap-handler.js";
import type { KeyStore } from "../../auth/index.js";
import { authenticate } from "../authenticate.js";
import { OPEN_SERVICES } from "../auth-interceptor.js";

/** Wraps every handler of the router; call after all services are registered and other wrappers applied. */
export function guardUnauthenticatedBodies(router: ConnectRouter, keys: KeyStore, discardMaxBytes: number): void {
  if (!keys.enabled) return;
  const handlers = router.handlers as UniversalHandler[];
  for (const [i, handler] of handlers.entries()) {
    if (OPEN_SERVICES.has(handler.service.typeName)) continue;
    handlers[i] = guard(handler, keys, discardMaxBytes);
  }
}

function guard(handler: UniversalHandler, keys: KeyStore, discardMaxBytes: number): UniversalHandler {
  const guarded = (req: UniversalServerRequest) => {
    if (authenticate(keys, req.header.get("authorization")).ok) return handler(req);
    const framing = framingOf(req.header.get("content-type"));
    if (req.method !== "POST" || !framing) return handler(req);
    const replacement = emptyMessage(framing);
    const header = new Headers(req.header);
    header.set("content-length", String(replacement.byteLength));
    // The stand-in is not compressed, whatever the client said it would send.
    for (const name of ENCODING_HEADERS) header.delete(name);
    void discard(req.body, discardMaxBytes);
    return handler({ ...req, header, body: once(replacement) });
  };
  return wrapHandler(handler, guarded);
}

async function discard(body: UniversalServerRequest["body"], maxBytes: number): Promise<void> {
  if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) return;
  let seen = 0;
  try {
    // Leaving the loop early calls the iterator's return(), which cuts the request.
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      seen += chunk.byteLength;
      if (seen > maxBytes) break;
    }
  } catch {
    // the client went away: nothing to drop any more
  }
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
