/**
 * ListJobs and ListQueues, once for every driver: the page size bounds, the
 * cursor (opaque to clients, checked here), the state a list needs, and the
 * time windows of the finished counts. Drivers keep the index
 * (docs/ARCHITECTURE.md §5 "The job index", §7).
 */
import { withPriority } from "./priority.js";
import { invalidArgument, isEngineError } from "../errors.js";
import { assertQueueName } from "../queue-name.js";
import type { Driver, ListQuery } from "../driver/types.js";
import type { FinishedCounts, JobPage, JobState, ListJobsQuery, QueueInfo } from "../types.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
/** The windows ListQueues counts finished jobs over. */
export const LAST_MINUTE_MS = 60_000;
export const LAST_HOUR_MS = 3_600_000;
/** Queues described at once by describeQueues (each costs a few reads). */
const DESCRIBE_CONCURRENCY = 16;

const STATES: readonly JobState[] = ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "EXPIRED"];
/** Longest position a driver keeps in a cursor (numbers). */
const MAX_POSITION_PARTS = 4;

/** What a cursor holds: the list it was made for and the driver's position in it. */
interface CursorBody {
  q: string;
  s: JobState;
  p: number[];
}

export function pageSizeOf(value: number | undefined): number {
  if (value === undefined || value === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(value) || value < 0) {
    throw invalidArgument(
      `page_size: ${value} must be a whole number from 1 to ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`,
    );
  }
  if (value > MAX_PAGE_SIZE) {
    throw invalidArgument(`page_size: ${value} is over the largest page, ${MAX_PAGE_SIZE}; page with next_cursor`);
  }
  return value;
}

export function stateOf(value: JobState | undefined): JobState {
  if (value === undefined || !STATES.includes(value)) {
    throw invalidArgument(`state: required, one of ${STATES.join(", ")}`);
  }
  return value;
}

export function encodeCursor(queue: string, state: JobState, position: number[]): string {
  const body: CursorBody = { q: queue, s: state, p: position };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/** The driver position a cursor holds; INVALID_ARGUMENT naming the cursor when it is not one of this list's. */
export function decodeCursor(cursor: string, queue: string, state: JobState): number[] {
  const bad = () =>
    invalidArgument(`cursor: not a next_cursor that ListJobs returned for queue "${queue}" and state ${state}`);
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw bad();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  const b = body as Partial<CursorBody> | null;
  if (typeof b !== "object" || b === null || b.q !== queue || b.s !== state || !Array.isArray(b.p)) throw bad();
  const p = b.p as unknown[];
  if (p.length === 0 || p.length > MAX_POSITION_PARTS) throw bad();
  if (!p.every((n) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0)) throw bad();
  return p as number[];
}

/** The driver's query for an Engine query: everything checked (INVALID_ARGUMENT naming the field). */
export function listQueryOf(query: ListJobsQuery): ListQuery {
  assertQueueName(query.queue);
  const state = stateOf(query.state);
  const limit = pageSizeOf(query.pageSize);
  const out: ListQuery = { queue: query.queue, state, limit };
  if (query.cursor) out.after = decodeCursor(query.cursor, query.queue, state);
  if (query.tenant !== undefined) out.tenant = query.tenant;
  return out;
}

export async function listJobs(driver: Driver, query: ListQuery): Promise<JobPage> {
  const page = await driver.listJobs(query);
  const jobs = page.jobs.length > query.limit ? page.jobs.slice(0, query.limit) : page.jobs;
  for (const job of jobs) withPriority(job);
  return { jobs, nextCursor: page.next ? encodeCursor(query.queue, query.state, page.next) : "" };
}

async function describeQueue(driver: Driver, name: string, now: number): Promise<QueueInfo> {
  const [counts, finished, delayed, paused] = await Promise.all([
    driver.count(name),
    driver.finishedCounts(name, [now - LAST_MINUTE_MS, now - LAST_HOUR_MS]),
    driver.delayedCount ? driver.delayedCount(name) : 0,
    driver.paused(name),
  ]);
  const zero: FinishedCounts = { completed: 0, failed: 0 };
  return {
    name,
    waiting: counts.inQueue,
    running: counts.running,
    delayed,
    paused,
    lastMinute: finished[0] ?? zero,
    lastHour: finished[1] ?? zero,
  };
}

/** Every declared queue described, sorted by name. */
export async function describeQueues(driver: Driver): Promise<QueueInfo[]> {
  const names = [...(await driver.listQueues())].sort();
  const now = Date.now();
  const out: QueueInfo[] = [];
  for (let i = 0; i < names.length; i += DESCRIBE_CONCURRENCY) {
    const chunk = names.slice(i, i + DESCRIBE_CONCURRENCY);
    const described = await Promise.all(
      chunk.map((name) =>
        // A queue removed between the listing and its counts is left out.
        describeQueue(driver, name, now).catch((err: unknown) => {
          if (isEngineError(err, "not_found")) return undefined;
          throw err;
        }),
      ),
    );
    for (const info of described) if (info) out.push(info);
  }
  return out;
}
