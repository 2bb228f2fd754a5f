/**
 * A secret shown once (a link, an API token, a join code): in a box with a
 * copy button and a "Done" button that clears it. The server keeps no clear
 * copy; the answer to a repeated request (a replayed idempotency key) has
 * none, and the box then says that it was shown already.
 */
import { el } from "./util.js";

export function showSecret(boxId, title, value, hint) {
  const box = document.getElementById(boxId);
  box.replaceChildren();
  if (!value) {
    // A replayed answer: the server keeps no secret, it was shown once.
    box.append(
      el("p", { class: "secret-title" }, title),
      el("p", { class: "hint", role: "status" }, "This was already issued, and its secret was shown then: "
        + "it cannot be shown again. If it was not copied, issue a new one and revoke this one."));
    box.hidden = false;
    return;
  }
  const inputId = `${boxId}-value`;
  const input = el("input", { id: inputId, type: "text", readonly: true, class: "secret-value", spellcheck: "false" });
  input.value = value;
  const status = el("span", { class: "secret-status", role: "status" });
  const copy = el("button", { type: "button", class: "button small primary" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch (_error) {
      input.select();
      document.execCommand("copy"); // http on a venue LAN has no clipboard API
    }
    status.textContent = "Copied.";
  });
  const dismiss = el("button", { type: "button", class: "button small" }, "Done");
  dismiss.addEventListener("click", () => { box.hidden = true; box.replaceChildren(); });
  box.append(
    el("label", { class: "secret-title", for: inputId }, title),
    el("div", { class: "secret-row" }, input, copy, dismiss),
    el("p", { class: "hint" }, hint || "Shown only this once: copy it now. It cannot be shown again; "
      + "if it is lost, issue a new one and revoke this one."),
    status);
  box.hidden = false;
  input.focus();
  input.select();
}
