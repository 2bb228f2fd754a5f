/**
 * A participant's inputs: the form, "My inputs" and the published inputs.
 *
 * Not one input may be lost (moderation/features/inputs). So:
 * - the text in the box is kept as a draft in localStorage while it is
 *   typed, and comes back after a reload or a crash;
 * - a submission goes through live.js's outbox: typed offline, it is kept
 *   (also across a reload) and sent when the connection returns, with the
 *   same idempotency key, so never twice; the page lists it as "Not sent
 *   yet" until the server acknowledges it;
 * - the box is never cleared or replaced while the user types; it is
 *   cleared only after the acknowledgement, and only if it still holds the
 *   text that was sent;
 * - a refusal (too fast, outside the window, a duplicate, too long) is
 *   explained next to the form and the text stays.
 *
 * The published list is fetched with "inputs.list" and refreshed on
 * "inputs_hint" (debounced). Someone reading further down the list is not
 * disturbed: counts and texts update in place and new inputs wait behind a
 * "N new inputs – show" button. User text only ever goes in via textContent.
 */
import {
  clockOffsetMs, connectionState, onConnection, onOutboxChange, onSettle, pending, query, send, serverNow,
  sessionEnded, subscribe,
} from "./live.js";
import { explain, retryAfter } from "./messages.js";
import { formatClock } from "./timer.js";
import { el, setAttr, setText, syncList } from "./util.js";

const KIND_LABELS = {
  comment: "Comment",
  suggestion: "Suggestion to States parties",
  question: "Question to the panel",
  statement: "Written statement",
};
const STATUS_LABELS = {
  pending: "Awaiting moderation",
  published: "Published",
  hidden: "Hidden by the moderator",
  withdrawn: "Withdrawn",
  merged: "Merged with a similar input",
};
const KEEP_INPUTS_MS = 7 * 24 * 3600 * 1000; // an input typed offline is worth sending days later
const PER_PAGE = 20;
const HINT_DEBOUNCE_MS = 1200;

const form = document.getElementById("input-form");
const textarea = document.getElementById("input-text");
const counter = document.getElementById("input-count");
const submitButton = document.getElementById("input-submit");
const feedback = document.getElementById("input-feedback");
const participantId = form ? Number(form.dataset.participantId) || null : null;
const dialogueKey = document.body.dataset.dialogueId;
const DRAFT_KEY = `moderation:input-draft:${dialogueKey}:${participantId}`;
const ENDORSED_KEY = `moderation:endorsed:${dialogueKey}:${participantId}`;

let latest = null; // live.js state
let lastTyped = 0;
let blockedUntil = 0; // rate limited until (Date.now() ms)
let blockTimer = null;
const failed = new Map(); // key -> {entry, message}: refused submissions, shown until dismissed
const recent = new Map(); // key -> {input_id, status, text, at}: acknowledged, until the record arrives
const editing = new Set(); // input ids with an open editor
let attachChosen = false; // the participant picked what the input is about (else: follow the current item)

// -- small helpers ---------------------------------------------------------------
function storage(action, key, value) {
  try {
    if (action === "get") return window.localStorage.getItem(key);
    if (action === "set") window.localStorage.setItem(key, value);
    if (action === "remove") window.localStorage.removeItem(key);
  } catch (_error) {
    // private mode or full: the page still works, without keeping drafts
  }
  return null;
}

/** The text as the server measures it (moderation/features/inputs/handling.py clean_text). */
export function cleanText(text) {
  return text.replace(/\r\n?/g, "\n").split("\n").map((line) => line.replace(/\s+$/u, "")).join("\n").trim();
}

export function charCount(text) {
  return [...cleanText(text)].length;
}

export function wordCount(text) {
  const trimmed = text.trim();
  return trimmed ? trimmed.split(/\s+/u).length : 0;
}

function number(n) {
  return Number(n).toLocaleString("en-GB");
}

function timeZone() {
  const dialogue = latest && latest.sections.dialogue;
  return (dialogue && dialogue.timezone) || document.body.dataset.timezone || undefined;
}

function whenText(ms) {
  if (!ms) return "";
  const tz = timeZone();
  let day;
  try {
    day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: tz });
  } catch (_error) {
    day = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short" });
  }
  const sameDay = day.format(new Date(ms)) === day.format(new Date());
  return sameDay ? formatClock(ms, tz) : `${day.format(new Date(ms))}, ${formatClock(ms, tz)}`;
}

function itemTitle(itemId) {
  if (itemId == null) return "The dialogue as a whole";
  const agenda = latest && latest.sections.agenda;
  const item = agenda && (agenda.items || []).find((i) => i.id === itemId);
  return item ? item.title : "An agenda item";
}

function currentItem() {
  const agenda = latest && latest.sections.agenda;
  if (!agenda || agenda.current_item_id == null) return null;
  return (agenda.items || []).find((i) => i.id === agenda.current_item_id) || null;
}

/** Whether the written-input window is open at ``now`` (server time, ms). */
function windowOpenAt(section, now) {
  return section.window_opens_at != null && section.window_closes_at != null
    && section.window_opens_at <= now && now < section.window_closes_at;
}

