/**
 * What a principal may do. Every function answers with a denial message
 * meant for the client (PERMISSION_DENIED), or undefined when allowed.
 * `undefined` principal = the server runs without keys: everything is allowed.
 */
import type { Principal, Role } from "./types.js";

/** The QueueService RPCs a reader key may call. */
export const READ_ONLY_RPCS: ReadonlySet<string> = new Set([
  "GetStatus",
  "StreamStatus",
  "GetResult",
  "QueueCount",
  "WatchJobs",
  "ListQueues",
  "ListJobs",
]);

export function roleAllows(role: Role, rpc: string): boolean {
  return role === "reader" ? READ_ONLY_RPCS.has(rpc) : true;
}

export function checkRpc(principal: Principal | undefined, rpc: string): string | undefined {
  if (!principal || roleAllows(principal.role, rpc)) return undefined;
  return `${rpc}: this API key has the role "${principal.role}", which may call only ${[...READ_ONLY_RPCS].join(", ")}`;
}

export function checkQueue(principal: Principal | undefined, queue: string): string | undefined {
  if (!principal || principal.role === "admin" || principal.queues === "*" || principal.queues.has(queue)) {
    return undefined;
  }
  return `queue "${queue}": this API key may not use it (allowed: ${[...principal.queues].map((q) => `"${q}"`).join(", ") || "none"})`;
}

/** The owner recorded on a submitted job: "" when the server runs open. */
export function submitTenant(principal: Principal | undefined): string {
  return principal?.tenant ?? "";
}

/**
 * The tenant reads are restricted to: undefined (no check) when the server
 * runs open or the caller is an admin.
 */
export function readTenant(principal: Principal | undefined): string | undefined {
  if (!principal || principal.role === "admin") return undefined;
  return principal.tenant;
}
