// Asked for when the server wants an API key: kept in this tab's
// sessionStorage only.
import { fill, h, notice } from "../dom.js";
import { setApiKey } from "../session.js";

export function loginView(main: HTMLElement, problem: string, done: () => void): void {
  const key = h("input", {
    id: "api-key",
    name: "key",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "login" },
    h("h1", {}, "API key"),
    h(
      "p",
      {},
      "This jetq server needs an API key. It stays in this browser tab (session storage) and is sent only to this server.",
    ),
    problem ? notice(`That key was refused: ${problem}`, "error") : null,
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), key),
    h("button", { type: "submit", class: "primary" }, "Continue"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setApiKey(key.value.trim());
    done();
  });
  fill(main, form);
  key.focus();
}