/** The input settings as they hold now. ``live`` comes from the server (it
 *  changes with the agenda, and the server sends the section when it does);
 *  the written-input window opens and closes with the clock, not with a
 *  command, so the page tells it from the window's times and the server's
 *  clock (docs/protocol.md, "Time"). */
function settings() {
  const section = latest && latest.sections.input_settings;
  if (!section) {
    return {
      max_chars: Number(form && form.dataset.maxChars) || 2000,
      statement_max_words: Number(form && form.dataset.maxWords) || 1500,
      accepting: form ? form.dataset.accepting === "true" : false,
      written_window_open: form ? form.dataset.windowOpen === "true" : false,
    };
  }
  const written = windowOpenAt(section, serverNow());
  return { ...section, written_window_open: written, accepting: Boolean(section.live) || written };
}

let windowTimer = null;

/** Render the settings again the moment the written-input window opens or
 *  closes (the next of its two times still ahead). */
function scheduleWindowChange() {
  clearTimeout(windowTimer);
  const section = latest && latest.sections.input_settings;
  if (!section) return;
  const now = serverNow();
  const next = [section.window_opens_at, section.window_closes_at]
    .filter((at) => at != null && at > now).sort((a, b) => a - b)[0];
  if (next == null) return;
  // setTimeout's longest delay is about 24.8 days; a later time is checked again then.
  windowTimer = setTimeout(() => { renderSettings(); scheduleWindowChange(); },
    Math.min(next - now + 50, 2 ** 31 - 1));
}

function myInputs() {
  const list = latest && latest.sections.my_inputs;
  return Array.isArray(list) ? list : [];
}

function mySubmissions() {
  // This person's kept submissions only (a shared browser may hold another's).
  return pending().filter((entry) => entry.name === "inputs.submit"
    && (!entry.who || entry.who === `participant:${participantId}`));
}

function showFeedback(text, kind = "info") {
  if (!feedback) return;
  feedback.dataset.kind = kind;
  setAttr(feedback, "role", kind === "error" ? "alert" : "status");
  setText(feedback, text || "");
  feedback.hidden = !text;
  // What a tap did stays in view (a phone's screen is short), unless one is typing.
  const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
  if (text && !typing && feedback.offsetParent) feedback.scrollIntoView({ block: "nearest" });
}

/** Refusals stay said until dismissed in "My inputs", whatever is said next. */
function notStoredWords() {
  if (!failed.size) return "";
  return ` ${failed.size === 1 ? "One input was" : `${failed.size} inputs were`} not stored: see “My inputs”.`;
}

// -- the form ----------------------------------------------------------------------
function selected(name) {
  const checked = form.querySelector(`input[name='${name}']:checked`);
  return checked ? checked.value : null;
}

function saveDraft() {
  const text = textarea.value;
  if (!text.trim()) {
    storage("remove", DRAFT_KEY);
    return;
  }
  storage("set", DRAFT_KEY, JSON.stringify({ text, kind: selected("kind"), attach: selected("attach"),
    named: selected("named"), at: Date.now() }));
}

function restoreDraft() {
  const raw = storage("get", DRAFT_KEY);
  if (!raw || textarea.value.trim()) return;
  try {
    const draft = JSON.parse(raw);
    if (!draft || typeof draft.text !== "string") return;
    textarea.value = draft.text;
    for (const [name, value] of [["kind", draft.kind], ["attach", draft.attach], ["named", draft.named]]) {
      const radio = value && form.querySelector(`input[name='${name}'][value='${CSS.escape(value)}']`);
      if (radio && !radio.disabled && !radio.closest("[hidden]")) {
        radio.checked = true;
        if (name === "attach") attachChosen = true;
      }
    }
  } catch (_error) {
    storage("remove", DRAFT_KEY);
  }
}

/** Counter and the send button: what the text may be, right now. */
function updateForm() {
  if (!form) return;
  const s = settings();
  const kind = selected("kind") || "comment";
  const text = textarea.value;
  let over = false;
  if (kind === "statement") {
    const words = wordCount(text);
    over = words > s.statement_max_words;
    setText(counter, `${number(words)} / ${number(s.statement_max_words)} words`);
  } else {
    const chars = charCount(text);
    over = chars > s.max_chars;
    setText(counter, `${number(chars)} / ${number(s.max_chars)} characters`);
  }
  counter.dataset.over = over ? "true" : "false";
  setAttr(textarea, "aria-invalid", over ? "true" : null);
  const waiting = mySubmissions().some((entry) => cleanText(entry.payload.text) === cleanText(text));
  const blocked = Date.now() < blockedUntil;
  const ended = sessionEnded();
  const disabled = waiting || blocked || ended;
  setAttr(submitButton, "aria-disabled", disabled ? "true" : "false");
  let label = "Send input";
  if (waiting) label = connectionState() === "connected" ? "Sending…" : "Kept – will be sent";
  else if (blocked) label = `Wait ${Math.ceil((blockedUntil - Date.now()) / 1000)} s`;
  setText(submitButton, label);
}

