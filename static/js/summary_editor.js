/**
 * The draft summary's text, one editor per part (introduction, each agenda
 * item, conclusions), saved as the rapporteur types.
 *
 * Nothing typed may be lost (Decidim #8317 lost comments to a refresh):
 * - each part saves about a second after the last key press, with the
 *   revision it started from (base_revision); the server refuses the save
 *   when someone else saved the part meanwhile, and the editor then shows
 *   their text next to it and keeps ours: the rapporteur decides;
 * - until a save is acknowledged the text is also kept in localStorage, so
 *   a reload or a lost connection gives it back;
 * - a part someone else saved is replaced in the editor only when nothing
 *   was typed there since our last save, keeping the cursor where it was;
 *   other parts never touch the one being edited.
 */
import * as live from "./live.js";
import { dialogueId, notify, send, state as liveState } from "./live.js";
import { formatClock } from "./timer.js";
import { el, setAttr, setText, syncList } from "./util.js";

const SAVE_AFTER_MS = 1000;
const DRAFT_PREFIX = `moderation:summary:${dialogueId}:`;

const parts = new Map(); // key -> Part
let timeZone;
let recordsObject = null;
const seen = new Set(); // "key@revision" of records already applied

function readDraft(key) {
  try {
    const draft = JSON.parse(window.localStorage.getItem(DRAFT_PREFIX + key) || "null");
    return draft && typeof draft.text === "string" ? draft : null;
  } catch (_error) {
    return null;
  }
}

function writeDraft(key, text, base) {
  try {
    window.localStorage.setItem(DRAFT_PREFIX + key, JSON.stringify({ text, base, at: Date.now() }));
  } catch (_error) {
    // private mode or quota: the editor still holds the text
  }
}

function dropDraft(key) {
  try {
    window.localStorage.removeItem(DRAFT_PREFIX + key);
  } catch (_error) {
    // nothing to do
  }
}

