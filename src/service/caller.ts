/**
 * The authenticated caller of an RPC, as the server's auth interceptor found
 * it. Unset (undefined) when the server runs without API keys.
 */
import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../auth/index.js";

export const callerKey = createContextKey<Principal | undefined>(undefined, {
  description: "the principal of the API key that made the call",
});