function renderSettings() {
  if (!form) return;
  const s = settings();
  const statementChoice = document.getElementById("kind-statement-choice");
  if (statementChoice) {
    statementChoice.hidden = !s.written_window_open;
    const radio = statementChoice.querySelector("input");
    if (!s.written_window_open && radio.checked) {
      form.querySelector("input[name='kind'][value='comment']").checked = true;
      // Said, not done silently: the text the person is writing is no longer a statement.
      showFeedback("The written-input window has closed, so written statements are no longer accepted. "
        + "Your text is kept; you can send it as a comment.", "error");
    }
  }
  const hint = document.getElementById("input-window-hint");
  if (hint) {
    const period = s.window_opens_local && s.window_closes_local
      ? `${localText(s.window_opens_local)} to ${localText(s.window_closes_local)} (${s.timezone})` : "";
    let text = "";
    if (s.written_window_open) text = `Written statements (up to ${number(s.statement_max_words)} words) are accepted until ${localText(s.window_closes_local)} (${s.timezone}).`;
    else if (period) text = `Written statements can be sent while the written-input window is open: ${period}.`;
    setText(hint, text);
    hint.hidden = !text;
  }
  const closed = document.getElementById("input-accepting");
  if (closed) {
    closed.hidden = Boolean(s.accepting);
    setText(closed, s.accepting ? "" : "Inputs are not being accepted right now: they open during the live session"
      + " and while the written-input window is open. You can write a draft; it is kept on this device.");
  }
  const item = currentItem();
  const itemChoice = document.getElementById("attach-item-choice");
  if (itemChoice) {
    itemChoice.hidden = !item;
    setText(document.getElementById("attach-item-title"), item ? item.title : "");
    const radio = itemChoice.querySelector("input");
    radio.value = "item";
    radio.dataset.itemId = item ? String(item.id) : "";
    if (!item && radio.checked) form.querySelector("input[name='attach'][value='dialogue']").checked = true;
    if (item && !attachChosen) radio.checked = true; // an item started: inputs are about it, unless chosen otherwise
  }
  updateForm();
}

/** "2026-12-01T09:00+01:00" -> "1 Dec 2026, 09:00" */
function localText(iso) {
  if (!iso) return "";
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso);
  if (!match) return iso;
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return `${Number(match[3])} ${months[Number(match[2]) - 1]} ${match[1]}, ${match[4]}:${match[5]}`;
}

function block(seconds) {
  blockedUntil = Date.now() + seconds * 1000;
  clearInterval(blockTimer);
  blockTimer = setInterval(() => {
    updateForm();
    if (Date.now() >= blockedUntil) {
      clearInterval(blockTimer);
      // Said without hiding a refusal: a slow network may bring it after the wait.
      showFeedback(`You can send again.${notStoredWords()}`, failed.size ? "error" : "info");
    }
  }, 500);
  updateForm();
}

function submit(event) {
  event.preventDefault();
  if (submitButton.getAttribute("aria-disabled") === "true") return;
  const s = settings();
  const kind = selected("kind") || "comment";
  const text = cleanText(textarea.value);
  if (!text) {
    showFeedback("Write your input first.", "error");
    textarea.focus();
    return;
  }
  if (kind === "statement" && wordCount(text) > s.statement_max_words) {
    showFeedback(`A written statement may have up to ${number(s.statement_max_words)} words; yours has ${number(wordCount(text))}.`, "error");
    return;
  }
  if (kind !== "statement" && charCount(text) > s.max_chars) {
    showFeedback(`An input may have up to ${number(s.max_chars)} characters; yours has ${number(charCount(text))}.`
      + (s.written_window_open ? " Longer texts can be sent as a written statement." : ""), "error");
    return;
  }
  if (latest && !s.accepting) {
    showFeedback("Inputs are not being accepted right now. Your text stays here as a draft.", "error");
    return;
  }
  const attachRadio = form.querySelector("input[name='attach']:checked");
  const itemId = attachRadio && attachRadio.value === "item" ? Number(attachRadio.dataset.itemId) : null;
  // The item the participant saw, not whichever runs when the input arrives.
  const payload = { kind, text, attach_to: itemId || "dialogue", named: selected("named") !== "no" };
  saveDraft();
  send("inputs.submit", payload, { keepFor: KEEP_INPUTS_MS, quiet: true }).catch(() => {});
  showFeedback(connectionState() === "connected" ? "Sending…"
    : "You are offline: your input is kept on this device and sent when the connection is back.");
  updateForm();
  renderMine();
}

/** Clear the box after an acknowledgement, if it still holds what was sent
 *  and the user is not typing. */
function clearIfSent(text) {
  if (cleanText(textarea.value) !== cleanText(text)) return;
  const idle = Date.now() - lastTyped;
  if (idle < 1000) {
    setTimeout(() => clearIfSent(text), 1000 - idle + 50);
    return;
  }
  textarea.value = "";
  storage("remove", DRAFT_KEY);
  updateForm();
}

