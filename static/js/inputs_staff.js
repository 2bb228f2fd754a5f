/**
 * Inputs on the moderator's console: those waiting for approval (when the
 * dialogue moderates before publication), the flagged ones, and the recent
 * published ones; approve, hide with a reason, show on the display.
 *
 * The lists are read once with "inputs.list" (after every snapshot: a
 * reconnect may have missed records) and then kept from the input records
 * that arrive in "change" messages, so a new input appears without asking
 * the server again. A record that arrived while a list was being read wins
 * over the (older) answer.
 *
 * "Approve" and "Show on the display" are console presses
 * (console_presses.js): pressed quickly, or behind a shortcut still waiting
 * for its answer, they are queued and sent in order; "Show" decides between
 * showing and taking off when its turn comes.
 */
import { initAttention, markCard, noteInputs, renderAttention, tabFor, tabWithAttention } from "./attention.js";
import { press } from "./console_presses.js";
import { dialogueId, notify, query, state as liveState } from "./live.js";
import { closeEditor, createCard, editorOpen, openEditor, renderCards, sendFor, updateCard } from "./input_cards.js";
import { el, setAttr, setText } from "./util.js";
import { similarPanel } from "./assistant.js";

const PUBLISHED_SHOWN = 40;
const known = new Map(); // id -> input view
let touched = null; // ids updated by records while a read is on its way
let recordsSeen = new Map(); // id -> JSON of the last record applied
let recordsObject = null;
let context = { themes: new Map(), pinnedId: null, itemTitles: new Map(), timeZone: undefined };
let overview = {};
let loaded = false; // the lists were read once (attention.js needs it to start its marks)
let mode = null; // the dialogue's moderation mode, as last drawn
let tabByHand = false; // the moderator chose a tab: a change of mode no longer switches it
let dialogueTitle = "";

const $ = (id) => document.getElementById(id);
const lists = { pending: $("list-pending"), flagged: $("list-flagged"), published: $("list-published") };

function remember(input) {
  known.set(input.id, input);
}

async function readLists() {
  touched = new Set();
  const mine = touched;
  try {
    const [pending, published] = await Promise.all([
      query("inputs.list", { status: "pending", sort: "time", order: "asc", per_page: 200 }),
      query("inputs.list", { status: "published", sort: "time", order: "desc", per_page: PUBLISHED_SHOWN }),
    ]);
    for (const input of [...pending.items, ...published.items]) {
      if (!mine.has(input.id)) remember(input);
    }
  } catch (error) {
    notify(`The inputs could not be loaded: ${error.message || error.code}`);
  } finally {
    if (touched === mine) touched = null;
    loaded = true;
    render();
  }
}

/** Apply the input records that changed since the last call. */
function applyRecords() {
  const records = liveState.records.inputs;
  if (!records) return false;
  let any = false;
  for (const [id, record] of records) {
    const json = JSON.stringify(record);
    if (recordsSeen.get(id) === json) continue;
    recordsSeen.set(id, json);
    remember(record);
    if (touched) touched.add(id);
    any = true;
  }
  return any;
}

function sorted(filter, compare) {
  return [...known.values()].filter(filter).sort(compare);
}

const oldestFirst = (a, b) => a.created_at - b.created_at || a.id - b.id;
const newestFirst = (a, b) => b.created_at - a.created_at || b.id - a.id;

function createModeratorCard() {
  return createCard({ actions: ["approve", "hide", "pin", "similar"] });
}

function update(card, input) {
  updateCard(card, input, context);
  markCard(card, input); // "New" until it has been on screen (attention.js)
}

function render() {
  const pending = sorted((i) => i.status === "pending", oldestFirst);
  const flagged = sorted((i) => Boolean(i.flagged) && (i.status === "pending" || i.status === "published"), newestFirst);
  const published = sorted((i) => i.status === "published", newestFirst).slice(0, PUBLISHED_SHOWN);
  const groups = { pending, flagged, published };
  noteInputs(known, loaded);
  for (const [name, inputs] of Object.entries(groups)) {
    renderCards(lists[name], inputs, createModeratorCard, update);
    const empty = $(`empty-${name}`);
    if (empty) empty.hidden = inputs.length > 0;
  }
  const byStatus = (overview && overview.by_status) || {};
  setText($("count-pending"), String(byStatus.pending != null ? byStatus.pending : pending.length));
  setText($("count-flagged"), String(flagged.length));
  setText($("count-published"), String(overview && overview.published != null ? overview.published : published.length));
  setAttr($("tab-pending"), "data-attention", pending.length ? "" : null);
  setAttr($("tab-flagged"), "data-attention", flagged.length ? "" : null);
  renderAttention({ mode, pending: byStatus.pending != null ? byStatus.pending : pending.length, title: dialogueTitle });
}

// -- actions ------------------------------------------------------------------------------

