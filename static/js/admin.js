/** The secretariat's list of dialogues: creating a dialogue posts JSON to
 *  /api/v1/dialogues (createDialogue), then the page reloads. */
import { apiPost, clearFormError, showFormError } from "./api.js";

const form = document.getElementById("create-dialogue");
const topicSelect = document.getElementById("topic-select");
const otherField = document.getElementById("topic-other-field");
const otherInput = document.getElementById("topic-other");

function syncTopic() {
  const other = topicSelect.value === "";
  otherField.hidden = !other;
  otherInput.required = other;
}
topicSelect.addEventListener("change", syncTopic);
syncTopic();

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFormError(form);
  const data = new FormData(form);
  const topic = topicSelect.value || String(data.get("topic") || "").trim();
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