function settledSubmission(entry, outcome) {
  if (outcome.ok) {
    const result = (outcome.ack && outcome.ack.result) || {};
    recent.set(entry.key, { input_id: result.input_id, status: result.status, payload: entry.payload, at: entry.at });
    clearIfSent(entry.payload.text);
    const stored = result.status === "pending"
      ? "Stored. Your input will be published once a moderator has approved it."
      : "Stored and published. Thank you.";
    // A refusal shown a moment ago must not be wiped out by a later success.
    showFeedback(`${stored}${notStoredWords()}`, failed.size ? "error" : "info");
  } else if (outcome.final) {
    const message = explain(outcome.error);
    failed.set(entry.key, { entry, message });
    const wait = outcome.error && outcome.error.code === "rate_limited" ? retryAfter(outcome.error) : null;
    if (wait) block(wait);
    if (!textarea.value.trim()) {
      textarea.value = entry.payload.text; // nothing typed meanwhile: put it back
      saveDraft();
    }
    showFeedback(`Not stored: ${message}`, "error");
  } else {
    showFeedback("Not connected: your input is kept on this device and sent when the connection is back.");
  }
  updateForm();
  renderMine();
}

// -- My inputs ---------------------------------------------------------------------------
function createMine() {
  const li = el("li", { class: "my-input" },
    el("div", { class: "my-input-head" },
      el("span", { class: "badge my-input-kind" }),
      el("span", { class: "badge my-input-status" }),
      el("span", { class: "my-input-when muted small" })),
    el("p", { class: "my-input-text user-text", dir: "auto" }),
    el("p", { class: "my-input-meta muted small" }),
    el("p", { class: "my-input-reason small", hidden: true }),
    el("div", { class: "my-input-actions button-row", hidden: true },
      el("button", { type: "button", class: "button small", "data-action": "edit" }, "Edit"),
      el("button", { type: "button", class: "button small danger", "data-action": "withdraw" }, "Withdraw")),
    el("div", { class: "my-input-confirm", hidden: true },
      el("span", {}, "Withdraw this input? It will no longer be shown to anyone."),
      el("span", { class: "button-row" },
        el("button", { type: "button", class: "button small danger", "data-action": "withdraw-yes" }, "Yes, withdraw"),
        el("button", { type: "button", class: "button small", "data-action": "withdraw-no" }, "Keep it"))),
    el("div", { class: "my-input-failed-actions button-row", hidden: true },
      el("button", { type: "button", class: "button small", "data-action": "restore" }, "Put the text back in the box"),
      el("button", { type: "button", class: "button small", "data-action": "dismiss" }, "Dismiss")),
    el("p", { class: "my-input-feedback small", role: "status" }));
  return li;
}

function editorFor(li, record) {
  const id = `edit-${record.id}`;
  const area = el("textarea", { id, class: "my-input-edit-text", rows: "4", dir: "auto" });
  area.value = record.text;
  const count = el("p", { class: "counter", id: `${id}-count`, "aria-live": "off" });
  area.setAttribute("aria-describedby", `${id}-count`);
  const update = () => {
    const s = settings();
    if (record.kind === "statement") setText(count, `${number(wordCount(area.value))} / ${number(s.statement_max_words)} words`);
    else setText(count, `${number(charCount(area.value))} / ${number(s.max_chars)} characters`);
  };
  area.addEventListener("input", update);
  update();
  const editor = el("form", { class: "my-input-editor" },
    el("label", { for: id }, "Edit your input"), area, count,
    el("div", { class: "button-row" },
      el("button", { type: "submit", class: "button small primary" }, "Save changes"),
      el("button", { type: "button", class: "button small", "data-action": "edit-cancel" }, "Cancel")));
  editor.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = cleanText(area.value);
    const status = li.querySelector(".my-input-feedback");
    if (!text) {
      setText(status, "The text is empty.");
      return;
    }
    setText(status, connectionState() === "connected" ? "Saving…"
      : "Not connected: the change is kept and saved when the connection is back.");
    send("inputs.edit", { input_id: record.id, text }, { quiet: true, keepFor: KEEP_INPUTS_MS }).then(() => {
      editing.delete(record.id);
      editor.remove();
      setText(status, "Saved.");
      renderMine();
      li.querySelector("[data-action='edit']").focus();
    }, (error) => {
      setText(status, error.code === "network" || error.code === "timeout"
        ? "Not connected: the change is kept and saved when the connection is back." : explain(error));
    });
  });
  return editor;
}

function renderRecord(li, record) {
  li.dataset.status = record.status;
  setText(li.querySelector(".my-input-kind"), record.kind_label || KIND_LABELS[record.kind] || record.kind);
  const status = li.querySelector(".my-input-status");
  status.dataset.status = record.status;
  setText(status, STATUS_LABELS[record.status] || record.status);
  setText(li.querySelector(".my-input-when"), whenText(record.created_at));
  if (!editing.has(record.id)) setText(li.querySelector(".my-input-text"), record.text);
  const meta = [itemTitle(record.agenda_item_id), record.named ? "shown with your name" : "shown as “A participant”"];
  if (record.status === "published") meta.push(record.endorsements === 1 ? "1 endorsement" : `${record.endorsements} endorsements`);
  if (record.addressed) meta.push("addressed");
  if (record.corrected) meta.push("wording corrected by the rapporteur");
  setText(li.querySelector(".my-input-meta"), meta.join(" · "));
  const reason = li.querySelector(".my-input-reason");
  let reasonText = "";
  if (record.status === "hidden") reasonText = record.moderation_reason ? `Reason: ${record.moderation_reason}` : "";
  if (record.status === "merged") reasonText = "It was combined with a similar input; its endorsements count there.";
  setText(reason, reasonText);
  reason.hidden = !reasonText;
  const actions = li.querySelector(".my-input-actions");
  const confirmBox = li.querySelector(".my-input-confirm");
  const canChange = Boolean(record.editable) && !sessionEnded();
  actions.hidden = !canChange || !confirmBox.hidden || editing.has(record.id);
  if (!canChange) {
    confirmBox.hidden = true;
    const editor = li.querySelector(".my-input-editor");
    if (editor) editor.remove();
    editing.delete(record.id);
  }
  li.querySelector(".my-input-failed-actions").hidden = true;
}

