// The pieces of the job page that are pure rendering.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { JobState, LogLevel, type Job, type LogEntry } from "../api.js";
import { h } from "../dom.js";
import { stateName, time } from "../format.js";
import { jsonView, valueToJson } from "../json-view.js";

export function detailsView(job: Job): HTMLElement[] {
  const rows: [string, string][] = [
    ["Queue", job.queue],
    ["Attempt", String(job.attempt)],
  ];
  if (job.queuePosition !== undefined)
    rows.push(["Position", job.queuePosition === 0 ? "next" : `${job.queuePosition} ahead`]);
  if (job.priority) rows.push(["Priority", String(job.priority)]);
  if (job.scheduledAt) rows.push(["Scheduled", time(job.scheduledAt)]);
  rows.push(["Created", time(job.createdAt)], ["Started", time(job.startedAt)], ["Finished", time(job.finishedAt)]);
  const out: HTMLElement[] = [];
  for (const [k, v] of rows) out.push(h("div", { "data-field": k.toLowerCase() }, h("dt", {}, k), h("dd", {}, v)));
  if (job.error) {
    out.push(
      h(
        "div",
        { class: "error-box", "data-field": "error" },
        h("dt", {}, "Error"),
        h("dd", {}, h("code", {}, job.error.code), " ", job.error.message),
      ),
    );
  }
  return out;
}

export function logLine(line: LogEntry): HTMLLIElement {
  const level = (LogLevel[line.level] ?? "INFO").toLowerCase();
  const at = line.timestamp ? timestampDate(line.timestamp).toLocaleTimeString() : "";
  return h(
    "li",
    { class: `log ${level}` },
    h("time", {}, at),
    h("span", { class: "level" }, level),
    h("span", { class: "msg" }, line.message),
  );
}

/**
 * The job's input, as GetStatus with include_input answers it. Unset: the
 * server kept none (a job that ended before servers kept inputs, or an
 * older server, which ignores the flag).
 */
export function inputView(job: Job): HTMLElement {
  if (job.input === undefined) {
    return h("p", { class: "muted" }, "No input was kept for this job (it ended before this server version).");
  }
  return jsonView(valueToJson(job.input), `${job.id}-input.json`);
}

/** The output of a COMPLETED job; nothing for other states. */
export function payloadsView(job: Job): HTMLElement[] {
  if (job.state !== JobState.COMPLETED) return [];
  const output = jsonView(valueToJson(job.output), `${job.id}-output.json`);
  return [h("section", { "data-testid": "job-output" }, h("h2", {}, "Output"), output)];
}

export function attemptsView(job: Job): HTMLElement {
  if (job.attempts.length === 0) {
    const none =
      job.attempt === 0 || job.state === JobState.RUNNING
        ? "No attempt has ended yet."
        : "This server keeps no attempt history.";
    return h("p", { class: "muted" }, none);
  }
  return h(
    "table",
    { class: "attempts" },
    h(
      "thead",
      {},
      h("tr", {}, ...["#", "Outcome", "Started", "Finished", "Error"].map((t) => h("th", { scope: "col" }, t))),
    ),
    h(
      "tbody",
      {},
      ...job.attempts.map((a) =>
        h(
          "tr",
          {},
          h("td", { "data-label": "#" }, String(a.attempt)),
          h("td", { "data-label": "Outcome" }, a.outcome === JobState.QUEUED ? "retried" : stateName(a.outcome)),
          h("td", { "data-label": "Started" }, time(a.startedAt)),
          h("td", { "data-label": "Finished" }, time(a.finishedAt)),
          h("td", { "data-label": "Error" }, a.error ? `${a.error.code}: ${a.error.message}` : "—"),
        ),
      ),
    ),
  );
}
