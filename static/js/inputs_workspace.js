/**
 * The rapporteur's inputs: one page of inputs at a time through
 * "inputs.list" (filters: agenda item, type, theme, status, category,
 * endorsements; newest, oldest or most endorsed first), kept live from the
 * input records in "change" messages; and the work on them: themes (create,
 * rename, delete, tag), merging duplicates into one, correcting the wording
 * (the author's original stays viewable), marking addressed, showing one on
 * the display.
 *
 * A record updates its card at once; the page is read again a moment later
 * (new inputs, counts, order), never more than about once a second. Cards
 * with an open editor are left alone (input_cards.renderCards).
 */
import { notify, query, send, state as liveState } from "./live.js";
import { closeEditor, createCard, editorOpen, openEditor, renderCards, sendFor, updateCard } from "./input_cards.js";
import { el, isEditing, setAttr, setText, syncList } from "./util.js";
import { similarPanel } from "./assistant.js";

const PER_PAGE = 25;
const REREAD_MS = 1200;

const known = new Map(); // id -> input view (from pages and records)
const selected = new Set(); // ids chosen for merging
let pageIds = [];
let total = 0;
let page = 1;
let readSeq = 0;
let rereadTimer = null;
let recordsObject = null;
let recordsSeen = new Map();
let context = { themes: new Map(), pinnedId: null, itemTitles: new Map(), timeZone: undefined, selected, mergedFrom: new Map() };
let themes = [];
const pendingTouches = new Set(); // for each read on its way: ids updated by records meanwhile

const $ = (id) => document.getElementById(id);
const list = $("ws-list");
const form = $("filters");

// -- reading -------------------------------------------------------------------------------------
export function currentQuery() {
  const data = new FormData(form);
  const q = { page, per_page: PER_PAGE };
  for (const name of ["item", "kind", "status", "category"]) {
    const value = String(data.get(name) || "");
    if (value) q[name] = value;
  }
  const theme = Number(data.get("theme"));
  if (theme) q.theme = theme;
  const min = Number(data.get("min_endorsements"));
  if (Number.isInteger(min) && min > 0) q.min_endorsements = min;
  const [sort, order] = String(data.get("sort") || "time:desc").split(":");
  q.sort = sort;
  q.order = order;
  return q;
}

async function read() {
  clearTimeout(rereadTimer);
  rereadTimer = null;
  const seq = ++readSeq;
  const q = currentQuery();
  const touchedSince = new Set();
  pendingTouches.add(touchedSince);
  try {
    const answer = await query("inputs.list", q);
    if (seq !== readSeq) return;
    for (const input of answer.items) {
      if (!touchedSince.has(input.id)) known.set(input.id, input);
    }
    pageIds = answer.items.map((input) => input.id);
    total = answer.total;
    if (!answer.items.length && page > 1 && total > 0) {
      page = Math.max(1, Math.ceil(total / PER_PAGE));
      read();
      return;
    }
    render();
  } catch (error) {
    if (seq === readSeq) {
      setText($("list-count"), `The inputs could not be loaded: ${error.message || error.code}`);
    }
  } finally {
    pendingTouches.delete(touchedSince);
  }
}

async function readMerged() {
  try {
    const answer = await query("inputs.list", { status: "merged", per_page: 200, sort: "time", order: "asc" });
    for (const input of answer.items) if (!known.has(input.id)) known.set(input.id, input);
    render();
  } catch (_error) {
    // the "merged from" lines appear as merges happen
  }
}

function rereadSoon() {
  if (rereadTimer) return;
  rereadTimer = setTimeout(read, REREAD_MS);
}

function applyRecords() {
  const records = liveState.records.inputs;
  if (!records) return false;
  let any = false;
  for (const [id, record] of records) {
    const json = JSON.stringify(record);
    if (recordsSeen.get(id) === json) continue;
    recordsSeen.set(id, json);
    known.set(id, record);
    for (const touched of pendingTouches) touched.add(id);
    any = true;
  }
  return any;
}

// -- drawing ---------------------------------------------------------------------------------------
function mergedFrom() {
  const map = new Map();
  for (const input of known.values()) {
    if (input.merged_into_id != null && input.status === "merged") {
      if (!map.has(input.merged_into_id)) map.set(input.merged_into_id, []);
      map.get(input.merged_into_id).push(input.id);
    }
  }
  for (const ids of map.values()) ids.sort((a, b) => a - b);
  return map;
}

