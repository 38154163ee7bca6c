/**
 * How a job looks on the terminal. On a TTY one status line is redrawn in
 * place (state, queue position, a progress bar) with log lines printed
 * above it as they come; piped, only changes of state or position and the
 * log lines are printed, one per line, and no progress bar.
 */
import type { Job, JobResult, JsonValue } from "@jetq/client";

export interface Sink {
  write(text: string): unknown;
}

const BAR_WIDTH = 30;
const CLEAR_LINE = "\r\x1b[2K";

export interface LiveView {
  update(job: Job): void;
  /** Ends the live line so what follows starts on a fresh one. */
  end(): void;
}

export function liveView(out: Sink, tty: boolean): LiveView {
  let printedLines = 0;
  let lastSummary = "";
  let drawn = false;
  return {
    update(job) {
      const fresh = job.logs.slice(printedLines);
      printedLines = job.logs.length;
      if (tty) {
        let text = drawn ? CLEAR_LINE : "";
        for (const line of fresh) text += `${logLine(line.level, line.message)}\n`;
        out.write(`${text}${statusLine(job, true)}`);
        drawn = true;
        return;
      }
      for (const line of fresh) out.write(`${logLine(line.level, line.message)}\n`);
      const summary = statusLine(job, false);
      if (summary !== lastSummary) out.write(`${summary}\n`);
      lastSummary = summary;
    },
    end() {
      if (tty && drawn) out.write("\n");
      drawn = false;
    },
  };
}

export function statusLine(job: Job, withBar: boolean): string {
  const parts: string[] = [job.state];
  if (job.state === "QUEUED" && job.queuePosition !== undefined) {
    parts.push(job.queuePosition === 0 ? "position 0 (next)" : `position ${job.queuePosition}`);
  } else if (job.state === "QUEUED" && job.scheduledAt) {
    parts.push(`due ${job.scheduledAt.toISOString()}`);
  }
  if (job.attempt > 1) parts.push(`attempt ${job.attempt}`);
  if (withBar && job.state === "RUNNING") parts.push(progressBar(job.progress));
  if (job.error) parts.push(`${job.error.code}: ${job.error.message}`);
  return `${job.id} ${parts.join(" · ")}`;
}

export function progressBar(progress: number): string {
  const p = Math.min(1, Math.max(0, Number.isFinite(progress) ? progress : 0));
  const full = Math.round(p * BAR_WIDTH);
  return `[${"#".repeat(full)}${"-".repeat(BAR_WIDTH - full)}] ${Math.round(p * 100)}%`;
}

function logLine(level: string, message: string): string {
  return `  ${level.padEnd(5)} ${message}`;
}

export function formatJob(job: Job): string {
  const rows: [string, string | undefined][] = [
    ["id", job.id],
    ["queue", job.queue],
    ["state", job.state],
    ["position", job.queuePosition === undefined ? undefined : String(job.queuePosition)],
    ["priority", job.priority ? String(job.priority) : undefined],
    ["attempt", String(job.attempt)],
    ["progress", `${Math.round(job.progress * 100)}%`],
    ["created", job.createdAt?.toISOString()],
    ["due", job.scheduledAt?.toISOString()],
    ["started", job.startedAt?.toISOString()],
    ["finished", job.finishedAt?.toISOString()],
    ["error", job.error ? `${job.error.code}: ${job.error.message}` : undefined],
  ];
  return rows
    .filter((r): r is [string, string] => r[1] !== undefined)
    .map(([k, v]) => `${k.padEnd(9)}${v}`)
    .join("\n");
}

export function formatOutput(output: JsonValue | undefined): string {
  return JSON.stringify(output ?? null, null, 2);
}

/** A result (or a terminal job) as --json prints it. */
export function resultJson(r: Pick<JobResult, "id" | "state" | "output" | "error">): string {
  return JSON.stringify({ id: r.id, state: r.state, output: r.output ?? null, error: r.error ?? null });
}
