/**
 * Who may call what. Pure data: the key store turns configured keys into
 * principals, the server attaches the caller's principal to each call.
 */

/**
 * submitter: every QueueService RPC (the default).
 * reader: read-only RPCs (GetStatus, StreamStatus, GetResult, QueueCount, ListQueues, ListJobs), for dashboards.
 * admin: every RPC, and reads jobs of every tenant (operators).
 */
export type Role = "submitter" | "reader" | "admin";

export const ROLES: readonly Role[] = ["submitter", "reader", "admin"];

/** A token bucket: `rate` tokens per second refill a bucket of `burst`. */
export interface RateLimit {
  rate: number;
  burst: number;
}

/** One configured API key, as config or a test gives it. */
export interface ApiKeyInput {
  /** The secret itself; or give keySha256. */
  key?: string;
  /** Hex SHA-256 of the secret, so a config file need not hold the key in clear. */
  keySha256?: string;
  /** Shown in logs instead of the key; default "key-<n>". */
  name?: string;
  tenant: string;
  /** Default "submitter". */
  role?: Role;
  /** Queues the key may submit to, count and read jobs of; default "*" (all). */
  queues?: "*" | readonly string[];
  /** Overrides the server's default limit; null = no limit for this key. */
  rateLimit?: RateLimit | null;
}

/** The caller of an RPC, once its key checked out. Holds no secret. */
export interface Principal {
  /** Safe to log. */
  readonly name: string;
  readonly tenant: string;
  readonly role: Role;
  readonly queues: "*" | ReadonlySet<string>;
  /** undefined = the server's default limit; null = none. */
  readonly rateLimit?: RateLimit | null;
}
