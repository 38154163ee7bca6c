/**
 * Lanes: caller-named queues of http jobs ("image-queue"), made on first use
 * (docs/ARCHITECTURE.md §8). A lane named N is the jetq queue `http-lane-N`,
 * served by the `http` handler, one request at a time by default. The API
 * process declares a lane on the first Submit to it and tells its in-process
 * worker to serve it; each tenant may make at most a configured number.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { QueueConfig } from "../../engine/types.js";

export const LANE_PREFIX = "http-lane-";

/** What a lane's own name may be: the queue-name rule, less the prefix's length. */
export const LANE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,53}$/;

export function isLaneQueue(queue: string): boolean {
  return queue.startsWith(LANE_PREFIX) && LANE_NAME_PATTERN.test(queue.slice(LANE_PREFIX.length));
}

export interface LaneRegistryOptions {
  /** Creates the queue if missing (Engine.declareQueue). */
  declare: (queue: string, config?: Partial<QueueConfig>) => Promise<void>;
  /** The queue defaults a lane is declared with (those of the `http` queue). */
  config?: Partial<QueueConfig>;
  /** Lanes one tenant may make (JETQ_HTTP_LANES_PER_TENANT); 0 = no lanes. */
  perTenant: number;
  /** Called once per lane after it is declared: the worker starts serving it (a failure is retried by the next Submit). */
  onCreated: (queue: string) => Promise<void> | void;
}

export interface LaneRegistry {
  /**
   * Declares the lane on its first use in this process and counts it for the
   * tenant; RESOURCE_EXHAUSTED naming JETQ_HTTP_LANES_PER_TENANT beyond the limit.
   */
  ensure(queue: string, tenant: string): Promise<void>;
}

/**
 * Which lanes exist, and whose, is known to this process only (from its
 * start): on NATS each API process declares a lane again on its first use
 * there (declaring is idempotent) and counts tenants' lanes on its own.
 */
export function createLaneRegistry(options: LaneRegistryOptions): LaneRegistry {
  const declared = new Map<string, Promise<void>>();
  const byTenant = new Map<string, Set<string>>();
  return {
    async ensure(queue, tenant) {
      const mine = byTenant.get(tenant) ?? new Set<string>();
      const counted = !mine.has(queue);
      if (counted) {
        if (mine.size >= options.perTenant) {
          throw new ConnectError(
            `queue "${queue}": this tenant has ${mine.size} lane(s), the most JETQ_HTTP_LANES_PER_TENANT (${options.perTenant}) allows; reuse one of ${[...mine].map((q) => `"${q.slice(LANE_PREFIX.length)}"`).join(", ") || "none"}`,
            Code.ResourceExhausted,
          );
        }
        mine.add(queue);
        byTenant.set(tenant, mine);
      }
      let ready = declared.get(queue);
      if (!ready) {
        ready = options.declare(queue, options.config).then(() => options.onCreated(queue));
        declared.set(queue, ready);
        // A failed declare (engine unreachable) is tried again by the next Submit.
        ready.catch(() => declared.delete(queue));
      }
      try {
        await ready;
      } catch (err) {
        // Not made: it does not count against the tenant.
        if (counted) mine.delete(queue);
        throw err;
      }
    },
  };
}