/** One part's editor and what it knows about the server's copy. */
class Part {
  constructor(node) {
    this.node = node;
    this.key = node.dataset.key;
    this.textarea = node.querySelector(".part-text");
    this.base = Number(node.dataset.revision) || 0; // the revision our text builds on
    this.saved = this.textarea.value; // the text of that revision
    this.savedBy = "";
    this.savedAt = null;
    this.inflight = null; // the text being saved
    this.sent = []; // texts we sent recently (a retried save may land late)
    this.timer = null;
    this.conflict = null; // {revision, text, updated_by}
    this.textarea.addEventListener("input", () => this.typed());
    this.textarea.addEventListener("blur", () => { if (this.dirty()) this.saveSoon(0); });
    this.textarea.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault(); // save now, not the browser's "save page"
        this.save();
      }
    });
    node.addEventListener("click", (event) => this.onClick(event));
    this.restoreDraft();
  }

  dirty() {
    return this.textarea.value !== this.saved;
  }

  status(stateName, text) {
    const node = this.node.querySelector(".part-state");
    node.dataset.state = stateName;
    setText(node, text);
  }

  showSavedBy() {
    if (!this.savedAt) return;
    const who = this.savedBy ? ` by ${this.savedBy}` : "";
    setText(this.node.querySelector(".part-by"), `Last saved${who} at ${formatClock(this.savedAt, timeZone)}`);
  }

  restoreDraft() {
    const draft = readDraft(this.key);
    if (!draft || draft.text === this.saved) {
      if (draft) dropDraft(this.key);
      return;
    }
    this.textarea.value = draft.text;
    if (draft.base === this.base) {
      this.status("typing", "Restored what you typed before; saving…");
      this.saveSoon(300);
    } else {
      // Someone saved the part after our unsaved draft: both are shown.
      this.showConflict({ revision: this.base, text: this.saved, updated_by: "" }, true);
    }
  }

  typed() {
    writeDraft(this.key, this.textarea.value, this.base);
    if (this.conflict) return; // waiting for the rapporteur's decision
    this.status("typing", "Not saved yet…");
    this.saveSoon(SAVE_AFTER_MS);
  }

  saveSoon(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), delay);
  }

  async save() {
    clearTimeout(this.timer);
    if (this.conflict) return;
    if (this.inflight !== null) {
      this.again = true;
      return;
    }
    const text = this.textarea.value;
    if (text === this.saved) {
      dropDraft(this.key);
      this.status("saved", "Saved");
      return;
    }
    this.inflight = text;
    this.sent = [...this.sent.slice(-4), text];
    this.status("saving", "Saving…");
    try {
      // quiet: a refused save is explained here, next to the text, not in a toast
      const ack = await send("summary.save_section", { key: this.key, text, base_revision: this.base }, { quiet: true });
      this.inflight = null;
      if (ack.result.revision >= this.base) { // (the change may have told us first)
        this.base = ack.result.revision;
        this.saved = text;
        this.savedBy = "you";
        this.savedAt = Date.now();
      }
      this.afterSave();
    } catch (error) {
      this.inflight = null;
      if (error && error.code === "conflict" && error.details && typeof error.details.revision === "number") {
        this.onConflict(error.details);
      } else if (error && (error.code === "network" || error.code === "timeout")) {
        this.status("error", "Not saved yet: the connection is down. Your text is kept; it is saved when the connection is back.");
        this.saveSoon(5000);
      } else {
        const why = (error && error.message) || "the server refused";
        this.status("error", `Not saved: ${why} Your text is kept.`);
        notify(`${this.node.querySelector(".part-title").textContent}: not saved. ${why}`);
      }
    }
  }

  afterSave() {
    this.showSavedBy();
    if (this.textarea.value !== this.saved) {
      this.status("typing", "Not saved yet…");
      this.saveSoon(this.again ? 0 : SAVE_AFTER_MS);
    } else {
      dropDraft(this.key);
      this.status("saved", "Saved");
    }
    this.again = false;
  }

  onConflict(details) {
    if (this.sent.includes(details.text)) {
      // Our own earlier save, retried after a lost connection, got there first.
      this.base = details.revision;
      this.saved = details.text;
      this.afterSave();
      return;
    }
    this.showConflict(details);
  }

  /** Someone else's save of this part (a change record or a snapshot). */
  remote(narrative) {
    if (narrative.revision <= this.base) return;
    if (narrative.text === this.inflight || this.sent.includes(narrative.text)) {
      this.base = narrative.revision; // our own save, seen before its acknowledgement
      this.saved = narrative.text;
      this.savedBy = narrative.updated_by;
      this.savedAt = narrative.updated_at;
      this.showSavedBy();
      return;
    }
    if (!this.dirty() && this.inflight === null && !this.conflict) {
      const area = this.textarea;
      const focused = document.activeElement === area;
      const [start, end] = [area.selectionStart, area.selectionEnd];
      area.value = narrative.text;
      if (focused) area.setSelectionRange(Math.min(start, area.value.length), Math.min(end, area.value.length));
      this.base = narrative.revision;
      this.saved = narrative.text;
      this.savedBy = narrative.updated_by;
      this.savedAt = narrative.updated_at;
      this.showSavedBy();
      this.status("saved", `Updated by ${narrative.updated_by || "another rapporteur"}`);
      return;
    }
    // We have unsaved text: do not touch it; show theirs now rather than
    // at the next save.
    this.showConflict(narrative);
  }

  showConflict(details, fromDraft = false) {
    clearTimeout(this.timer);
    this.conflict = details;
    const box = this.node.querySelector(".part-conflict");
    const who = details.updated_by || "Another rapporteur";
    box.replaceChildren(
      el("p", { class: "part-conflict-title" }, fromDraft
        ? "This part was saved by someone else after you last typed in it. Your unsaved text is in the editor; theirs is below."
        : `${who} saved this part while you were writing. Your text is in the editor and is not saved; theirs is below.`),
      el("div", { class: "part-conflict-text", tabindex: "0", "aria-label": "Their text" }, details.text || "(empty)"),
      el("div", { class: "button-row" },
        el("button", { type: "button", class: "button small primary", "data-conflict": "mine" }, "Keep my text (replaces theirs)"),
        el("button", { type: "button", class: "button small", "data-conflict": "merge" }, "Put theirs above mine to merge"),
        el("button", { type: "button", class: "button small", "data-conflict": "theirs" }, "Use their text")));
    box.hidden = false;
    this.status("conflict", "Not saved: changed by someone else meanwhile");
  }

  resolve(choice) {
    const theirs = this.conflict;
    if (!theirs) return;
    const mine = this.textarea.value;
    this.conflict = null;
    const box = this.node.querySelector(".part-conflict");
    box.hidden = true;
    box.replaceChildren();
    this.base = theirs.revision;
    this.saved = theirs.text;
    if (choice === "merge") {
      this.textarea.value = `${theirs.text}\n\n${mine}`;
      writeDraft(this.key, this.textarea.value, this.base);
      this.status("typing", "Merge the two, then it saves by itself");
      this.textarea.focus();
      this.textarea.setSelectionRange(0, 0);
      this.saveSoon(SAVE_AFTER_MS * 4);
    } else if (choice === "theirs") {
      // Ours goes to the clipboard of the page: kept in localStorage until
      // the next save of this part, and offered back once.
      writeDraft(`${this.key}:discarded`, mine, theirs.revision);
      this.textarea.value = theirs.text;
      dropDraft(this.key);
      this.status("saved", "Their text is in the editor");
      this.showUndo(mine);
      this.textarea.focus();
    } else {
      this.textarea.focus();
      this.save();
    }
  }

  showUndo(mine) {
    const note = this.node.querySelector(".part-remote");
    note.replaceChildren(el("span", {}, "Your text was set aside."),
      el("button", { type: "button", class: "button small", "data-conflict": "undo" }, "Bring my text back"));
    note.hidden = false;
    this.undoText = mine;
    setTimeout(() => { if (this.undoText === mine) this.hideUndo(); }, 60000);
  }

  hideUndo() {
    const note = this.node.querySelector(".part-remote");
    note.hidden = true;
    note.replaceChildren();
    this.undoText = null;
    dropDraft(`${this.key}:discarded`);
  }

  onClick(event) {
    const button = event.target.closest("[data-conflict]");
    if (!button) return;
    if (button.dataset.conflict === "undo") {
      const mine = this.undoText;
      this.hideUndo();
      if (mine != null) {
        this.textarea.value = mine;
        this.typed();
        this.textarea.focus();
      }
      return;
    }
    this.resolve(button.dataset.conflict);
  }
}

