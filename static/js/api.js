/**
 * Writes from the secretariat's pages go through the JSON API (/api/v1),
 * with the session cookie, the CSRF token from <meta name="csrf-token"> and
 * an idempotency key, so that a double click or a retry stores one change.
 */
import { el, newKey } from "./util.js";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** POST `body` to /api/v1`path`. Resolves with the ack ({ok, version,
 *  result, replayed}); rejects with the error {code, message, details?}. */
export async function apiPost(path, body = {}, { key = newKey() } = {}) {
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
        "Idempotency-Key": key,
      },
      body: JSON.stringify(body),
    });
  } catch (_error) {
    throw { code: "network", message: "The server could not be reached. Check the connection and try again." };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (_error) {
    data = null;
  }
  if (response.ok && data && data.ok) return data;
  if (data && data.error) throw data.error;
  throw { code: "http", message: `The server answered with status ${response.status}. Nothing was changed.` };
}

const FIELD_NAMES = {
  planned_minutes: "Minutes", title: "Title", name: "Name", email: "E-mail", timezone: "Time zone",
  local_start: "Local start", topic: "Topic", label: "Label", code: "Code", item_ids: "Order",
};

/** A validation message people can act on (pydantic's wording is for developers). */
export function friendlyDetail(detail) {
  const field = String(detail.field || "").split(".").pop();
  const message = String(detail.message || "invalid");
  if (field === "email" && /pattern/.test(message)) return "Enter an e-mail address such as name@example.org.";
  if (/should match pattern/.test(message)) return "This format is not accepted.";
  if (/at least 1 character/.test(message)) return "This field is required.";
  if (/^Value error, /.test(message)) return message.replace(/^Value error, /, "").replace(/^./, (c) => c.toUpperCase());
  return message;
}

/** Show an error inside a form: the message in its .form-error box and
 *  per-field messages next to the fields named in error.details. */
export function showFormError(form, error) {
  clearFormError(form);
  const box = form.querySelector(".form-error") || form.querySelector("[role=alert]");
  if (box) {
    box.textContent = error.message || "That did not work.";
    box.hidden = false;
  }
  for (const detail of Array.isArray(error.details) ? error.details : []) {
    if (!detail || !detail.field) continue;
    const field = String(detail.field);
    const input = form.querySelector(`[name="${CSS.escape(field)}"]`)
      || form.querySelector(`[name="${CSS.escape(field.split(".").pop())}"]`);
    if (!input) continue;
    const id = `${input.id || input.name}-error`;
    const note = el("p", { class: "field-error", id, "data-generated": true }, friendlyDetail(detail));
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    (input.closest(".field") || input.parentNode).append(note);
  }
}

export function clearFormError(form) {
  const box = form.querySelector(".form-error");
  if (box) {
    box.textContent = "";
    box.hidden = true;
  }
  for (const note of form.querySelectorAll("[data-generated]")) note.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}

/** Show an error in a standalone alert box (not tied to a form), with the
 *  fields it names. */
export function showError(box, error) {
  if (!box) return;
  let text = "";
  if (error) {
    text = error.message || "That did not work.";
    const details = Array.isArray(error.details) ? error.details : [];
    const parts = details.filter((d) => d && d.field).map((d) => {
      const field = String(d.field).split(".").pop();
      return `${FIELD_NAMES[field] || field}: ${friendlyDetail(d)}`;
    });
    if (parts.length) text += ` ${parts.join("; ")}`;
  }
  box.textContent = text;
  box.hidden = !error;
}