function createWorkspaceCard() {
  return createCard({ actions: ["themes", "correct", "similar", "original", "merged", "addressed", "pin"], select: true });
}

function update(card, input) {
  updateCard(card, input, context);
  setAttr(card, "data-selected", selected.has(input.id) ? "" : null);
  const sources = context.mergedFrom.get(input.id) || [];
  const box = card.querySelector(".input-merged-list");
  if (!box.hidden) fillMergedList(box, sources);
}

function fillMergedList(box, sources) {
  box.replaceChildren(...sources.map((id) => {
    const source = known.get(id);
    const who = source ? [source.author, source.organization].filter(Boolean).join(", ") : "";
    return el("p", {}, el("strong", {}, `#${id} `), who ? el("bdi", {}, who) : null, source ? ": " : "",
      source ? el("span", { dir: "auto" }, source.text) : "(not loaded)");
  }));
}

export function render() {
  context.mergedFrom = mergedFrom();
  const inputs = pageIds.map((id) => known.get(id)).filter(Boolean);
  renderCards(list, inputs, createWorkspaceCard, update);
  $("ws-empty").hidden = inputs.length > 0;
  const first = total ? (page - 1) * PER_PAGE + 1 : 0;
  const last = Math.min(total, (page - 1) * PER_PAGE + inputs.length);
  setText($("list-count"), total ? `Showing ${first}–${last} of ${total}` : "No inputs match these filters");
  const pages = Math.max(1, Math.ceil(total / PER_PAGE));
  setText($("page-label"), `Page ${page} of ${pages}`);
  setAttr($("page-prev"), "aria-disabled", page > 1 ? null : "true");
  setAttr($("page-next"), "aria-disabled", page < pages ? null : "true");
  renderMergeBar();
  onRender();
}

function renderMergeBar() {
  for (const id of [...selected]) {
    const input = known.get(id);
    if (!input || input.status === "merged" || input.status === "withdrawn") selected.delete(id);
  }
  const bar = $("merge-bar");
  bar.hidden = selected.size === 0;
  setText($("merge-count"), `${selected.size} selected`);
  const target = $("merge-target");
  const chosen = Number(target.value);
  const options = [...selected].map((id) => known.get(id)).filter(Boolean)
    .sort((a, b) => b.endorsements - a.endorsements || a.created_at - b.created_at);
  syncList(target, options, (input) => input.id, () => el("option"), (option, input) => {
    option.value = String(input.id);
    option.dir = "auto";
    const words = input.text.length > 60 ? `${input.text.slice(0, 60)}…` : input.text;
    setText(option, `#${input.id} — ${words}`);
  });
  if (chosen && selected.has(chosen)) target.value = String(chosen);
  setAttr($("merge-go"), "aria-disabled", selected.size >= 2 ? null : "true");
}

// -- actions on inputs ---------------------------------------------------------------------------------

const tagQueue = new Map(); // input id -> {sending, next}: tags are sent one after the other

async function sendTags(inputId, themeIds) {
  const slot = tagQueue.get(inputId) || { sending: false, next: null };
  tagQueue.set(inputId, slot);
  slot.next = themeIds;
  if (slot.sending) return;
  slot.sending = true;
  while (slot.next) {
    const ids = slot.next;
    slot.next = null;
    try {
      await send("inputs.tag", { input_id: inputId, theme_ids: ids });
    } catch (error) {
      if (error && (error.code === "network" || error.code === "timeout")) notify(error.message, { kind: "info" });
    }
  }
  slot.sending = false;
}

function themesForm(card, input) {
  const chosen = new Set(input.theme_ids || []);
  const box = el("fieldset", { class: "theme-checks" }, el("legend", {}, `Themes of input #${input.id}`));
  if (!themes.length) box.append(el("p", { class: "hint" }, "No themes yet: create one in the Themes panel."));
  for (const theme of themes) {
    const check = el("input", { type: "checkbox", value: String(theme.id) });
    check.checked = chosen.has(theme.id);
    box.append(el("label", { class: "radio" }, check, " ", el("span", { dir: "auto" }, theme.name)));
  }
  box.addEventListener("change", () => {
    const ids = [...box.querySelectorAll("input:checked")].map((c) => Number(c.value));
    sendTags(input.id, ids);
  });
  return el("div", { class: "inline-form" }, box,
    el("div", { class: "form-actions" }, el("button", { type: "button", class: "button small", "data-close": "" }, "Done")));
}