function hideForm(card, input) {
  const reasonId = `hide-reason-${input.id}`;
  const form = el("form", { class: "inline-form", novalidate: true },
    el("label", { for: reasonId }, "Why is it hidden? (the author sees this)"),
    el("input", { type: "text", id: reasonId, maxlength: "300", required: true, autocomplete: "off" }),
    el("p", { class: "field-error", hidden: true, role: "alert" }),
    el("div", { class: "form-actions" },
      el("button", { type: "submit", class: "button small danger" }, "Hide"),
      el("button", { type: "button", class: "button small", "data-close": "" }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = form.querySelector("input").value.trim();
    const error = form.querySelector(".field-error");
    if (!reason) {
      error.hidden = false;
      setText(error, "Say why: the author is told.");
      form.querySelector("input").focus();
      return;
    }
    const ack = await sendFor(form.querySelector('button[type="submit"]'), "inputs.moderate",
      { input_id: input.id, action: "hide", reason });
    if (ack) {
      closeEditor(card, false);
      render();
    }
  });
  return form;
}

function onListClick(event) {
  const button = event.target.closest("button");
  if (!button) return;
  const card = button.closest(".input-card");
  if (!card) return;
  const input = known.get(Number(card.dataset.key));
  if (!input) return;
  if (button.hasAttribute("data-close")) {
    closeEditor(card);
    render();
    return;
  }
  if (button.getAttribute("aria-disabled") === "true") {
    if (button.title) notify(button.title, { kind: "info" });
    return;
  }
  switch (button.dataset.act) {
    case "approve":
      press(() => ({ name: "inputs.moderate", payload: { input_id: input.id, action: "approve" } }),
        { button, label: `Approve input #${input.id}` });
      break;
    case "hide":
    case "similar":
      if (editorOpen(card) && card.querySelector(".input-editor").dataset.opener === button.dataset.act) {
        closeEditor(card);
        render();
      } else {
        openEditor(card, button, () => (button.dataset.act === "hide" ? hideForm(card, input)
          : similarPanel(input.id, { canMerge: false })));
      }
      break;
    case "pin":
      press(() => ({ name: "inputs.pin", payload: { input_id: context.pinnedId === input.id ? null : input.id } }),
        { button, label: `Show or take off input #${input.id} on the display` });
      break;
    default:
      break;
  }
}

function onListKey(event) {
  if (event.key !== "Escape") return;
  const card = event.target.closest && event.target.closest(".input-card");
  if (card && editorOpen(card)) {
    event.preventDefault();
    closeEditor(card);
    render();
  }
}

// -- tabs --------------------------------------------------------------------------------------
function selectTab(tab, focus = true) {
  const tabs = [...document.querySelectorAll('#inputs-panel [role="tab"]')];
  for (const other of tabs) {
    const selected = other === tab;
    setAttr(other, "aria-selected", selected ? "true" : "false");
    setAttr(other, "tabindex", selected ? null : "-1");
    const panel = $(other.getAttribute("aria-controls"));
    if (panel) panel.hidden = !selected;
  }
  if (focus) tab.focus();
}

function bindTabs() {
  const tabs = [...document.querySelectorAll('#inputs-panel [role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      tabByHand = true;
      selectTab(tab);
    });
    tab.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(tab);
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(at + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(at - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) {
        event.preventDefault();
        tabByHand = true;
        selectTab(next);
      }
    });
  }
}

// -- wiring ---------------------------------------------------------------------------------------
export function renderInputsStaff(state, changed) {
  const sections = state.sections;
  context = {
    themes: new Map((sections.themes || []).map((t) => [t.id, t.name])),
    pinnedId: sections.pinned ? sections.pinned.id : null,
    itemTitles: new Map(((sections.agenda || {}).items || []).map((i) => [i.id, i.title])),
    timeZone: (sections.dialogue || {}).timezone,
  };
  overview = sections.inputs_overview || {};
  dialogueTitle = (sections.dialogue || {}).title || dialogueTitle;
  if (changed.includes("input_settings") && sections.input_settings) {
    setText($("inputs-mode"), sections.input_settings.moderation_mode === "pre"
      ? "Approval before publication" : "Published at once; hide what does not belong");
  }
  const newMode = (sections.input_settings || {}).moderation_mode || "post";
  if (newMode !== mode) {
    mode = newMode;
    // Open on what needs attention in this mode: approvals, or what arrived.
    if (!tabByHand) selectTab($(`tab-${tabFor(mode)}`), false);
  }
  if (state.records !== recordsObject) {
    // A snapshot: the records start again; read the lists afresh.
    recordsObject = state.records;
    recordsSeen = new Map();
    readLists();
    return;
  }
  const any = changed.includes("inputs") && applyRecords();
  if (any || changed.some((name) => ["pinned", "themes", "inputs_overview", "agenda", "input_settings", "dialogue"]
    .includes(name))) render();
}

export function initInputsStaff() {
  initAttention(dialogueId);
  // Following the count (the pill, the "Inputs" link) shows the tab where the news is.
  for (const link of document.querySelectorAll('a[href="#inputs-panel"]')) {
    link.addEventListener("click", () => {
      const byStatus = (overview && overview.by_status) || {};
      const tab = $(`tab-${tabWithAttention(mode, byStatus.pending || 0)}`);
      if (tab && tab.getAttribute("aria-selected") !== "true") selectTab(tab, false);
    });
  }
  for (const list of Object.values(lists)) {
    list.addEventListener("click", onListClick);
    list.addEventListener("keydown", onListKey);
  }
  bindTabs();
}
