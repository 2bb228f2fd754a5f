/**
 * The rapporteur's workspace: what happens now, the inputs (inputs_workspace.js),
 * the oral interventions with their key points, and the draft summary
 * (summary_editor.js).
 *
 * Oral interventions: the snapshot names only the current speaker, so the
 * list is built from the dialogue's record of interventions (the JSON
 * export, read once per connection) plus every speaker seen live in the
 * "queue" section. "Record key points" stores an input linked to the
 * intervention (inputs.record_oral).
 */
import { dialogueId, notify, send, serverNow, subscribe } from "./live.js";
import { renderAgenda, renderCurrent, renderDialogueTitle, timeZoneOf } from "./agenda.js";
import { initSummary, renderSummary } from "./summary_editor.js";
import { initWorkspace, knownInputs, renderWorkspace } from "./inputs_workspace.js";
import { initAssistant } from "./assistant.js";
import { formatClock, setAgenda, startTimers } from "./timer.js";
import { el, setAttr, setText, syncList } from "./util.js";

const CHANNELS = { room: "In the room", online: "Online" };
const KINDS = { comment: "Comment", suggestion: "Suggestion to States parties", question: "Question to the panel",
  statement: "Written statement" };

const interventions = new Map(); // speaker entry id -> intervention
let sections = null;
let recordsObject = null;
let timeZone;

startTimers(serverNow);
initWorkspace({ onRender: () => renderOral() });
initSummary();
initAssistant();

// -- oral interventions ---------------------------------------------------------------------------
async function readInterventions() {
  try {
    const response = await fetch(`/api/v1/dialogues/${dialogueId}/summary/export?format=json`,
      { credentials: "same-origin" });
    if (!response.ok) return;
    const document_ = await response.json();
    const byTitle = new Map(((sections && sections.agenda && sections.agenda.items) || []).map((i) => [i.title, i.id]));
    for (const row of document_.interventions || []) {
      if (interventions.has(row.id)) continue;
      interventions.set(row.id, {
        id: row.id, name: row.name, organization: row.organization, category_label: row.category_label,
        channel: row.channel, type_label: row.type_label, item_id: byTitle.get(row.agenda_item) ?? null,
        started_at: row.start ? Date.parse(row.start) : null,
      });
    }
    renderOral();
  } catch (_error) {
    // the list fills as people speak
  }
}

function noteSpeaker(queue) {
  const speaker = queue && queue.current;
  if (!speaker) return;
  interventions.set(speaker.id, {
    id: speaker.id, name: speaker.name, organization: speaker.organization, category_label: speaker.category_label,
    channel: speaker.channel, type_label: speaker.type_label, item_id: queue.item_id, started_at: speaker.started_at,
  });
}

function recordedCount(entryId) {
  let count = 0;
  for (const input of knownInputs().values()) {
    if (input.speaker_entry_id === entryId && input.status !== "withdrawn") count += 1;
  }
  return count;
}

function createOral() {
  return el("li", { class: "oral-row" },
    el("div", { class: "oral-head" },
      el("span", { class: "oral-name", dir: "auto" }), " ", el("span", { class: "oral-meta" }), " ",
      el("span", { class: "oral-recorded" }), " ",
      el("button", { type: "button", class: "button small", "data-oral": "open", "aria-expanded": "false" }, "Record key points")),
    el("div", { class: "oral-editor", hidden: true }));
}

function updateOral(row, entry) {
  const speaking = sections && sections.queue && sections.queue.current && sections.queue.current.id === entry.id;
  setAttr(row, "data-speaking", speaking ? "" : null);
  setText(row.querySelector(".oral-name"), entry.name);
  const when = entry.started_at ? formatClock(entry.started_at, timeZone) : "";
  // The organization (user text) in its own direction, apart from the words around it.
  const meta = row.querySelector(".oral-meta");
  const rest = [entry.category_label, CHANNELS[entry.channel], entry.type_label, when].filter(Boolean).join(" · ");
  const org = entry.organization || "";
  if (meta.textContent !== [org, rest].filter(Boolean).join(" · ")) {
    meta.replaceChildren(...(org ? [el("bdi", {}, org), rest ? " · " : ""] : []), rest);
  }
  const count = recordedCount(entry.id);
  setText(row.querySelector(".oral-recorded"), count ? `${count} recorded` : "");
  setAttr(row.querySelector('[data-oral="open"]'), "aria-label", `Record key points of ${entry.name}`);
}