function correctForm(card, input) {
  const id = `correct-${input.id}`;
  const area = el("textarea", { id, maxlength: "20000", rows: "4" });
  area.value = input.text;
  const formNode = el("form", { class: "inline-form", novalidate: true },
    el("label", { for: id }, "Corrected wording (the author's original is kept)"),
    area,
    el("p", { class: "field-error", role: "alert", hidden: true }),
    el("div", { class: "form-actions" },
      el("button", { type: "submit", class: "button small primary" }, "Save the correction"),
      el("button", { type: "button", class: "button small", "data-close": "" }, "Cancel")));
  formNode.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = area.value.trim();
    const error = formNode.querySelector(".field-error");
    if (!text) {
      error.hidden = false;
      setText(error, "The wording cannot be empty.");
      return;
    }
    const ack = await sendFor(formNode.querySelector('button[type="submit"]'), "inputs.correct", { input_id: input.id, text });
    if (ack) {
      closeEditor(card);
      render();
    }
  });
  return formNode;
}

function onListClick(event) {
  const button = event.target.closest("button");
  const card = event.target.closest(".input-card");
  if (!card) return;
  const input = known.get(Number(card.dataset.key));
  if (!input || !button) return;
  if (button.hasAttribute("data-close")) {
    const area = card.querySelector(".input-editor textarea");
    if (area && area.value.trim() !== input.text && !window.confirm("Discard the correction you typed?")) return;
    closeEditor(card);
    render();
    return;
  }
  if (button.getAttribute("aria-disabled") === "true") {
    if (button.title) notify(button.title, { kind: "info" });
    return;
  }
  switch (button.dataset.act) {
    case "themes":
    case "correct":
    case "similar":
      if (editorOpen(card) && card.querySelector(".input-editor").dataset.opener === button.dataset.act) {
        closeEditor(card);
        render();
      } else {
        const build = { themes: themesForm, correct: correctForm, similar: (_card, shown) => similarPanel(shown.id) };
        openEditor(card, button, () => build[button.dataset.act](card, input));
      }
      break;
    case "original": {
      const box = card.querySelector(".input-original");
      box.hidden = !box.hidden;
      update(card, input);
      break;
    }
    case "merged": {
      const box = card.querySelector(".input-merged-list");
      box.hidden = !box.hidden;
      setText(button, box.hidden ? "Show merged originals" : "Hide merged originals");
      setAttr(button, "aria-expanded", box.hidden ? "false" : "true");
      if (!box.hidden) fillMergedList(box, context.mergedFrom.get(input.id) || []);
      break;
    }
    case "addressed":
      sendFor(button, "inputs.mark_addressed", { input_id: input.id, addressed: !input.addressed });
      break;
    case "pin":
      sendFor(button, "inputs.pin", { input_id: context.pinnedId === input.id ? null : input.id });
      break;
    default:
      break;
  }
}

function onListChange(event) {
  const box = event.target.closest(".select-box");
  if (!box) return;
  const id = Number(box.value);
  if (box.checked) selected.add(id);
  else selected.delete(id);
  const card = box.closest(".input-card");
  setAttr(card, "data-selected", box.checked ? "" : null);
  renderMergeBar();
}

function onListKey(event) {
  if (event.key !== "Escape") return;
  const card = event.target.closest && event.target.closest(".input-card");
  if (!card || !editorOpen(card)) return;
  const input = known.get(Number(card.dataset.key));
  const area = card.querySelector(".input-editor textarea");
  if (area && input && area.value.trim() !== input.text) return; // typed text: leave with Cancel only
  event.preventDefault();
  closeEditor(card);
  render();
}