function renderEntry(li, entry, failure) {
  const payload = entry.payload;
  li.dataset.status = failure ? "failed" : "unsent";
  setText(li.querySelector(".my-input-kind"), KIND_LABELS[payload.kind] || payload.kind);
  const status = li.querySelector(".my-input-status");
  status.dataset.status = failure ? "failed" : "unsent";
  const online = connectionState() === "connected";
  setText(status, failure ? "Not stored" : (online ? "Sending…" : "Not sent yet"));
  setText(li.querySelector(".my-input-when"), whenText(entry.at));
  setText(li.querySelector(".my-input-text"), payload.text);
  const attached = payload.attach_to === "dialogue" || payload.attach_to == null ? null : payload.attach_to;
  setText(li.querySelector(".my-input-meta"), failure ? failure.message
    : `${itemTitle(attached === "current" ? null : attached)} · ${online ? "on its way to the server"
      : "kept on this device; it is sent automatically when the connection is back"}`);
  li.querySelector(".my-input-reason").hidden = true;
  li.querySelector(".my-input-actions").hidden = true;
  li.querySelector(".my-input-confirm").hidden = true;
  li.querySelector(".my-input-failed-actions").hidden = !failure;
}

export function renderMine() {
  const list = document.getElementById("my-inputs-list");
  if (!list) return;
  // The server's first paint has no controls: rebuilt here, in the same frame.
  for (const li of list.querySelectorAll("li[data-first-paint]")) li.remove();
  const stored = myInputs().slice().sort((a, b) => (b.created_at || 0) - (a.created_at || 0) || b.id - a.id);
  const storedIds = new Set(stored.map((r) => r.id));
  for (const [key, info] of recent) if (storedIds.has(info.input_id)) recent.delete(key);
  const rows = [];
  for (const entry of mySubmissions()) {
    // Stored already, its acknowledgement still on the way (the record can
    // arrive first): shown once, as stored.
    const sentAt = entry.at + clockOffsetMs() - 10_000;
    const text = cleanText(entry.payload.text);
    if (stored.some((r) => r.created_at >= sentAt && r.text === text)) continue;
    rows.push({ key: `k:${entry.key}`, entry });
  }
  for (const [key, failure] of failed) rows.push({ key: `f:${key}`, entry: failure.entry, failure });
  for (const [key, info] of recent) {
    const { payload } = info;
    rows.push({ key: `r:${key}`, record: { id: info.input_id, kind: payload.kind, text: cleanText(payload.text),
      status: info.status, created_at: info.at, named: payload.named !== false,
      agenda_item_id: typeof payload.attach_to === "number" ? payload.attach_to : null, endorsements: 0,
      editable: false } });
  }
  for (const record of stored) rows.push({ key: `i:${record.id}`, record });
  syncList(list, rows, (row) => row.key, createMine, (li, row) => {
    if (row.record) renderRecord(li, row.record);
    else renderEntry(li, row.entry, row.failure);
    li.dataset.inputId = row.record ? String(row.record.id) : "";
  });
  const empty = document.getElementById("my-inputs-empty");
  if (empty) empty.hidden = rows.length > 0;
  const summary = document.getElementById("my-inputs-summary");
  if (summary) {
    const unsent = mySubmissions().length;
    setText(summary, unsent ? `${unsent} not sent yet` : "");
    summary.hidden = !unsent;
  }
}

function onMineClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const li = button.closest("li.my-input");
  const key = li.dataset.key;
  const action = button.dataset.action;
  const record = key.startsWith("i:") ? myInputs().find((r) => String(r.id) === key.slice(2)) : null;
  const status = li.querySelector(".my-input-feedback");
  if (action === "edit" && record) {
    editing.add(record.id);
    li.querySelector(".my-input-actions").hidden = true;
    const editor = editorFor(li, record);
    li.querySelector(".my-input-text").after(editor);
    editor.querySelector("textarea").focus();
  } else if (action === "edit-cancel" && record) {
    editing.delete(record.id);
    li.querySelector(".my-input-editor").remove();
    renderMine();
    li.querySelector("[data-action='edit']").focus();
  } else if (action === "withdraw") {
    li.querySelector(".my-input-actions").hidden = true;
    li.querySelector(".my-input-confirm").hidden = false;
    li.querySelector("[data-action='withdraw-yes']").focus();
  } else if (action === "withdraw-no") {
    li.querySelector(".my-input-confirm").hidden = true;
    renderMine();
    li.querySelector("[data-action='withdraw']").focus();
  } else if (action === "withdraw-yes" && record) {
    li.querySelector(".my-input-confirm").hidden = true;
    setText(status, connectionState() === "connected" ? "Withdrawing…"
      : "Not connected: the withdrawal is sent when the connection is back.");
    send("inputs.withdraw", { input_id: record.id }, { quiet: true }).then(
      () => setText(status, "Withdrawn."),
      (error) => setText(status, error.code === "network" || error.code === "timeout"
        ? "Not connected: the withdrawal is sent when the connection is back." : explain(error)));
  } else if (action === "restore" && key.startsWith("f:")) {
    const failure = failed.get(key.slice(2));
    if (!failure) return;
    if (textarea.value.trim() && cleanText(textarea.value) !== cleanText(failure.entry.payload.text)) {
      setText(status, "The box holds other text: send or clear it first, or copy this text from here.");
      return;
    }
    textarea.value = failure.entry.payload.text;
    saveDraft();
    updateForm();
    failed.delete(key.slice(2));
    renderMine();
    textarea.focus();
  } else if (action === "dismiss" && key.startsWith("f:")) {
    failed.delete(key.slice(2));
    renderMine();
  }
}

