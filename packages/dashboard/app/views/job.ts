// One job, live: StreamStatus (logs and output included) drives the page
// until the job ends; GetStatus with include_attempts gives the attempt
// history, and its first call (include_input) the input, which never changes. Cancel and Retry when the key may use them; after a Retry the
// stream starts again.
import { api, errorText, isAborted, JobState, type Job } from "../api.js";
import { fill, h, notice, setText } from "../dom.js";
import { isTerminal, stateName } from "../format.js";
import { rememberQueue } from "../queues-source.js";
import { can } from "../session.js";
import { attemptsView, detailsView, inputView, logLine, payloadsView } from "./job-parts.js";

export function jobView(main: HTMLElement, id: string): () => void {
  const parts = {
    state: h("span", { class: "state", "data-testid": "job-state" }),
    actions: h("div", { class: "actions" }),
    message: h("div", { "aria-live": "polite" }),
    details: h("dl", { class: "details" }),
    progress: h("progress", { max: 1, value: 0, "aria-label": "Progress" }),
    progressText: h("span", { class: "progress-text", "data-testid": "job-progress" }),
    logs: h("ol", { class: "logs", "aria-label": "Log lines", tabindex: 0, "data-testid": "job-logs" }),
    input: h("div"),
    payloads: h("div"),
    attempts: h("div"),
  };
  const queueLink = h("a", { href: "#/" }, "…");
  fill(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Queues"), " / ", queueLink, " / job"),
    h("div", { class: "title-row" }, h("h1", { class: "mono job-id" }, id), parts.state),
    parts.actions,
    parts.message,
    h("div", { class: "progress-row" }, parts.progress, parts.progressText),
    parts.details,
    h("section", {}, h("h2", {}, "Logs"), parts.logs),
    h("section", { "data-testid": "job-input" }, h("h2", {}, "Input"), parts.input),
    parts.payloads,
    h("section", {}, h("h2", {}, "Attempts"), parts.attempts),
  );
  let ctl = new AbortController();
  let last: Job | undefined;

  const show = (job: Job) => {
    if (last === undefined) rememberQueue(job.queue);
    last = job;
    queueLink.setAttribute("href", `#/queues/${job.queue}`);
    setText(queueLink, job.queue);
    setText(parts.state, stateName(job.state));
    parts.state.className = `state ${stateName(job.state).toLowerCase()}`;
    parts.progress.value = job.progress;
    setText(parts.progressText, `${Math.round(job.progress * 100)}%`);
    fill(parts.details, ...detailsView(job));
    // Follow new lines while the reader is at the bottom; leave them be if they scrolled up.
    const atBottom = parts.logs.scrollTop + parts.logs.clientHeight >= parts.logs.scrollHeight - 4;
    for (const line of job.logs) parts.logs.appendChild(logLine(line));
    if (atBottom && job.logs.length > 0) parts.logs.scrollTop = parts.logs.scrollHeight;
    renderActions(job);
  };

  const renderActions = (job: Job) => {
    const buttons: HTMLButtonElement[] = [];
    if (!isTerminal(job.state) && can("Cancel", job.queue)) buttons.push(action("Cancel", "danger", cancel));
    if (
      (job.state === JobState.FAILED || job.state === JobState.CANCELLED || job.state === JobState.EXPIRED) &&
      can("Retry", job.queue)
    ) {
      buttons.push(action("Retry", "primary", retry));
    }
    const now = buttons.map((b) => b.textContent).join();
    const before = [...parts.actions.querySelectorAll("button")].map((b) => b.textContent).join();
    if (now !== before) fill(parts.actions, ...buttons);
  };

  const follow = async () => {
    ctl.abort();
    ctl = new AbortController();
    const signal = ctl.signal;
    fill(parts.logs);
    try {
      for await (const job of api.streamStatus({ id, includeLogs: true, includeOutput: true }, { signal })) {
        show(job);
        if (isTerminal(job.state)) fill(parts.payloads, ...payloadsView(job));
      }
      await loadAttempts(signal);
    } catch (err) {
      if (!isAborted(err) && !signal.aborted) fill(parts.message, notice(errorText(err), "error"));
    }
  };

  let inputShown = false;
  const loadAttempts = async (signal: AbortSignal) => {
    const includeInput = !inputShown;
    const job = await api.getStatus({ id, includeAttempts: true, includeInput }, { signal });
    fill(parts.attempts, attemptsView(job));
    if (includeInput) fill(parts.input, inputView(job));
    inputShown = true;
  };

  const cancel = async () => {
    const res = await api.cancel({ id });
    fill(parts.message, notice(res.message || (res.removed ? "Cancelled." : "The job had already finished.")));
  };

  const retry = async () => {
    const job = await api.retry({ id });
    fill(parts.message, notice(`Retried: ${stateName(job.state)} again.`));
    fill(parts.payloads);
    void follow();
  };

  function action(label: string, kind: string, run: () => Promise<void>): HTMLButtonElement {
    const button = h("button", { type: "button", class: kind }, label);
    button.addEventListener("click", () => {
      button.disabled = true;
      run()
        .catch((err: unknown) => fill(parts.message, notice(`${label}: ${errorText(err)}`, "error")))
        .finally(() => {
          button.disabled = false;
          if (last) renderActions(last);
        });
    });
    return button;
  }

  fill(parts.attempts, h("p", { class: "muted" }, "Loading…"));
  fill(parts.input, h("p", { class: "muted" }, "Loading…"));
  // The page's lifetime, not the stream's: follow() below replaces ctl at once.
  const page = new AbortController();
  void loadAttempts(page.signal).catch(() => {
    fill(parts.attempts, h("p", { class: "muted" }, "—"));
    if (!inputShown) fill(parts.input, h("p", { class: "muted" }, "—"));
  });
  void follow();
  return () => {
    page.abort();
    ctl.abort();
  };
}
