/** What a live event does to the status a watch holds. */
import { tailWithin, type LogBounds } from "../log-bounds.js";
import type { JobStatus } from "../types.js";
import type { JobEvent } from "./events.js";
import { statusFromRecord } from "./state.js";

export function applyEvent(current: JobStatus, ev: JobEvent, includeLogs: boolean, bounds?: LogBounds): JobStatus {
  switch (ev.type) {
    case "progress":
      return { ...current, progress: ev.progress };
    case "log": {
      if (!includeLogs) return current;
      if (current.logs?.some((l) => l.timestamp === ev.entry.timestamp && l.message === ev.entry.message)) {
        return current;
      }
      const logs = [...(current.logs ?? []), ev.entry];
      // What the job keeps, a watch keeps: retries must not grow it without end.
      return { ...current, logs: bounds ? tailWithin(logs, bounds) : logs };
    }
    case "status": {
      const { type: _type, ...fields } = ev;
      const next = statusFromRecord(current.id, {
        ...fields,
        queue: current.queue,
        tenant: "",
        createdAt: current.createdAt,
      });
      if (current.logs) next.logs = current.logs;
      return next;
    }
  }
}
