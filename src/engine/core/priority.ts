/**
 * Job priority, once for every driver: 1 to 10, higher runs first, 5 when
 * unset; equal priorities run in submit order. A driver keeps one waiting
 * line per priority level in use and hands out the highest level's head
 * first; a job's queue position is the waiting jobs of every higher level
 * plus those ahead of it in its own. The level is part of the job's id
 * (../job-id.ts), so every status says it without a read.
 */
import { invalidArgument } from "../errors.js";
import { DEFAULT_PRIORITY, jobIdParts, MAX_PRIORITY, MIN_PRIORITY } from "../job-id.js";
import type { JobStatus } from "../types.js";

export { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY };

/**
 * The option checked: INVALID_ARGUMENT naming options.priority unless a
 * whole number from 1 to 10. The default (5) is answered as undefined, so a
 * job that asks for it is stored exactly as one that asks for nothing.
 */
export function priorityOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) {
    throw invalidArgument(
      `options.priority: ${String(value)} is out of range: use a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher runs first), or leave it unset for ${DEFAULT_PRIORITY}`,
    );
  }
  return value === DEFAULT_PRIORITY ? undefined : value;
}

/** The job's priority as its options say: 5 when unset. */
export function priorityOf(options: { priority?: number }): number {
  return options.priority ?? DEFAULT_PRIORITY;
}

/** The status with the priority its id says (set in place, returned). */
export function withPriority<S extends JobStatus>(status: S, priority?: number): S {
  status.priority = priority ?? jobIdParts(status.id)?.priority ?? DEFAULT_PRIORITY;
  return status;
}

/** Each status of a watch with its priority. */
export function watchWithPriority(inner: AsyncIterable<JobStatus>, priority?: number): AsyncIterable<JobStatus> {
  return {
    [Symbol.asyncIterator]() {
      const it = inner[Symbol.asyncIterator]();
      return {
        next: async () => {
          const r = await it.next();
          if (!r.done) withPriority(r.value, priority);
          return r;
        },
        return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
        throw: async (err?: unknown) => {
          if (it.throw) return it.throw(err);
          throw err;
        },
      };
    },
  };
}
