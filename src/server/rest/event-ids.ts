/**
 * SSE event ids: `<seq>.<logs>.<digest>`. seq counts the events of a job's
 * stream across reconnects, logs is how many log lines the client has been
 * sent, digest names the status it last saw (state, position, progress,
 * attempt, error). With Last-Event-ID a resumed stream skips the status the
 * client already has (unless it is terminal) and the lines it already has.
 */
import { createHash } from "node:crypto";
import type { RestJobStatus } from "./shapes.js";

export interface EventPosition {
  seq: number;
  logs: number;
  digest: string;
}

const ID = /^(\d{1,15})\.(\d{1,15})\.([0-9a-f]{12})$/;

export function parseEventId(value: string | string[] | undefined): EventPosition | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  const m = raw === undefined ? null : ID.exec(raw.trim());
  if (!m) return undefined;
  return { seq: Number(m[1]), logs: Number(m[2]), digest: m[3]! };
}

export function formatEventId(p: EventPosition): string {
  return `${p.seq}.${p.logs}.${p.digest}`;
}

/** What identifies a status for resuming: everything but its logs and URLs. */
export function statusDigest(s: RestJobStatus): string {
  const key = JSON.stringify([s.status, s.queue_position ?? null, s.progress, s.attempt, s.error ?? null]);
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}
