/**
 * The secretariat's page for one dialogue: settings, the agenda editor,
 * participants, access links and API tokens, the join code and roles.
 *
 * Writes go through the JSON API (api.js: session cookie + X-CSRFToken +
 * Idempotency-Key). The page also listens on the live connection, so what
 * the moderator does (and other secretariat members) shows up here; fields
 * the user is editing are never overwritten by those updates.
 *
 * Secrets (link tokens, API tokens) exist in clear text only in the answer
 * to the command that made them: they are shown once, with a copy button,
 * and never again. The join code is the exception: it is derived from the
 * server's key, so the page shows the current one at any time.
 */
import { apiPost, clearFormError, showError, showFormError } from "./api.js";
import { fetchJoining, followJoining } from "./joining.js";
import { showSecret } from "./secret.js";
import { topicField } from "./topic_field.js";
import { STATUS_LABELS, CHANNEL_LABELS, renderDialogueTitle } from "./agenda.js";
import { serverNow, subscribe } from "./live.js";
import { formatClock, setAgenda, startTimers } from "./timer.js";
import { clearDirty, el, isEditing, setAttr, setText, syncList, trackDirty } from "./util.js";

const dialogueId = Number(document.body.dataset.dialogueId);
const base = `/dialogues/${dialogueId}`;
const ROLE_LABELS = {
  secretariat: "Secretariat", moderator: "Moderator", rapporteur: "Rapporteur", display: "Display", participant: "Participant",
};

let state = null;
startTimers(serverNow);

function dialogue() {
  if (state) return state.sections.dialogue;
  return { timezone: document.body.dataset.timezone, join_enabled: document.getElementById("join-state").textContent === "on" };
}

function formatWhen(ms, timeZone, withYear = false) {
  if (ms == null) return "–";
  const options = { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withYear) options.year = "numeric";
  try {
    return new Intl.DateTimeFormat("en-GB", { ...options, timeZone }).format(new Date(ms));
  } catch (_error) {
    return new Intl.DateTimeFormat("en-GB", options).format(new Date(ms));
  }
}

/** Run `work` with the form's submit button disabled; errors go into the form. */
async function withForm(form, work) {
  clearFormError(form);
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (error) {
    showFormError(form, error);
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

function linkFor(token) {
  return token ? `${window.location.origin}/l/${token}` : null;
}

// -- credentials table -----------------------------------------------------------------------
const credentialRows = document.getElementById("credential-rows");
const credentialMessages = document.getElementById("credentials-messages");

function addCredentialRow({ id, label, role, kind }) {
  if (credentialRows.querySelector(`tr[data-key="${Number(id)}"]`)) return; // a replayed answer
  const revoke = el("button", { type: "button", class: "button small danger", "data-revoke": id, "aria-label": `Revoke: ${label}` }, "Revoke");
  const row = el("tr", { dataset: { key: id } },
    el("th", { scope: "row" }, label || "–"),
    el("td", {}, ROLE_LABELS[role] || role),
    el("td", {}, kind === "api" ? "API token" : "Link"),
    el("td", {}, formatWhen(serverNow(), dialogue().timezone)),
    el("td", { class: "credential-state" }, "Active"),
    el("td", {}, revoke));
  credentialRows.prepend(row);
}

credentialRows.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-revoke]");
  if (!button || button.disabled) return;
  const row = button.closest("tr");
  const who = row.querySelector("th").textContent;
  if (!window.confirm(`Revoke the access of “${who}”? Open pages using it are closed at once.`)) return;
  button.disabled = true;
  try {
    await apiPost(`${base}/credentials/revoke`, { credential_id: Number(button.dataset.revoke) });
    row.dataset.revoked = "";
    setText(row.querySelector(".credential-state"), "Revoked");
    showError(credentialMessages, null);
  } catch (error) {
    button.disabled = false;
    showError(credentialMessages, error);
  }
});

// -- settings --------------------------------------------------------------------------------
const settingsForm = document.getElementById("settings-form");
trackDirty(settingsForm);
const topicChoice = topicField(document.getElementById("s-topic-select"), document.getElementById("s-topic-other-field"),
  document.getElementById("s-topic"));

settingsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(settingsForm);
  const payload = {};
  for (const name of ["title", "kind", "timezone", "venue", "format", "local_start"]) {
    const value = String(data.get(name) || "").trim();
    if (value) payload[name] = value;
  }
  if (topicChoice.value()) payload.topic = topicChoice.value();
  const status = settingsForm.querySelector(".form-status");
  status.textContent = "";
  const ack = await withForm(settingsForm, () => apiPost(`${base}/settings`, payload));
  if (ack) {
    clearDirty(settingsForm);
    status.textContent = "Saved.";
    showStartWarning((ack.result.warnings || []).find((w) => w.field === "local_start"));
    if (state) renderSettings(dialogue());
  }
});

/** Saved, but the deadline for applications is after the start: say so beside the start. */
function showStartWarning(warning) {
  const line = document.getElementById("s-start-warning");
  const start = document.getElementById("s-start");
  setText(line, warning ? warning.message : "");
  line.hidden = !warning;
  setAttr(start, "aria-describedby", warning ? "s-start-warning" : null);
}

function renderSettings(d) {
  renderDialogueTitle(d);
  setText(document.getElementById("page-title"), d.title);
  setText(document.getElementById("crumb-title"), d.title);
  const parts = [d.kind === "preparation_day" ? "Preparation Day" : "Constructive Dialogue", d.topic_label];
  if (d.starts_at) parts.push(`${formatWhen(d.starts_at, d.timezone, true)} (${d.timezone})`);
  if (d.venue) parts.push(d.venue);
  setText(document.getElementById("dialogue-summary"), parts.join(" · "));
  setText(document.getElementById("join-state"), d.join_enabled ? "on" : "off");
  setText(document.getElementById("join-enable"), d.join_enabled ? "Issue a new code" : "Turn on with a new code");
  document.getElementById("join-disable").disabled = !d.join_enabled;
  if (isEditing(settingsForm)) return; // never overwrite what the user is typing
  const values = {
    title: d.title, kind: d.kind, timezone: d.timezone, venue: d.venue, format: d.format,
    local_start: d.local_start ? d.local_start.slice(0, 16) : "",
  };
  for (const [name, value] of Object.entries(values)) {
    const input = settingsForm.elements.namedItem(name);
    if (input && input.value !== value) input.value = value;
  }
  topicChoice.set(d.topic);
}

// -- agenda editor ---------------------------------------------------------------------------
const editList = document.getElementById("edit-agenda");
const agendaMessages = document.getElementById("agenda-messages");
const typeOptions = document.getElementById("item-type-options");
trackDirty(editList);

function createEditRow() {
  const row = el("li", { class: "edit-item" });
  const form = el("form", { class: "edit-item-form", novalidate: true });
  const id = `n${Math.random().toString(36).slice(2, 8)}`;
  const select = el("select", { id: `type-${id}`, name: "item_type" });
  select.append(typeOptions.content.cloneNode(true));
  form.append(
    el("span", { class: "edit-pos", "aria-hidden": "true" }),
    el("div", { class: "field" }, el("label", { for: `type-${id}` }, "Type"), select),
    el("div", { class: "field grow" }, el("label", { for: `title-${id}` }, "Title"),
      el("input", { id: `title-${id}`, name: "title", type: "text", maxlength: 300, required: true })),
    el("div", { class: "field narrow-field" }, el("label", { for: `minutes-${id}` }, "Minutes"),
      el("input", { id: `minutes-${id}`, name: "planned_minutes", type: "number", min: 1, max: 600, required: true })),
    el("div", { class: "field grow presenters-field" }, el("label", { for: `presenters-${id}` }, "Panellists or presenters (separate with ;)"),
      el("input", { id: `presenters-${id}`, name: "presenters", type: "text", maxlength: 2000 })),
    el("span", { class: "badge agenda-status" }),
    el("div", { class: "edit-actions" },
      el("button", { type: "submit", class: "button small" }, "Save"),
      el("button", { type: "button", class: "button small", "data-move": "-1" }, "↑"),
      el("button", { type: "button", class: "button small", "data-move": "1" }, "↓"),
      el("button", { type: "button", class: "button small danger", "data-remove": true }, "Remove")));
  row.append(form);
  return row;
}

