/**
 * GET /ui/api/session: who the dashboard's API key is, so the page shows
 * only the actions the key may use. Open servers answer {"auth": false}.
 * With keys, the Authorization header is checked as for every RPC
 * (authenticate.ts): no or a bad key is 401, a good one gets its role,
 * tenant, queues and the QueueService RPCs it may call. Holds no secret.
 */
import { QueueService } from "../../../gen/jetq/v1/queue_pb.js";
import { roleAllows, type KeyStore } from "../../auth/index.js";
import { authenticate } from "../authenticate.js";

export interface SessionAnswer {
  status: number;
  body: Record<string, unknown>;
}

const RPC_NAMES = QueueService.methods.map((m) => m.name);

export function describeSession(keys: KeyStore, authorization: string | undefined): SessionAnswer {
  if (!keys.enabled) return { status: 200, body: { auth: false, rpcs: RPC_NAMES } };
  const caller = authenticate(keys, authorization);
  if (!caller.ok) return { status: 401, body: { auth: true, error: caller.message } };
  const { principal } = caller;
  return {
    status: 200,
    body: {
      auth: true,
      name: principal.name,
      tenant: principal.tenant,
      role: principal.role,
      queues: principal.queues === "*" ? "*" : [...principal.queues].sort(),
      rpcs: RPC_NAMES.filter((rpc) => roleAllows(principal.role, rpc)),
    },
  };
}