async function merge() {
  const button = $("merge-go");
  if (button.getAttribute("aria-disabled") === "true") {
    notify("Select at least two inputs to merge.", { kind: "info" });
    return;
  }
  const target = Number($("merge-target").value);
  const sources = [...selected].filter((id) => id !== target);
  const ack = await sendFor(button, "inputs.merge", { target_id: target, source_ids: sources });
  if (ack) {
    selected.clear();
    notify(`Merged ${sources.map((id) => `#${id}`).join(", ")} into #${target}.`, { kind: "info" });
    render();
  }
}

// -- themes ------------------------------------------------------------------------------------------
function themeRow() {
  return el("li", { class: "theme-row" },
    el("span", { class: "theme-name", dir: "auto" }), " ", el("span", { class: "theme-count" }), " ",
    el("button", { type: "button", class: "button small", "data-theme-act": "filter" }, "Show"), " ",
    el("button", { type: "button", class: "button small", "data-theme-act": "rename", "aria-expanded": "false" }, "Rename"), " ",
    el("button", { type: "button", class: "button small danger", "data-theme-act": "delete", "aria-expanded": "false" }, "Delete"));
}

function updateThemeRow(row, theme) {
  if (row.querySelector("form, .theme-confirm")) return; // being renamed or deleted
  setText(row.querySelector(".theme-name"), theme.name);
  setText(row.querySelector(".theme-count"), `${theme.inputs} input${theme.inputs === 1 ? "" : "s"}`);
  setAttr(row.querySelector('[data-theme-act="filter"]'), "aria-label", `Show the inputs of ${theme.name}`);
  setAttr(row.querySelector('[data-theme-act="rename"]'), "aria-label", `Rename ${theme.name}`);
  setAttr(row.querySelector('[data-theme-act="delete"]'), "aria-label", `Delete ${theme.name}`);
}

function renderThemes() {
  syncList($("themes-list"), themes, (t) => t.id, themeRow, updateThemeRow);
  $("themes-empty").hidden = themes.length > 0;
  const select = $("f-theme");
  const value = select.value;
  const options = [{ id: "", name: "All" }, ...themes];
  dropUnkeyed(select);
  syncList(select, options, (t) => (t.id === "" ? "all" : t.id), () => el("option"), (option, t) => {
    option.value = String(t.id);
    setText(option, t.name);
    if (t.id !== "") option.dir = "auto";
  });
  select.value = themes.some((t) => String(t.id) === value) ? value : "";
  if (value && !select.value) { page = 1; read(); } // the theme shown was deleted
}

function closeThemeEditor(row, refocus) {
  const open = row.querySelector("form, .theme-confirm");
  if (open) open.remove();
  for (const button of row.querySelectorAll("[aria-expanded]")) setAttr(button, "aria-expanded", "false");
  const theme = themes.find((t) => t.id === Number(row.dataset.key));
  if (theme) updateThemeRow(row, theme);
  if (refocus) {
    const button = row.querySelector(`[data-theme-act="${refocus}"]`);
    if (button) button.focus();
  }
}

function onThemesClick(event) {
  const button = event.target.closest("button");
  if (!button) return;
  const row = button.closest(".theme-row");
  const theme = row && themes.find((t) => t.id === Number(row.dataset.key));
  if (!theme) return;
  const act = button.dataset.themeAct;
  if (act === "filter") {
    $("f-theme").value = String(theme.id);
    page = 1;
    read();
    $("ws-inputs-heading").scrollIntoView({ block: "nearest" });
    return;
  }
  if (button.dataset.cancel !== undefined) {
    closeThemeEditor(row, button.dataset.cancel);
    return;
  }
  if (act === "rename") {
    closeThemeEditor(row, null);
    const id = `rename-${theme.id}`;
    const input = el("input", { type: "text", id, maxlength: "200", autocomplete: "off", dir: "auto", "aria-label": `New name for ${theme.name}` });
    input.value = theme.name;
    const renameForm = el("form", { novalidate: true }, input,
      el("button", { type: "submit", class: "button small primary" }, "Save"),
      el("button", { type: "button", class: "button small", "data-cancel": "rename" }, "Cancel"));
    renameForm.addEventListener("submit", async (submitEvent) => {
      submitEvent.preventDefault();
      const name = input.value.trim();
      if (!name || name === theme.name) {
        closeThemeEditor(row, "rename");
        return;
      }
      const ack = await sendFor(renameForm.querySelector('button[type="submit"]'), "inputs.update_theme", { theme_id: theme.id, name });
      if (ack) closeThemeEditor(row, "rename");
    });
    renameForm.addEventListener("keydown", (keyEvent) => {
      if (keyEvent.key === "Escape") {
        keyEvent.preventDefault();
        closeThemeEditor(row, "rename");
      }
    });
    row.append(renameForm);
    setAttr(button, "aria-expanded", "true");
    input.focus();
    input.select();
  } else if (act === "delete") {
    closeThemeEditor(row, null);
    const confirmBox = el("p", { class: "theme-confirm", role: "alert" },
      `Delete “${theme.name}”? ${theme.inputs} input${theme.inputs === 1 ? "" : "s"} lose this theme (their other themes stay).`,
      el("button", { type: "button", class: "button small danger", "data-confirm-delete": "" }, "Delete the theme"),
      el("button", { type: "button", class: "button small", "data-cancel": "delete" }, "Cancel"));
    confirmBox.querySelector("[data-confirm-delete]").addEventListener("click", async (clickEvent) => {
      const ack = await sendFor(clickEvent.currentTarget, "inputs.update_theme", { theme_id: theme.id, delete: true });
      if (ack) notify(`The theme “${theme.name}” was deleted.`, { kind: "info" });
    });
    row.append(confirmBox);
    setAttr(button, "aria-expanded", "true");
    confirmBox.querySelector("[data-cancel]").focus();
  }
}

function bindThemeCreate() {
  const createForm = $("theme-create");
  const input = $("theme-name");
  const error = $("theme-error");
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    error.hidden = true;
    if (!name) {
      setText(error, "Type the theme's name.");
      error.hidden = false;
      input.focus();
      return;
    }
    const ack = await sendFor(createForm.querySelector('button[type="submit"]'), "inputs.create_theme", { name });
    if (ack) {
      input.value = "";
      input.focus();
    }
  });
}