function renderOral() {
  if (!sections) return;
  const all = document.getElementById("oral-all").checked;
  const itemId = (sections.queue && sections.queue.item_id) ?? (sections.agenda && sections.agenda.current_item_id);
  const rows = [...interventions.values()]
    .filter((entry) => all || entry.item_id === itemId)
    .sort((a, b) => (b.started_at || 0) - (a.started_at || 0) || b.id - a.id);
  const list = document.getElementById("oral-list");
  // A row with an open form stays, whatever the filter says.
  for (const row of list.children) {
    const open = !row.querySelector(".oral-editor").hidden;
    const id = Number(row.dataset.key);
    if (open && !rows.some((entry) => entry.id === id) && interventions.has(id)) rows.push(interventions.get(id));
  }
  syncList(list, rows, (entry) => entry.id, createOral, updateOral);
  const empty = document.getElementById("oral-empty");
  empty.hidden = rows.length > 0;
  setText(empty, all ? "Nobody has spoken yet." : "Nobody has spoken on this item yet.");
}

function openOralForm(row) {
  const editor = row.querySelector(".oral-editor");
  const opener = row.querySelector('[data-oral="open"]');
  if (!editor.hidden) {
    editor.querySelector("textarea").focus();
    return;
  }
  const entry = interventions.get(Number(row.dataset.key));
  const id = `oral-${entry.id}`;
  const kind = el("select", { id: `${id}-kind` },
    ...Object.entries(KINDS).map(([value, label]) => el("option", { value }, label)));
  const form = el("form", { class: "inline-form", novalidate: true },
    el("label", { for: id }, `Key points of ${entry.name}`),
    el("textarea", { id, maxlength: "20000", rows: "4", dir: "auto" }),
    el("label", { for: `${id}-kind` }, "Type"), kind,
    el("p", { class: "field-error", role: "alert", hidden: true }),
    el("div", { class: "form-actions" },
      el("button", { type: "submit", class: "button small primary" }, "Save the key points"),
      el("button", { type: "button", class: "button small", "data-oral": "close" }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = form.querySelector("textarea").value.trim();
    const error = form.querySelector(".field-error");
    if (!text) {
      error.hidden = false;
      setText(error, "Type the key points first.");
      return;
    }
    const submit = form.querySelector('button[type="submit"]');
    submit.setAttribute("aria-busy", "true");
    try {
      await send("inputs.record_oral", { speaker_entry_id: entry.id, text, kind: kind.value });
      notify(`Key points of ${entry.name} recorded.`, { kind: "info" });
      closeOralForm(row);
    } catch (sendError) {
      if (sendError && (sendError.code === "network" || sendError.code === "timeout")) {
        notify(sendError.message, { kind: "info" });
      }
    } finally {
      submit.removeAttribute("aria-busy");
    }
  });
  editor.replaceChildren(form);
  editor.hidden = false;
  setAttr(opener, "aria-expanded", "true");
  form.querySelector("textarea").focus();
}

function closeOralForm(row) {
  const editor = row.querySelector(".oral-editor");
  editor.hidden = true;
  editor.replaceChildren();
  const opener = row.querySelector('[data-oral="open"]');
  setAttr(opener, "aria-expanded", "false");
  opener.focus();
  renderOral();
}

document.getElementById("oral-list").addEventListener("click", (event) => {
  const button = event.target.closest("[data-oral]");
  if (!button) return;
  const row = button.closest(".oral-row");
  if (button.dataset.oral === "open") openOralForm(row);
  else {
    const area = row.querySelector("textarea");
    if (area && area.value.trim() && !window.confirm("Discard the key points you typed?")) return;
    closeOralForm(row);
  }
});
document.getElementById("oral-all").addEventListener("change", renderOral);

document.getElementById("now-record").addEventListener("click", () => {
  const speaker = sections && sections.queue && sections.queue.current;
  if (!speaker) return;
  noteSpeaker(sections.queue);
  renderOral();
  const row = document.querySelector(`#oral-list [data-key="${speaker.id}"]`);
  if (row) {
    row.scrollIntoView({ block: "nearest" });
    openOralForm(row);
  }
});

function renderNowSpeaker(queue) {
  const speaker = queue && queue.current;
  document.getElementById("now-speaker").hidden = !speaker;
  setText(document.getElementById("now-speaker-name"), speaker ? speaker.name : "");
  setText(document.getElementById("now-speaker-org"), speaker ? speaker.organization || "" : "");
}

// -- wiring ------------------------------------------------------------------------------------------
subscribe((state, changed) => {
  sections = state.sections;
  const { agenda, dialogue } = sections;
  timeZone = timeZoneOf(state);
  if (changed.includes("dialogue")) renderDialogueTitle(dialogue);
  if (changed.includes("agenda") || changed.includes("dialogue")) {
    renderCurrent(agenda, timeZone);
    renderAgenda(agenda, timeZone);
    setAgenda(agenda, dialogue);
  }
  renderWorkspace(state, changed);
  renderSummary(state, changed);
  if (changed.includes("queue")) {
    noteSpeaker(sections.queue);
    renderNowSpeaker(sections.queue);
  }
  if (state.records !== recordsObject) {
    recordsObject = state.records;
    readInterventions();
  }
  if (changed.some((name) => ["queue", "agenda", "inputs"].includes(name))) renderOral();
});
