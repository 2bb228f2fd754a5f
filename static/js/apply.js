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

// After a refused submission, take the keyboard to the list of errors.
const summary = document.getElementById("form-error");
if (summary) summary.focus();