// -- the parts: introduction, one per agenda item, conclusions --------------------------------------
function partsWanted(agenda) {
  const items = (agenda && agenda.items) || [];
  return [{ key: "introduction", title: "Introduction" },
    ...items.map((item) => ({ key: `item:${item.id}`, title: `${item.position + 1}. ${item.title}` })),
    { key: "conclusions", title: "Conclusions" }];
}

function createPart(part) {
  const slug = part.key.replace(":", "-");
  return el("li", { class: "summary-part", "data-revision": "0" },
    el("label", { for: `part-${slug}`, class: "part-title" }),
    el("textarea", { id: `part-${slug}`, class: "part-text", rows: "6", maxlength: "50000", spellcheck: "true", dir: "auto",
      "aria-describedby": `part-${slug}-status` }),
    el("p", { class: "part-status", id: `part-${slug}-status` },
      el("span", { class: "part-state", "data-state": "empty" }, "Not written yet"), " ", el("span", { class: "part-by" })),
    el("div", { class: "part-remote", hidden: true }),
    el("div", { class: "part-conflict", role: "alert", hidden: true }));
}

function renderParts(agenda) {
  const list = document.getElementById("summary-parts");
  syncList(list, partsWanted(agenda), (part) => part.key, (part) => {
    const node = createPart(part);
    node.dataset.key = part.key;
    return node;
  }, (node, part) => {
    setText(node.querySelector(".part-title"), part.title);
    if (!parts.has(part.key)) parts.set(part.key, new Part(node));
  });
  for (const key of [...parts.keys()]) {
    if (!list.querySelector(`[data-key="${CSS.escape(key)}"]`)) parts.delete(key);
  }
}

function applyNarratives(narratives) {
  for (const narrative of narratives) {
    if (!narrative || !narrative.key) continue;
    const mark = `${narrative.key}@${narrative.revision}`;
    if (seen.has(mark)) continue;
    seen.add(mark);
    const part = parts.get(narrative.key);
    if (part) part.remote(narrative);
  }
}