function updateEditRow(row, item, index) {
  const items = state.sections.agenda.items;
  const form = row.querySelector("form");
  form.dataset.itemId = String(item.id);
  row.dataset.status = item.status;
  setText(row.querySelector(".edit-pos"), String(index + 1));
  const badge = row.querySelector(".agenda-status");
  badge.dataset.status = item.status;
  setText(badge, STATUS_LABELS[item.status] || item.status);
  const up = row.querySelector('[data-move="-1"]');
  const down = row.querySelector('[data-move="1"]');
  const remove = row.querySelector("[data-remove]");
  setAttr(up, "aria-label", `Move up: ${item.title}`);
  setAttr(down, "aria-label", `Move down: ${item.title}`);
  setAttr(remove, "aria-label", `Remove: ${item.title}`);
  up.disabled = index === 0;
  down.disabled = index === items.length - 1;
  remove.disabled = item.status !== "pending" || item.started_at != null;
  if (isEditing(form)) return; // the user is typing here: leave the fields alone
  form.elements.namedItem("item_type").value = item.type;
  form.elements.namedItem("title").value = item.title;
  form.elements.namedItem("planned_minutes").value = String(Math.round(item.planned_seconds / 60));
  form.elements.namedItem("presenters").value = (item.presenters || []).join("; ");
}

// The form takes "A; B"; the agenda keeps one presenter per line.
function presenterLines(text) {
  return String(text || "").split(";").map((part) => part.trim()).filter(Boolean).join("\n");
}

function renderAgendaEditor(agenda) {
  syncList(editList, agenda.items || [], (item) => item.id, createEditRow, updateEditRow);
  document.getElementById("agenda-empty").hidden = (agenda.items || []).length > 0;
}

editList.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const itemId = Number(form.dataset.itemId);
  const minutes = Number(form.elements.namedItem("planned_minutes").value);
  const payload = {
    item_id: itemId,
    item_type: form.elements.namedItem("item_type").value,
    title: form.elements.namedItem("title").value.trim(),
    planned_minutes: Number.isFinite(minutes) ? Math.round(minutes) : 0,
    presenters: presenterLines(form.elements.namedItem("presenters").value),
  };
  try {
    await apiPost(`${base}/agenda/items/update`, payload);
    clearDirty(form);
    showError(agendaMessages, null);
    if (state) renderAgendaEditor(state.sections.agenda);
  } catch (error) {
    showError(agendaMessages, error);
  }
});

editList.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-move], button[data-remove]");
  if (!button || button.disabled || !state) return;
  const itemId = Number(button.closest("form").dataset.itemId);
  const items = state.sections.agenda.items;
  try {
    if (button.hasAttribute("data-remove")) {
      const item = items.find((i) => i.id === itemId);
      if (!window.confirm(`Remove “${item ? item.title : "this item"}” from the agenda?`)) return;
      await apiPost(`${base}/agenda/items/remove`, { item_id: itemId });
    } else {
      const ids = items.map((i) => i.id);
      const from = ids.indexOf(itemId);
      const to = from + Number(button.dataset.move);
      if (from < 0 || to < 0 || to >= ids.length) return;
      [ids[from], ids[to]] = [ids[to], ids[from]];
      await apiPost(`${base}/agenda/reorder`, { item_ids: ids });
    }
    showError(agendaMessages, null);
  } catch (error) {
    showError(agendaMessages, error);
  }
});

const addForm = document.getElementById("add-item-form");
const newType = document.getElementById("new-type");

