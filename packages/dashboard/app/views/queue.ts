// One queue's jobs in one state, newest first, a page at a time (ListJobs'
// cursors; a stack of them for "Newer"). The first page refreshes itself:
// at once when WatchJobs says a job of the queue changed, else every 5 s.
import { Code, ConnectError } from "@connectrpc/connect";
import { api, errorText, isUnimplemented, JobState, type Job } from "../api.js";
import { fill, h, notice } from "../dom.js";
import { LIST_STATES, percent, stateFromSlug, stateName, time } from "../format.js";
import { poll } from "../poll.js";
import { rememberQueue } from "../queues-source.js";
import { can } from "../session.js";
import { watchQueue } from "../watch.js";

const PAGE_SIZE = 25;

export function queueView(main: HTMLElement, queue: string, query: URLSearchParams): () => void {
  rememberQueue(queue);
  const state = stateFromSlug(query.get("state") ?? undefined);
  const cursors: string[] = [""];
  const list = h("div", { class: "job-list", "aria-live": "polite" });
  const pager = h("div", { class: "pager" });
  fill(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Queues"), " / ", queue),
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, queue),
      can("Submit", queue) ? h("a", { class: "button", href: `#/submit?queue=${queue}` }, "Submit a job") : null,
    ),
    tabs(queue, state),
    list,
    pager,
  );
  let stopRefresh: () => void = () => undefined;
  const show = (page: number) => {
    stopRefresh();
    // Only the first page refreshes: later pages would shift under the reader.
    let latest = 0;
    const load = async (signal: AbortSignal) => {
      // Poll and watch may both load: only the newest call draws.
      const mine = ++latest;
      try {
        if (!can("ListJobs", queue)) throw new ConnectError("ListJobs", Code.Unimplemented);
        const res = await api.listJobs({ queue, state, pageSize: PAGE_SIZE, cursor: cursors[page]! }, { signal });
        if (mine !== latest) return;
        cursors[page + 1] = res.nextCursor;
        fill(list, res.jobs.length === 0 ? notice(`No ${stateName(state).toLowerCase()} jobs.`) : jobTable(res.jobs));
        fill(
          pager,
          page > 0 ? pageButton("Newer", () => show(page - 1)) : null,
          res.nextCursor ? pageButton("Older", () => show(page + 1)) : null,
        );
      } catch (err) {
        fill(pager);
        fill(
          list,
          notice(
            isUnimplemented(err)
              ? "This server cannot list jobs (no ListJobs). Open a job by its id above."
              : `Could not list the jobs: ${errorText(err)}`,
            isUnimplemented(err) ? "info" : "error",
          ),
        );
        if (isUnimplemented(err)) stopRefresh();
      }
    };
    if (page === 0) {
      const stopPoll = poll(5_000, load);
      const ctl = new AbortController();
      const stopWatch = watchQueue(queue, () => void load(ctl.signal));
      stopRefresh = () => (stopPoll(), stopWatch(), ctl.abort());
    } else {
      const ctl = new AbortController();
      stopRefresh = () => ctl.abort();
      void load(ctl.signal);
    }
  };
  show(0);
  return () => stopRefresh();
}

function tabs(queue: string, current: JobState): HTMLElement {
  return h(
    "nav",
    { class: "tabs", "aria-label": "Job state" },
    ...LIST_STATES.map((s) => {
      const slug = stateName(s).toLowerCase();
      return h(
        "a",
        { href: `#/queues/${queue}?state=${slug}`, "aria-current": s === current ? "page" : undefined },
        slug,
      );
    }),
  );
}

function pageButton(label: string, go: () => void): HTMLButtonElement {
  return h("button", { type: "button", onclick: go }, label);
}

function jobTable(jobs: Job[]): HTMLElement {
  return h(
    "table",
    { class: "jobs" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Job", "State", "Attempt", "Progress", "Created", "Finished"].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h(
      "tbody",
      {},
      ...jobs.map((j) =>
        h(
          "tr",
          { "data-job": j.id },
          h("th", { scope: "row", "data-label": "Job" }, h("a", { href: `#/jobs/${j.id}`, class: "mono" }, j.id)),
          h(
            "td",
            { "data-label": "State" },
            h("span", { class: `state ${stateName(j.state).toLowerCase()}` }, stateName(j.state)),
          ),
          h("td", { "data-label": "Attempt" }, String(j.attempt)),
          h("td", { "data-label": "Progress" }, j.state === JobState.RUNNING ? percent(j.progress) : "—"),
          h("td", { "data-label": "Created" }, time(j.createdAt)),
          h("td", { "data-label": "Finished" }, time(j.finishedAt)),
        ),
      ),
    ),
  );
}