// -- settings and export ------------------------------------------------------------------------------
let settingsBusy = false;

function renderSettings(summary) {
  if (!summary || settingsBusy) return;
  const attribution = document.getElementById("sum-attribution");
  const orgs = document.getElementById("sum-orgs");
  const chairs = document.getElementById("sum-chairs");
  attribution.checked = Boolean(summary.attribution);
  orgs.checked = Boolean(summary.list_organizations);
  if (document.activeElement !== chairs && !("dirty" in chairs.dataset)) chairs.value = summary.chairs || "";
}

async function configure(payload) {
  settingsBusy = true;
  try {
    await send("summary.configure", payload);
    notify("Summary settings saved.", { kind: "info" });
  } catch (error) {
    if (error && (error.code === "network" || error.code === "timeout")) notify(error.message, { kind: "info" });
  } finally {
    settingsBusy = false;
    if (liveState.sections) renderSettings(liveState.sections.summary);
  }
}

function bindSettings() {
  const attribution = document.getElementById("sum-attribution");
  const orgs = document.getElementById("sum-orgs");
  const chairs = document.getElementById("sum-chairs");
  attribution.addEventListener("change", () => configure({ attribution: attribution.checked }));
  orgs.addEventListener("change", () => configure({ list_organizations: orgs.checked }));
  chairs.addEventListener("input", () => { chairs.dataset.dirty = ""; });
  const saveChairs = async () => {
    if (!("dirty" in chairs.dataset)) return;
    delete chairs.dataset.dirty;
    await configure({ chairs: chairs.value.trim() });
  };
  chairs.addEventListener("change", saveChairs);
  document.getElementById("summary-settings").addEventListener("submit", (event) => {
    event.preventDefault();
    saveChairs();
  });
}

async function loadExports() {
  const box = document.getElementById("exports");
  const note = document.getElementById("exports-note");
  try {
    const response = await fetch("/api/v1/export-formats", { credentials: "same-origin" });
    const data = await response.json();
    const formats = (data && data.formats) || [];
    const links = formats.map((format) => el("a", {
      class: "button small export-link",
      href: `/api/v1/dialogues/${dialogueId}/summary/export?format=${encodeURIComponent(format.name)}`,
      download: "",
      "data-format": format.name,
    }, format.label));
    box.replaceChildren(...links);
    if (!links.length) box.append(el("span", { class: "muted small" }, "No export formats are installed."));
  } catch (_error) {
    setText(note, "The export formats could not be loaded; reload the page to try again.");
  }
}

// -- wiring --------------------------------------------------------------------------------------------
export function renderSummary(state, changed) {
  const sections = state.sections;
  timeZone = (sections.dialogue || {}).timezone;
  if (changed.includes("agenda")) renderParts(sections.agenda);
  if (changed.includes("summary") && sections.summary) {
    renderSettings(sections.summary);
    applyNarratives(Object.values(sections.summary.narratives || {}));
  }
  if (state.records !== recordsObject) recordsObject = state.records;
  if (changed.includes("summary_sections") && state.records.summary_sections) {
    applyNarratives([...state.records.summary_sections.values()]);
  }
}

export function initSummary() {
  for (const node of document.querySelectorAll("#summary-parts .summary-part")) {
    parts.set(node.dataset.key, new Part(node));
  }
  // A save sent while the connection is down waits in live.js's outbox:
  // say so where the rapporteur looks.
  if (typeof live.onConnection === "function") {
    live.onConnection((connection) => {
      for (const part of parts.values()) {
        if (part.inflight === null) continue;
        if (connection === "connected") part.status("saving", "Saving…");
        else part.status("error", "Not saved yet: waiting for the connection. Your text is kept here and in this browser.");
      }
    });
  }
  bindSettings();
  loadExports();
  // Typed text that is not saved yet is also in localStorage; warn anyway.
  window.addEventListener("beforeunload", (event) => {
    if ([...parts.values()].some((part) => part.dirty() || part.inflight !== null)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}

/** For tests and debugging: the parts' state. */
export function summaryParts() {
  return parts;
}
