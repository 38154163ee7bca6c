// Where the overview's numbers come from: ListQueues, or on a server
// without it (UNIMPLEMENTED: an older jetq) QueueCount of the queues this
// browser knows (echo, and any queue named here or submitted to).
import { api, isUnimplemented, type QueueInfo } from "./api.js";
import { can } from "./session.js";

const KNOWN = "jetq.queues";

export interface QueueRow {
  name: string;
  waiting: number;
  running: number;
  delayed?: number;
  paused?: boolean;
  /** Jobs that ended in the last minute; unknown without ListQueues. */
  lastMinute?: { completed: number; failed: number };
  lastHour?: { completed: number; failed: number };
}

let listQueuesMissing = false;

export function knownQueues(): string[] {
  try {
    const list = JSON.parse(localStorage.getItem(KNOWN) ?? "[]") as unknown;
    const names = Array.isArray(list) ? list.filter((q): q is string => typeof q === "string") : [];
    return [...new Set(["echo", ...names])].sort();
  } catch {
    return ["echo"];
  }
}

export function rememberQueue(name: string): void {
  const names = knownQueues();
  if (!names.includes(name)) localStorage.setItem(KNOWN, JSON.stringify([...names, name].sort()));
}

/** True once the server said it has no ListQueues. */
export function listsQueues(): boolean {
  return !listQueuesMissing;
}

export async function readQueues(signal: AbortSignal): Promise<QueueRow[]> {
  // A key whose role may not list queues (a reader on a server older than ListQueues) counts them instead.
  if (!can("ListQueues")) listQueuesMissing = true;
  if (!listQueuesMissing) {
    try {
      const res = await api.listQueues({}, { signal });
      return res.queues.map(fromInfo);
    } catch (err) {
      if (!isUnimplemented(err)) throw err;
      listQueuesMissing = true;
    }
  }
  return Promise.all(
    knownQueues().map(async (name) => {
      const c = await api.queueCount({ queue: name }, { signal });
      return { name, waiting: c.inQueue, running: c.running };
    }),
  );
}

function fromInfo(q: QueueInfo): QueueRow {
  return {
    name: q.name,
    waiting: q.waiting,
    running: q.running,
    delayed: q.delayed,
    paused: q.paused,
    lastMinute: { completed: q.lastMinute?.completed ?? 0, failed: q.lastMinute?.failed ?? 0 },
    lastHour: { completed: q.lastHour?.completed ?? 0, failed: q.lastHour?.failed ?? 0 },
  };
}