// -- filters -------------------------------------------------------------------------------------------
/** syncList keeps the children by data-key: one painted without it would stay beside its copy. */
function dropUnkeyed(select) {
  for (const option of [...select.children]) if (!option.dataset.key) option.remove();
}

function renderItemOptions(agenda) {
  const select = $("f-item");
  const value = select.value;
  const items = (agenda && agenda.items) || [];
  const options = [{ key: "", label: "All" }, { key: "dialogue", label: "The dialogue as a whole" },
    ...items.map((item) => ({ key: String(item.id), label: `${item.position + 1}. ${item.title}` }))];
  dropUnkeyed(select);
  syncList(select, options, (o) => o.key || "all", () => el("option"), (option, o) => {
    option.value = o.key;
    setText(option, o.label);
  });
  select.value = options.some((o) => o.key === value) ? value : "";
}

function bindFilters() {
  let typing = null;
  form.addEventListener("change", () => {
    page = 1;
    read();
  });
  form.addEventListener("input", (event) => {
    if (event.target.type !== "number") return;
    clearTimeout(typing);
    typing = setTimeout(() => { page = 1; read(); }, 500);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    read();
  });
  $("page-prev").addEventListener("click", () => {
    if (page > 1) {
      page -= 1;
      read();
    }
  });
  $("page-next").addEventListener("click", () => {
    if (page * PER_PAGE < total) {
      page += 1;
      read();
    }
  });
}

// -- wiring ------------------------------------------------------------------------------------------
export function renderWorkspace(state, changed) {
  const sections = state.sections;
  themes = sections.themes || [];
  context = {
    themes: new Map(themes.map((t) => [t.id, t.name])),
    pinnedId: sections.pinned ? sections.pinned.id : null,
    itemTitles: new Map(((sections.agenda || {}).items || []).map((i) => [i.id, i.title])),
    timeZone: (sections.dialogue || {}).timezone,
    selected,
    mergedFrom: context.mergedFrom,
  };
  if (changed.includes("themes")) renderThemes();
  if (changed.includes("agenda") && !isEditing($("f-item").parentElement)) renderItemOptions(sections.agenda);
  const overview = sections.inputs_overview;
  if (changed.includes("inputs_overview") && overview) {
    setText($("overview-count"), `${overview.total || 0} in all · ${overview.published || 0} published`);
  }
  if (state.records !== recordsObject) {
    recordsObject = state.records;
    recordsSeen = new Map();
    read();
    readMerged();
    return;
  }
  if (changed.includes("inputs") && applyRecords()) {
    render();
    rereadSoon();
  } else if (changed.some((name) => ["themes", "pinned", "agenda"].includes(name))) {
    render();
  }
}

/** Every input the page knows (for the oral interventions' "recorded"). */
export function knownInputs() {
  return known;
}

let onRender = () => {};

/** `options.onRender`: called after every redraw (the oral interventions
 *  count the key points recorded among the inputs known here). */
export function initWorkspace(options = {}) {
  if (options.onRender) onRender = options.onRender;
  list.addEventListener("click", onListClick);
  list.addEventListener("change", onListChange);
  list.addEventListener("keydown", onListKey);
  $("themes-list").addEventListener("click", onThemesClick);
  $("merge-go").addEventListener("click", merge);
  $("merge-clear").addEventListener("click", () => {
    selected.clear();
    render();
  });
  bindThemeCreate();
  bindFilters();
}
