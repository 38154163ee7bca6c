// How values look on the page.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { JobState } from "./api.js";

export const LIST_STATES = [
  JobState.QUEUED,
  JobState.RUNNING,
  JobState.COMPLETED,
  JobState.FAILED,
  JobState.CANCELLED,
  JobState.EXPIRED,
] as const;

export function stateName(state: JobState): string {
  return JobState[state] ?? "UNKNOWN";
}

/** "failed" in URLs, JobState.FAILED in calls. */
export function stateFromSlug(slug: string | undefined): JobState {
  const found = LIST_STATES.find((s) => stateName(s).toLowerCase() === slug);
  return found ?? JobState.QUEUED;
}

export function isTerminal(state: JobState): boolean {
  return state >= JobState.COMPLETED;
}

export function time(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const d = new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6));
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}