// -- the published inputs ----------------------------------------------------------------------
const listBox = document.getElementById("inputs-list");
const filterSelect = document.getElementById("inputs-filter");
const sortSelect = document.getElementById("inputs-sort");
const moreButton = document.getElementById("inputs-more");
const newButton = document.getElementById("inputs-new");
const listStatus = document.getElementById("inputs-status");

const published = {
  items: [],
  total: 0,
  pages: 1,
  loading: false,
  again: false,
  stale: true,
  fresh: [], // ids fetched but not shown (the reader is reading)
  loadedIds: new Set(), // ids of the last fetch (what "gone" is measured against)
  overviewVersion: 0, // version of the snapshot whose inputs_overview we hold
  timer: null,
};

function loadEndorsed() {
  try {
    return new Set(JSON.parse(storage("get", ENDORSED_KEY) || "[]"));
  } catch (_error) {
    return new Set();
  }
}
const endorsed = loadEndorsed();
function saveEndorsed() {
  storage("set", ENDORSED_KEY, JSON.stringify([...endorsed].slice(-2000)));
}
const endorsing = new Set(); // ids whose endorsement is on its way

/** The server says which inputs this participant has endorsed (from any
 *  device); it wins over what this browser remembers, except while an
 *  endorsement of that input is on its way. */
function learnEndorsed(items) {
  let changed = false;
  for (const item of items) {
    if (typeof item.endorsed_by_me !== "boolean" || endorsing.has(item.id)) continue;
    if (item.endorsed_by_me !== endorsed.has(item.id)) {
      if (item.endorsed_by_me) endorsed.add(item.id);
      else endorsed.delete(item.id);
      changed = true;
    }
  }
  if (changed) saveEndorsed();
}

function listParams(page) {
  const params = { sort: sortSelect && sortSelect.value === "endorsements" ? "endorsements" : "time", order: "desc",
    page, per_page: PER_PAGE };
  const filter = filterSelect ? filterSelect.value : "all";
  if (filter === "dialogue") params.item = "dialogue";
  if (filter === "current") {
    const item = currentItem();
    if (item) params.item = String(item.id);
  }
  return params;
}

/** Is the participant reading the list (so it must not move under them)? */
function reading() {
  if (!listBox || !listBox.children.length) return false;
  if (published.pages > 1) return true;
  const active = document.activeElement;
  if (active && listBox.contains(active)) return true;
  const rect = listBox.getBoundingClientRect();
  return rect.top < 0 && rect.bottom > 80;
}

function createCard() {
  return el("li", { class: "input-card" },
    el("div", { class: "input-card-head" },
      el("span", { class: "badge input-card-kind" }),
      el("span", { class: "input-card-item muted small" })),
    el("p", { class: "input-card-text user-text", dir: "auto" }),
    el("div", { class: "input-card-foot" },
      el("span", { class: "input-card-by small" },
        el("span", { class: "input-card-author", dir: "auto" }), el("span", { class: "input-card-when muted" })),
      el("span", { class: "input-card-support" },
        el("span", { class: "input-card-count small" }),
        el("button", { type: "button", class: "button small endorse", "aria-pressed": "false" }, "Endorse"),
        el("span", { class: "badge input-card-own", hidden: true }, "Your input"))),
    el("p", { class: "input-card-feedback small", role: "status" }));
}

function renderCard(li, item) {
  li.dataset.inputId = String(item.id);
  setText(li.querySelector(".input-card-kind"), item.kind_label || KIND_LABELS[item.kind] || item.kind);
  li.querySelector(".input-card-kind").dataset.kind = item.kind;
  setText(li.querySelector(".input-card-item"), itemTitle(item.agenda_item_id));
  setText(li.querySelector(".input-card-text"), item.text);
  const who = item.organization ? `${item.author}, ${item.organization}` : item.author;
  setText(li.querySelector(".input-card-author"), who);
  setText(li.querySelector(".input-card-when"), ` · ${whenText(item.created_at)}`);
  setText(li.querySelector(".input-card-count"), item.endorsements === 1 ? "1 endorsement" : `${item.endorsements} endorsements`);
  const mine = myInputs().some((r) => r.id === item.id);
  const button = li.querySelector(".endorse");
  button.hidden = mine || sessionEnded();
  li.querySelector(".input-card-own").hidden = !mine;
  const pressed = endorsed.has(item.id);
  setAttr(button, "aria-pressed", pressed ? "true" : "false");
  setText(button, pressed ? "Endorsed" : "Endorse");
  setAttr(button, "aria-label", `Endorse: ${item.text.slice(0, 60)}`);
  li.dataset.addressed = item.addressed ? "true" : "false";
}