function syncNewType() {
  const option = newType.selectedOptions[0];
  if (!option) return;
  document.getElementById("new-title").placeholder = option.dataset.label || "";
  document.getElementById("new-minutes").placeholder = option.dataset.defaultMinutes || "";
}
newType.addEventListener("change", syncNewType);
syncNewType();

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(addForm);
  const payload = { item_type: data.get("item_type") };
  const title = String(data.get("title") || "").trim();
  const minutes = String(data.get("planned_minutes") || "").trim();
  if (title) payload.title = title;
  if (minutes) payload.planned_minutes = Number(minutes);
  const presenters = presenterLines(data.get("presenters"));
  if (presenters) payload.presenters = presenters;
  const ack = await withForm(addForm, () => apiPost(`${base}/agenda/items`, payload));
  if (ack) {
    addForm.elements.namedItem("title").value = "";
    addForm.elements.namedItem("planned_minutes").value = "";
    addForm.elements.namedItem("presenters").value = "";
  }
});

// -- participants -----------------------------------------------------------------------------
const peopleRows = document.getElementById("people-rows");

function renderPeople(people) {
  syncList(peopleRows, people, (p) => p.id,
    (p) => el("tr", {},
      el("th", { scope: "row", class: "person-name" }),
      el("td", {}, el("span", { class: "person-org" }), el("span", { class: "muted small block person-category" })),
      el("td", {}, el("span", { class: "badge channel" })),
      el("td", { class: "person-email" }),
      el("td", {}, el("button", { type: "button", class: "button small", "data-issue-participant": p.id }, "New link"))),
    (row, p) => {
      setText(row.querySelector(".person-name"), p.name);
      setText(row.querySelector(".person-org"), p.organization || "–");
      setText(row.querySelector(".person-category"), p.category_label || "");
      const badge = row.querySelector(".channel");
      badge.dataset.channel = p.channel;
      setText(badge, CHANNEL_LABELS[p.channel] || p.channel);
      setText(row.querySelector(".person-email"), p.email || "–");
    });
  setText(document.getElementById("people-count"), `${people.length} registered`);
  document.getElementById("people-empty").hidden = people.length > 0;
}

peopleRows.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-issue-participant]");
  if (!button) return;
  const participantId = Number(button.dataset.issueParticipant);
  const name = button.closest("tr").querySelector(".person-name").textContent;
  button.disabled = true;
  try {
    const ack = await apiPost(`${base}/links`, { role: "participant", participant_id: participantId });
    addCredentialRow({ id: ack.result.credential_id, label: name, role: "participant", kind: "link" });
    showSecret("participant-secret", `Personal link for ${name}`, linkFor(ack.result.token));
    showError(document.getElementById("participants-messages"), null);
  } catch (error) {
    showError(document.getElementById("participants-messages"), error);
  } finally {
    button.disabled = false;
  }
});

const registerForm = document.getElementById("register-form");
registerForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(registerForm);
  const payload = {
    name: String(data.get("name") || "").trim(),
    email: String(data.get("email") || "").trim(),
    channel: data.get("channel") || "online",
  };
  const org = String(data.get("organization.name") || "").trim();
  if (org) payload.organization = { name: org, category: data.get("organization.category") };
  const ack = await withForm(registerForm, () => apiPost(`${base}/participants`, payload));
  if (ack) {
    addCredentialRow({ id: ack.result.credential_id, label: payload.name, role: "participant", kind: "link" });
    showSecret("participant-secret", `Personal link for ${payload.name}`, linkFor(ack.result.token));
    registerForm.reset();
  }
});

// -- access links and API tokens ------------------------------------------------------------
document.getElementById("link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const role = form.elements.namedItem("role").value;
  const label = form.elements.namedItem("label").value.trim();
  const ack = await withForm(form, () => apiPost(`${base}/links`, { role, label }));
  if (ack) {
    addCredentialRow({ id: ack.result.credential_id, label: label || ROLE_LABELS[role] || role, role, kind: "link" });
    showSecret("access-secret", `${ROLE_LABELS[role]} link${label ? ` for ${label}` : ""}`, linkFor(ack.result.token));
    form.elements.namedItem("label").value = "";
  }
});

