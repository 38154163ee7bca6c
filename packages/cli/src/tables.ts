/** Queues and jobs as plain-text tables: one row each, columns padded to their widest cell. */
import type { Job, QueueInfo } from "@jetq/client";

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function queuesTable(queues: QueueInfo[]): string {
  return table(
    ["QUEUE", "WAITING", "RUNNING", "DELAYED", "PAUSED", "1M OK/FAILED", "1H OK/FAILED"],
    queues.map((q) => [
      q.name,
      String(q.waiting),
      String(q.running),
      String(q.delayed),
      q.paused ? "yes" : "no",
      `${q.lastMinute.completed}/${q.lastMinute.failed}`,
      `${q.lastHour.completed}/${q.lastHour.failed}`,
    ]),
  );
}

/** The time that matters for the job's state: when it ended, started, is due, or was created. */
function when(job: Job): string {
  const at = job.finishedAt ?? job.startedAt ?? job.scheduledAt ?? job.createdAt;
  return at ? at.toISOString() : "";
}

export function jobsTable(jobs: Job[]): string {
  return table(
    ["ID", "STATE", "PRIORITY", "ATTEMPT", "PROGRESS", "AT", "ERROR"],
    jobs.map((j) => [
      j.id,
      j.state === "QUEUED" && j.queuePosition === undefined && j.scheduledAt ? "QUEUED (delayed)" : j.state,
      String(j.priority),
      String(j.attempt),
      `${Math.round(j.progress * 100)}%`,
      when(j),
      j.error ? `${j.error.code}: ${j.error.message}` : "",
    ]),
  );
}