/** Replace or update the cards, keeping what the reader looks at in place. */
function applyItems(items, { replace }) {
  const anchor = [...listBox.children].find((node) => node.getBoundingClientRect().bottom > 0);
  const anchorKey = anchor ? anchor.dataset.key : null;
  const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
  if (replace) {
    published.items = items;
    published.fresh = [];
  } else {
    // Reading: update what is shown, drop what is gone, hold back what is new.
    const byId = new Map(items.map((item) => [item.id, item]));
    const shown = new Set(published.items.map((item) => item.id));
    published.items = published.items.filter((item) => byId.has(item.id) || !published.loadedIds.has(item.id))
      .map((item) => byId.get(item.id) || item);
    // New: not shown, and ranked before the last input on screen (older ones
    // fetched to cover the screen are not news).
    let last = -1;
    items.forEach((item, index) => { if (shown.has(item.id)) last = index; });
    published.fresh = items.slice(0, last + 1).filter((item) => !shown.has(item.id)).map((item) => item.id);
  }
  published.loadedIds = new Set(items.map((item) => item.id));
  syncList(listBox, published.items, (item) => item.id, createCard, renderCard);
  if (anchorKey) {
    const again = [...listBox.children].find((node) => node.dataset.key === anchorKey);
    if (again) {
      const delta = again.getBoundingClientRect().top - anchorTop;
      if (Math.abs(delta) > 1) window.scrollBy(0, delta);
    }
  }
  renderListChrome();
}

function renderListChrome() {
  const shown = published.items.length;
  const empty = document.getElementById("inputs-empty");
  if (empty) empty.hidden = shown > 0 || published.stale;
  if (moreButton) moreButton.hidden = shown >= published.total || shown === 0;
  const summary = document.getElementById("inputs-summary");
  if (summary) setText(summary, shown ? `Showing ${number(shown)} of ${number(published.total)}` : "");
  if (newButton) {
    const count = published.fresh.length;
    newButton.hidden = count === 0;
    setText(newButton, count === 1 ? "1 new input – show" : `${count} new inputs – show`);
  }
  const count = document.getElementById("inputs-published-count");
  const hint = latest && latest.hints && latest.hints.inputs;
  const overview = latest && latest.sections.inputs_overview;
  let total = overview ? overview.published : null;
  if (hint && hint.version >= published.overviewVersion) total = hint.published;
  if (count && total != null) setText(count, `(${number(total)})`);
}

async function loadPublished({ replace = null } = {}) {
  if (!listBox) return;
  if (connectionState() !== "connected" || !latest) {
    published.stale = true;
    setText(listStatus, published.items.length ? "Not connected: the list updates when the connection is back."
      : "The published inputs load once connected.");
    return;
  }
  if (published.loading) {
    published.again = true;
    return;
  }
  published.loading = true;
  const replacing = replace === null ? !reading() : replace;
  try {
    const items = [];
    let total = 0;
    // While reading, fetch far enough to see every input on screen again:
    // new inputs push the last ones to the next page, and those must not
    // vanish under the reader's eyes (only what is really gone is dropped).
    const shown = new Set(replacing ? [] : published.items.map((item) => item.id));
    for (let page = 1; page <= published.pages + (replacing ? 0 : 3); page += 1) {
      const answer = await query("inputs.list", listParams(page));
      learnEndorsed(answer.items);
      items.push(...answer.items);
      total = answer.total;
      for (const item of answer.items) shown.delete(item.id);
      if (answer.items.length < PER_PAGE) break;
      if (page >= published.pages && shown.size === 0) break;
    }
    published.total = total;
    published.stale = false;
    setText(listStatus, "");
    // Only unique ids (a new input between two pages shifts the pages).
    const seen = new Set();
    applyItems(items.filter((item) => !seen.has(item.id) && seen.add(item.id)), { replace: replacing });
  } catch (error) {
    setText(listStatus, explain(error));
  } finally {
    published.loading = false;
    if (published.again) {
      published.again = false;
      loadPublished();
    }
  }
}

function scheduleRefresh() {
  clearTimeout(published.timer);
  published.timer = setTimeout(() => loadPublished(), HINT_DEBOUNCE_MS);
}

async function loadMore() {
  if (published.loading || connectionState() !== "connected") return;
  published.loading = true;
  setAttr(moreButton, "aria-disabled", "true");
  try {
    const page = Math.floor(published.items.length / PER_PAGE) + 1;
    const answer = await query("inputs.list", listParams(page));
    learnEndorsed(answer.items);
    const shown = new Set(published.items.map((item) => item.id));
    published.items = published.items.concat(answer.items.filter((item) => !shown.has(item.id)));
    published.pages = Math.max(published.pages, page);
    published.total = answer.total;
    published.loadedIds = new Set(published.items.map((item) => item.id));
    syncList(listBox, published.items, (item) => item.id, createCard, renderCard);
    renderListChrome();
  } catch (error) {
    setText(listStatus, explain(error));
  } finally {
    published.loading = false;
    setAttr(moreButton, "aria-disabled", "false");
  }
}