document.getElementById("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const role = form.elements.namedItem("role").value;
  const label = form.elements.namedItem("label").value.trim();
  const ack = await withForm(form, () => apiPost(`${base}/api-tokens`, { role, label }));
  if (ack) {
    addCredentialRow({ id: ack.result.credential_id, label: label || `API (${ROLE_LABELS[role] || role})`, role, kind: "api" });
    showSecret("access-secret", `API token (${ROLE_LABELS[role]})${label ? ` for ${label}` : ""}`, ack.result.token,
      "Shown only this once. Send it as “Authorization: Bearer <token>”. It cannot be shown again.");
    form.elements.namedItem("label").value = "";
  }
});

// -- join code -----------------------------------------------------------------------------------
// The current code is shown at any time (recomputed by the server, never stored): after issuing
// one here, and when someone else issues one (the dialogue section's join_generation changes).
const joinMessages = document.getElementById("join-messages");
const joinCurrent = document.getElementById("join-current");

function showJoining(joining) {
  joinCurrent.hidden = !joining.enabled;
  joinCurrent.dataset.generation = String(joining.generation);
  document.getElementById("join-current-code").hidden = !joining.code;
  document.getElementById("join-code-own").hidden = Boolean(joining.code) || !joining.enabled;
  setText(document.getElementById("join-code"), joining.code || "");
}

async function configureJoin(enabled) {
  if (enabled && dialogue().join_enabled
      && !window.confirm("Issue a new join code? The current code and the QR code on the display stop working.")) return;
  try {
    await apiPost(`${base}/join-code`, { enabled });
    showError(joinMessages, null);
    showJoining(await fetchJoining(dialogueId));
  } catch (error) {
    showError(joinMessages, error);
  }
}
document.getElementById("join-enable").addEventListener("click", () => configureJoin(true));
document.getElementById("join-disable").addEventListener("click", () => configureJoin(false));
followJoining(subscribe, dialogueId, { enabled: joinCurrent.dataset.enabled === "true",
  generation: Number(joinCurrent.dataset.generation) || 0 }, showJoining);

// -- roles of user accounts ------------------------------------------------------------------------
const assignments = document.getElementById("assignments");
const rolesMessages = document.getElementById("roles-messages");

function addAssignment(username, role) {
  if (assignments.querySelector(`li[data-username="${CSS.escape(username)}"][data-role="${CSS.escape(role)}"]`)) return;
  assignments.append(el("li", { dataset: { username, role } }, el("span", {}, username), " ",
    el("span", { class: "badge" }, ROLE_LABELS[role] || role), " ",
    el("button", { type: "button", class: "button small", "data-unassign": true,
      "aria-label": `Remove the ${ROLE_LABELS[role] || role} role from ${username}` }, "Remove")));
  document.getElementById("assignments-empty").hidden = true;
}

document.getElementById("assign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const username = form.elements.namedItem("username").value;
  const role = form.elements.namedItem("role").value;
  const ack = await withForm(form, () => apiPost(`${base}/roles/assign`, { username, role }));
  if (ack) addAssignment(username, role);
});

assignments.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-unassign]");
  if (!button) return;
  const item = button.closest("li");
  const { username, role } = item.dataset;
  button.disabled = true;
  try {
    await apiPost(`${base}/roles/unassign`, { username, role });
    item.remove();
    document.getElementById("assignments-empty").hidden = assignments.children.length > 0;
    showError(rolesMessages, null);
  } catch (error) {
    button.disabled = false;
    showError(rolesMessages, error);
  }
});

// -- live updates ---------------------------------------------------------------------------------
subscribe((next, changed) => {
  state = next;
  const sections = next.sections;
  if (changed.includes("dialogue")) renderSettings(sections.dialogue);
  if (changed.includes("agenda") || changed.includes("dialogue")) {
    renderAgendaEditor(sections.agenda);
    setAgenda(sections.agenda, sections.dialogue);
    for (const node of document.querySelectorAll("[data-planned-end]")) {
      setText(node, formatClock(sections.agenda.planned_end, sections.dialogue.timezone) || "–");
    }
  }
  if (changed.includes("participants") && sections.participants) renderPeople(sections.participants);
});
