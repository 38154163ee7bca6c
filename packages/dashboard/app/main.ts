// The dashboard's entry: find out whether a key is needed (and which role
// it has), then show the view the URL's hash names.
import { fill, h, notice } from "./dom.js";
import { apiKey, loadSession, session, setApiKey } from "./session.js";
import { jobView } from "./views/job.js";
import { loginView } from "./views/login.js";
import { overview } from "./views/overview.js";
import { queueView } from "./views/queue.js";
import { submitView } from "./views/submit.js";

const main = document.getElementById("main")!;
let stop: () => void = () => undefined;

/** #/ overview, #/queues/<name>?state=failed, #/jobs/<id>, #/submit?queue=<name>. */
let routed = false;

function route(): void {
  stop();
  // Keyboard and screen-reader users land at the new view, not on the link they left.
  if (routed) main.focus({ preventScroll: true });
  routed = true;
  const [path = "", search = ""] = location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "queues" && parts[1]) stop = queueView(main, parts[1], query);
  else if (parts[0] === "jobs" && parts[1]) stop = jobView(main, parts[1]);
  else if (parts[0] === "submit") stop = submitView(main, query);
  else stop = overview(main);
  for (const link of document.querySelectorAll<HTMLAnchorElement>("header nav a")) {
    const here = link.getAttribute("href") === `#/${parts[0] === "submit" ? "submit" : ""}`;
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showWho(): void {
  const who = document.getElementById("who")!;
  const s = session();
  if (!s.auth) return fill(who);
  const out = h("button", { type: "button", class: "small" }, "Sign out");
  out.addEventListener("click", () => {
    setApiKey(null);
    location.reload();
  });
  fill(who, h("span", { class: "role", "data-testid": "role" }, `${s.name ?? "key"} · ${s.role ?? ""}`), out);
}

async function start(problem = ""): Promise<void> {
  try {
    const res = await loadSession();
    if (!res.ok) {
      if (apiKey()) setApiKey(null);
      loginView(main, problem || res.message, () => void start());
      return;
    }
  } catch (err) {
    fill(main, notice(`Cannot reach the server: ${(err as Error).message}`, "error"));
    return;
  }
  showWho();
  window.addEventListener("hashchange", route);
  route();
}

document.getElementById("find")!.addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("find-id") as HTMLInputElement;
  const id = input.value.trim();
  if (id) location.hash = `#/jobs/${encodeURIComponent(id)}`;
  input.value = "";
});

void start();
