// The overview: every queue with live waiting/running counts, throughput
// and failure-rate sparklines (samples of ListQueues' last-minute counts
// since the page opened), paused state, and pause/resume.
import { api, errorText, isUnimplemented } from "../api.js";
import { fill, h, notice, setText } from "../dom.js";
import { poll } from "../poll.js";
import { listsQueues, readQueues, rememberQueue, type QueueRow } from "../queues-source.js";
import { can } from "../session.js";
import { sparkline } from "../sparkline.js";

const SAMPLES = 60;
export const OVERVIEW_POLL_MS = 1_500;
/** Per queue: done per minute and failure rate, one sample per poll; kept across views. */
/** Set when the server answered PauseQueue/ResumeQueue UNIMPLEMENTED (older jetq): no more buttons. */
let pauseMissing = false;
const history = new Map<string, { done: number[]; failRate: number[] }>();

export function overview(main: HTMLElement): () => void {
  const status = h("div", { class: "status-line", "aria-live": "polite" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "queues" },
    h("caption", { class: "sr-only" }, "Queues"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Queue", "Waiting", "Running", "Delayed", "Done / min", "Failure rate", ""].map((t) =>
          h("th", { scope: "col" }, t),
        ),
      ),
    ),
    body,
  );
  const extra = h("div");
  fill(main, h("h1", {}, "Queues"), status, table, extra);
  const rows = new Map<string, HTMLTableRowElement>();
  return poll(OVERVIEW_POLL_MS, async (signal) => {
    try {
      const queues = await readQueues(signal);
      fill(status);
      render(body, rows, queues);
      if (!listsQueues() && extra.childElementCount === 0) fill(extra, watchForm());
    } catch (err) {
      fill(status, notice(`Could not read the queues: ${errorText(err)}`, "error"));
    }
  });
}

function render(body: HTMLElement, rows: Map<string, HTMLTableRowElement>, queues: QueueRow[]): void {
  for (const q of queues) {
    record(q);
    let row = rows.get(q.name);
    if (!row) {
      row = newRow(q.name);
      rows.set(q.name, row);
    }
    updateRow(row, q);
    body.appendChild(row);
  }
  for (const [name, row] of rows) {
    if (!queues.some((q) => q.name === name)) {
      row.remove();
      rows.delete(name);
    }
  }
}

function record(q: QueueRow): void {
  if (!q.lastMinute) return;
  const h = history.get(q.name) ?? { done: [], failRate: [] };
  const { completed, failed } = q.lastMinute;
  h.done.push(completed + failed);
  h.failRate.push(completed + failed === 0 ? 0 : failed / (completed + failed));
  if (h.done.length > SAMPLES) h.done.shift();
  if (h.failRate.length > SAMPLES) h.failRate.shift();
  history.set(q.name, h);
}

function newRow(name: string): HTMLTableRowElement {
  const cell = (cls: string, label: string) => h("td", { class: cls, "data-label": label });
  return h(
    "tr",
    { "data-queue": name },
    h("th", { scope: "row", class: "name", "data-label": "Queue" }, h("a", { href: `#/queues/${name}` }, name)),
    cell("num waiting", "Waiting"),
    cell("num running", "Running"),
    cell("num delayed", "Delayed"),
    cell("trend done", "Done / min"),
    cell("trend fail", "Failure rate"),
    cell("pause-cell", ""),
  );
}

function updateRow(row: HTMLTableRowElement, q: QueueRow): void {
  const cells = row.cells;
  setText(cells[1]!, String(q.waiting));
  setText(cells[2]!, String(q.running));
  setText(cells[3]!, q.delayed === undefined ? "—" : String(q.delayed));
  const hist = history.get(q.name);
  trend(
    cells[4]!,
    hist?.done,
    q.lastMinute ? String(q.lastMinute.completed + q.lastMinute.failed) : "—",
    "done per minute",
  );
  const last = hist?.failRate.at(-1);
  trend(cells[5]!, hist?.failRate, last === undefined ? "—" : `${Math.round(last * 100)}%`, "failure rate", 1);
  pauseCell(cells[6]!, q, row);
  row.classList.toggle("paused", q.paused === true);
}

function trend(cell: HTMLTableCellElement, values: number[] | undefined, now: string, label: string, max?: number) {
  fill(
    cell,
    h("span", { class: "now" }, now),
    values && values.length > 0 ? sparkline(values, `${label}, last ${values.length} samples`, max) : null,
  );
}

function pauseCell(cell: HTMLTableCellElement, q: QueueRow, row: HTMLTableRowElement): void {
  const want = q.paused ? "Resume" : "Pause";
  const badge = q.paused ? h("span", { class: "badge paused" }, "paused") : null;
  const existing = cell.querySelector("button");
  if (existing?.textContent === want && (cell.querySelector(".badge") !== null) === Boolean(q.paused)) return;
  const allowed = q.paused === undefined || pauseMissing ? false : can(q.paused ? "ResumeQueue" : "PauseQueue", q.name);
  const button = allowed
    ? h("button", { type: "button", class: "small", onclick: () => void togglePause(q, row) }, want)
    : null;
  fill(cell, badge, button);
}

async function togglePause(q: QueueRow, row: HTMLTableRowElement): Promise<void> {
  try {
    const info = q.paused ? await api.resumeQueue({ queue: q.name }) : await api.pauseQueue({ queue: q.name });
    pauseCell(row.cells[6]!, { ...q, paused: info.paused }, row);
  } catch (err) {
    if (isUnimplemented(err)) pauseMissing = true;
    fill(row.cells[6]!, notice(isUnimplemented(err) ? "This server cannot pause queues." : errorText(err), "error"));
  }
}

/** Without ListQueues the page cannot find queues by itself: name one to watch. */
function watchForm(): HTMLElement {
  const input = h("input", {
    id: "watch-queue",
    name: "queue",
    required: true,
    pattern: "[a-z0-9][a-z0-9_-]{0,63}",
    autocomplete: "off",
  });
  const form = h(
    "form",
    { class: "inline" },
    notice("This server does not list its queues (no ListQueues): the page shows the queues you name here."),
    h("label", { for: "watch-queue" }, "Watch a queue"),
    input,
    h("button", { type: "submit" }, "Add"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    rememberQueue(input.value);
    input.value = "";
  });
  return form;
}
