/** The secretariat's list of dialogues: creating a dialogue posts JSON to
 *  /api/v1/dialogues (createDialogue), then the page reloads. And the API
 *  tokens of the whole site: issued (shown once) and revoked. */
import { apiPost, clearFormError, showError, showFormError } from "./api.js";
import { showSecret } from "./secret.js";
import { topicField } from "./topic_field.js";
import { el } from "./util.js";

const form = document.getElementById("create-dialogue");
const otherInput = document.getElementById("topic-other");
const topicChoice = topicField(document.getElementById("topic-select"), document.getElementById("topic-other-field"),
  otherInput);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFormError(form);
  const data = new FormData(form);
  const topic = topicChoice.value();
  if (!topic) {
    showFormError(form, { message: "Choose a topic or type one.", details: [{ field: "topic", message: "required" }] });
    otherInput.focus();
    return;
  }
  const payload = { topic, kind: data.get("kind"), format: data.get("format") };
  for (const name of ["title", "timezone", "venue"]) {
    const value = String(data.get(name) || "").trim();
    if (value) payload[name] = value;
  }
  const start = String(data.get("local_start") || "");
  if (start) payload.local_start = start;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await apiPost("/dialogues", payload);
    window.location.reload();
  } catch (error) {
    showFormError(form, error);
    button.disabled = false;
  }
});

// -- API tokens for the whole site ---------------------------------------------------------------
const tokenForm = document.getElementById("site-token-form");
const tokenRows = document.getElementById("site-token-rows");
const tokenMessages = document.getElementById("site-token-messages");

tokenForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFormError(tokenForm);
  const label = String(new FormData(tokenForm).get("label") || "").trim();
  const button = tokenForm.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const ack = await apiPost("/api-tokens", label ? { label } : {});
    const id = Number(ack.result.credential_id);
    if (!tokenRows.querySelector(`tr[data-key="${id}"]`)) {
      const shown = label || "API (secretariat, whole site)";
      tokenRows.prepend(el("tr", { dataset: { key: id } },
        el("th", { scope: "row" }, shown),
        el("td", {}, "just now"),
        el("td", { class: "credential-state" }, "Active"),
        el("td", {}, el("button", { type: "button", class: "button small danger", "data-revoke": id,
          "aria-label": `Revoke: ${shown}` }, "Revoke"))));
    }
    showSecret("site-token-secret", `API token for the whole site${label ? ` (${label})` : ""}`, ack.result.token,
      "Shown only this once. Send it as “Authorization: Bearer <token>”. It cannot be shown again.");
    tokenForm.reset();
  } catch (error) {
    showFormError(tokenForm, error);
  } finally {
    button.disabled = false;
  }
});

tokenRows.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-revoke]");
  if (!button || button.disabled) return;
  const row = button.closest("tr");
  if (!window.confirm(`Revoke the token “${row.querySelector("th").textContent}”? Its clients stop at once.`)) return;
  button.disabled = true;
  try {
    await apiPost("/api-tokens/revoke", { credential_id: Number(button.dataset.revoke) });
    row.dataset.revoked = "";
    row.querySelector(".credential-state").textContent = "Revoked";
    showError(tokenMessages, null);
  } catch (error) {
    button.disabled = false;
    showError(tokenMessages, error);
  }
});