function onListClick(event) {
  const button = event.target.closest("button.endorse");
  if (!button) return;
  const li = button.closest("li.input-card");
  const id = Number(li.dataset.inputId);
  const item = published.items.find((i) => i.id === id);
  if (!item || button.getAttribute("aria-disabled") === "true") return;
  const was = endorsed.has(id);
  // Shown at once; the answer (or the next refresh) has the real count.
  if (was) endorsed.delete(id);
  else endorsed.add(id);
  saveEndorsed();
  item.endorsements = Math.max(0, item.endorsements + (was ? -1 : 1));
  renderCard(li, item);
  const status = li.querySelector(".input-card-feedback");
  setText(status, "");
  setAttr(button, "aria-disabled", "true");
  endorsing.add(id);
  send("inputs.endorse", { input_id: id, endorse: !was }, { quiet: true }).then((ack) => {
    const result = ack.result || {};
    if (result.endorsed) endorsed.add(id);
    else endorsed.delete(id);
    saveEndorsed();
    if (typeof result.endorsements === "number") item.endorsements = result.endorsements;
    renderCard(li, item);
  }, (error) => {
    if (error.code === "network" || error.code === "timeout") {
      setText(status, "Not connected: sent when the connection is back.");
      return;
    }
    if (was) endorsed.add(id);
    else endorsed.delete(id);
    saveEndorsed();
    item.endorsements = Math.max(0, item.endorsements + (was ? 1 : -1));
    renderCard(li, item);
    setText(status, explain(error));
  }).finally(() => {
    endorsing.delete(id);
    setAttr(button, "aria-disabled", "false");
  });
}

// -- wiring -------------------------------------------------------------------------------------
export function initInputs() {
  if (form) {
    restoreDraft();
    textarea.addEventListener("input", () => {
      lastTyped = Date.now();
      saveDraft();
      updateForm();
      if (feedback && feedback.dataset.kind === "error" && Date.now() >= blockedUntil) showFeedback("");
    });
    form.addEventListener("change", (event) => {
      if (event.target.name === "attach") attachChosen = true;
      saveDraft();
      updateForm();
    });
    form.addEventListener("submit", submit);
    updateForm();
  }
  const mine = document.getElementById("my-inputs-list");
  if (mine) mine.addEventListener("click", onMineClick);
  if (listBox) {
    listBox.addEventListener("click", onListClick);
    if (filterSelect) filterSelect.addEventListener("change", () => { published.pages = 1; loadPublished({ replace: true }); });
    if (sortSelect) sortSelect.addEventListener("change", () => { published.pages = 1; loadPublished({ replace: true }); });
    if (moreButton) moreButton.addEventListener("click", loadMore);
    if (newButton) {
      newButton.addEventListener("click", () => {
        published.pages = 1;
        loadPublished({ replace: true }).then(() => {
          listBox.closest("section").scrollIntoView({ block: "start" });
          const first = listBox.querySelector("li");
          if (first) {
            first.setAttribute("tabindex", "-1");
            first.focus({ preventScroll: true });
          }
        });
      });
    }
  }
  onSettle((entry, outcome) => {
    if (entry.name === "inputs.submit") settledSubmission(entry, outcome);
  });
  onOutboxChange(() => {
    updateForm();
    renderMine();
  });
  onConnection((state) => {
    updateForm();
    renderMine();
    if (state === "connected" && latest && published.stale) loadPublished();
    if (state === "ended") {
      showFeedback("Your personal link no longer works, so nothing more can be sent. Your text stays in the box"
        + " (and on this device); ask the secretariat for a new link.", "error");
      if (listBox) {
        for (const li of listBox.children) {
          const item = published.items.find((i) => String(i.id) === li.dataset.key);
          if (item) renderCard(li, item);
        }
      }
    }
  });
  subscribe((state, changed) => {
    const first = latest === null;
    latest = state;
    const snapshot = changed.includes("dialogue") && changed.includes("agenda") && changed.includes("me");
    if (changed.includes("inputs_overview")) published.overviewVersion = state.version;
    if (first || changed.includes("input_settings")) { renderSettings(); scheduleWindowChange(); }
    else if (changed.includes("agenda")) renderSettings();  // the current item to attach an input to
    if (first || changed.includes("my_inputs") || changed.includes("agenda")) renderMine();
    if (first || snapshot) {
      loadPublished({ replace: !published.items.length || undefined });
    } else if (changed.includes("inputs_hint")) {
      scheduleRefresh();
    } else if (changed.includes("agenda") && filterSelect && filterSelect.value === "current") {
      scheduleRefresh();
    }
    if (changed.includes("my_inputs") && listBox) {
      for (const li of listBox.children) {
        const item = published.items.find((i) => String(i.id) === li.dataset.key);
        if (item) renderCard(li, item);
      }
    }
    renderListChrome();
  });
}
