// A form for trying a queue: queue, JSON input, a few options; on success
// the page opens the new job.
import type { JsonValue } from "@bufbuild/protobuf";
import { api, errorText } from "../api.js";
import { fill, h, notice } from "../dom.js";
import { jsonToValue } from "../json-view.js";
import { knownQueues, rememberQueue } from "../queues-source.js";
import { can } from "../session.js";

const EXAMPLE = '{\n  "hello": "world",\n  "sleep_ms": 3000,\n  "progress": 6,\n  "logs": ["starting"]\n}';

export function submitView(main: HTMLElement, query: URLSearchParams): () => void {
  const queue = h("input", {
    id: "s-queue",
    name: "queue",
    required: true,
    list: "s-queues",
    pattern: "[a-z0-9][a-z0-9_-]{0,63}",
    value: query.get("queue") ?? "echo",
    autocomplete: "off",
  });
  const input = h("textarea", { id: "s-input", name: "input", rows: 10, spellcheck: "false" });
  input.value = EXAMPLE;
  const attempts = h("input", {
    id: "s-attempts",
    name: "max_attempts",
    type: "number",
    min: 1,
    max: 100,
    inputmode: "numeric",
  });
  const priority = h("input", {
    id: "s-priority",
    name: "priority",
    type: "number",
    min: 1,
    max: 10,
    inputmode: "numeric",
  });
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "submit-form" },
    field("Queue", queue),
    h("datalist", { id: "s-queues" }, ...knownQueues().map((q) => h("option", { value: q }))),
    field("Input (JSON)", input),
    h("div", { class: "two" }, field("Max attempts", attempts), field("Priority (1–10)", priority)),
    h("button", { type: "submit", class: "primary" }, "Submit"),
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void send(queue.value.trim(), input.value, attempts.value, priority.value, out);
  });
  fill(main, h("h1", {}, "Submit a job"), can("Submit") ? form : notice("This API key may not submit jobs."));
  return () => undefined;
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

async function send(queue: string, text: string, attempts: string, priority: string, out: HTMLElement) {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (err) {
    fill(out, notice(`Input is not JSON: ${(err as Error).message}`, "error"));
    return;
  }
  try {
    const options = {
      ...(attempts ? { maxAttempts: Number(attempts) } : {}),
      ...(priority ? { priority: Number(priority) } : {}),
    };
    const job = await api.submit({ queue, input: jsonToValue(json), options });
    rememberQueue(queue);
    location.hash = `#/jobs/${job.id}`;
  } catch (err) {
    fill(out, notice(errorText(err), "error"));
  }
}
