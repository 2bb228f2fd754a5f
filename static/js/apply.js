/**
 * The application form, enhanced. It works without this module (a plain
 * POST; "Add another participant" reloads the form with one more row);
 * here the row is added in place, and the in-person limit is explained as
 * soon as a second person is marked in person. The server checks the same
 * rules again: nothing here is trusted.
 */
const list = document.getElementById("nominees");
const addButton = document.getElementById("add-row");
const warning = document.getElementById("mode-warning");
const MAX = list ? Number(list.dataset.max) || 20 : 0;

function renumber(node, index) {
  node.dataset.index = String(index);
  for (const element of node.querySelectorAll("[name], [id], [for], [aria-describedby]")) {
    for (const attribute of ["name", "id", "for"]) {
      const value = element.getAttribute(attribute);
      if (value) element.setAttribute(attribute, value.replace(/^participants([.-])\d+/, `participants$1${index}`));
    }
  }
  const number = node.querySelector(".nominee-number");
  if (number) number.textContent = String(index + 1);
}

function addRow() {
  const rows = list.querySelectorAll(".nominee");
  if (!rows.length || rows.length >= MAX) return;
  const copy = rows[rows.length - 1].cloneNode(true);
  renumber(copy, rows.length);
  for (const note of copy.querySelectorAll(".field-error")) note.remove();
  for (const element of copy.querySelectorAll("[aria-invalid]")) {
    element.removeAttribute("aria-invalid");
    element.removeAttribute("aria-describedby");
  }
  for (const input of copy.querySelectorAll('input[type="text"], input[type="email"]')) input.value = "";
  for (const radio of copy.querySelectorAll('input[type="radio"]')) radio.checked = radio.value === "online";
  list.append(copy);
  copy.querySelector("input").focus();
  if (list.querySelectorAll(".nominee").length >= MAX) addButton.hidden = true;
}

function checkModes() {
  const chosen = Array.from(list.querySelectorAll('input[type="radio"]:checked')).map((r) => r.value);
  const inPerson = chosen.filter((v) => v === "in_person").length;
  const alternates = chosen.filter((v) => v === "alternate").length;
  let message = "";
  if (inPerson > 1) message = "Only one person per organization can attend in person (plus one alternate); everyone else joins online.";
  else if (alternates > 1) message = "Only one alternate per organization; everyone else joins online.";
  else if (alternates && !inPerson) message = "An alternate stands in for the in-person participant: choose who attends in person first.";
  warning.textContent = message;
  warning.hidden = !message;
}

if (list) {
  if (addButton) {
    addButton.addEventListener("click", (event) => {
      event.preventDefault();
      addRow();
    });
  }
  list.addEventListener("change", (event) => {
    if (event.target.matches('input[type="radio"]')) checkModes();
  });
  // Not at load: after a refused submission the server's own messages are already there.
}

// -- errors that clear as the person fixes them ---------------------------------------------
// After a refused submission each problem is marked on its field (aria-invalid, a message
// whose id ends in "-error") and listed in #form-error. A field whose value now passes the
// simple checks loses its mark, its message and its line in the list; the server checks
// everything again when the form is sent.
const form = document.getElementById("apply-form");
const summary = document.getElementById("form-error");

function hasValue(control) {
  if (control.matches("fieldset")) {
    if (control.id === "participants") {
      // "Nominate at least one participant": someone has a name now.
      return Array.from(control.querySelectorAll('input[name$=".name"]')).some((input) => input.value.trim());
    }
    return Boolean(control.querySelector("input:checked"));
  }
  if (control.type === "checkbox" || control.type === "radio") return control.checked;
  if (!control.value.trim()) return false;
  return control.type === "email" || control.type === "url" ? control.validity.valid : true;
}

function clearMark(control) {
  const ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  for (const id of ids.filter((token) => token.endsWith("-error"))) {
    const message = document.getElementById(id);
    if (message) message.remove();
  }
  const kept = ids.filter((token) => !token.endsWith("-error"));
  if (kept.length) control.setAttribute("aria-describedby", kept.join(" "));
  else control.removeAttribute("aria-describedby");
  control.removeAttribute("aria-invalid");
  // The list links to the field, or to the label around a lone checkbox.
  const anchor = control.id || (control.closest("label[id]") || {}).id;
  if (!summary || !anchor) return;
  for (const link of summary.querySelectorAll(`a[href="#${CSS.escape(anchor)}"]`)) link.closest("li").remove();
  const list = summary.querySelector(".error-list");
  if (list && !list.children.length) summary.hidden = true; // nothing left to fix
}

function recheck(event) {
  const target = event.target;
  for (const control of form.querySelectorAll('[aria-invalid="true"]')) {
    if ((control === target || control.contains(target)) && hasValue(control)) clearMark(control);
  }
}

if (form) {
  form.addEventListener("input", recheck);
  form.addEventListener("change", recheck);
}

// After a refused submission, take the keyboard to the list of errors.
if (summary) summary.focus();
