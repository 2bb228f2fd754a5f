/**
 * The speaker queue on the moderator's console: who has the floor (with a
 * countdown drawn from absolute times), who is proposed next, the waiting
 * list with its badges and actions, the form to add someone on their behalf
 * and the list settings.
 *
 * Rules that keep a three-hour session calm:
 * - Live updates go through syncList: rows keep their DOM nodes, so the
 *   keyboard focus and the scroll position survive every change.
 * - "Give the floor" sends the id of the proposed speaker the moderator
 *   sees (expected_entry_id): if a second moderator pressed first, the
 *   server refuses instead of calling two people, and the console says so.
 * - The console's actions (shortcuts, the speaker and list buttons, a row's
 *   "Give the floor", "Top" and "Remove") go through console_presses.js:
 *   pressed quickly, they are queued and sent one at a time, in order, each
 *   planned on the state the previous one left.
 * - A reorder is shown at once and kept until the server's change with the
 *   acknowledged version arrives, so two quick Alt+↑ presses build on each
 *   other instead of on a stale list.
 * - Controls that do not apply are aria-disabled (not disabled), so the
 *   focus stays on them.
 *
 * templates/moderator.html paints the same markup first (queue_entry); change
 * both together. User text only ever goes through textContent.
 */
import { speakerAnnouncer } from "./announce.js";
import { press, waitingPresses } from "./console_presses.js";
import { syncCompactRows } from "./queue_compact.js";
import { notify, send, serverNow, state as liveState } from "./live.js";
import { formatCountdown, formatDuration } from "./timer.js";
import { clearDirty, el, isEditing, setAttr, setText, syncList, trackDirty } from "./util.js";

export const CHANNEL_LABELS = { room: "In the room", online: "Online" };
export const TYPE_LABELS = {
  statement: "Statement", question: "Question to the panel", point_of_order: "Point of order", reply: "Reply",
};
const REMOVE_CONFIRM_MS = 4000;

let queue = null;
let staff = { entries: {}, available_policies: [] };
let participants = [];
let pendingOrder = null; // {ids, version|null}: a reorder shown before the server confirms it
const busy = new Set(); // forms and reorders waiting for their acknowledgement

const $ = (id) => document.getElementById(id);
const list = $("queue-list");
const announceSpeaker = speakerAnnouncer($("speaker-announce"));

// -- sending ---------------------------------------------------------------------------
/** Send a command for a form or a reorder; mark it busy meanwhile. Resolves
 *  with the ack or null (errors are shown by live.js, unless
 *  `options.quiet`; network ones here). The console's actions go through
 *  press() instead. */
async function act(name, payload, button, key = name, options = {}) {
  if (busy.has(key)) {
    notify("Waiting for the server to confirm the previous action…", { kind: "info" });
    return null;
  }
  busy.add(key);
  if (button) {
    button.classList.add("is-pressed");
    setAttr(button, "aria-busy", "true");
  }
  try {
    return await send(name, payload, options);
  } catch (error) {
    if (error && (error.code === "network" || error.code === "timeout")) notify(error.message, { kind: "info" });
    return Promise.reject(error);
  } finally {
    busy.delete(key);
    if (button) {
      button.classList.remove("is-pressed");
      setAttr(button, "aria-busy", null);
    }
  }
}

// -- the countdown -------------------------------------------------------------------------
/** Seconds left for the current speaker at server time `now` (negative: over). */
export function speakerRemaining(speaker, now) {
  if (!speaker) return 0;
  if (speaker.ends_at != null) return (speaker.ends_at - now) / 1000;
  return speaker.allotted_seconds - speaker.elapsed_seconds;
}

export function speakerPhase(speaker, remaining, warningSeconds) {
  if (!speaker) return "pending";
  if (remaining < 0) return "overtime";
  if (remaining <= warningSeconds) return "warning";
  return speaker.ends_at == null ? "paused" : "running";
}

function speakerNote(speaker, remaining, warningSeconds) {
  if (!speaker) return "";
  const notes = [];
  if (speaker.ends_at == null) notes.push("Paused");
  if (remaining < 0) notes.push(`Over time by ${formatDuration(Math.floor(-remaining))}`);
  else if (remaining <= warningSeconds) notes.push("Time is nearly up");
  return notes.join(" · ");
}

/** "waiting 40 s", "waiting 12 min": a duration, never mistaken for a clock time. */
export function waitingText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `waiting ${s} s`;
  if (s < 3600) return `waiting ${Math.floor(s / 60)} min`;
  return `waiting ${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function tick() {
  const now = serverNow();
  const speaker = queue && queue.current;
  const countdown = $("speaker-countdown");
  if (countdown && speaker) {
    const warning = queue.warning_seconds || 0;
    const remaining = speakerRemaining(speaker, now);
    setText(countdown, formatCountdown(remaining));
    const phase = speakerPhase(speaker, remaining, warning);
    if (countdown.dataset.phase !== phase) countdown.dataset.phase = phase;
    const note = $("speaker-timer-note");
    setText(note, speakerNote(speaker, remaining, warning));
    if (note && note.dataset.phase !== phase) note.dataset.phase = phase;
    const box = $("speaker");
    if (box && box.dataset.phase !== phase) box.dataset.phase = phase;
    announceSpeaker(speaker, phase, remaining);
  } else if (queue) {
    announceSpeaker(null, null, 0);
  }
  for (const node of list.querySelectorAll(".q-wait[data-requested-at]")) {
    const since = Number(node.dataset.requestedAt);
    setText(node, since ? waitingText((now - since) / 1000) : "");
  }
}

// -- the order shown ---------------------------------------------------------------------------
function sameSet(a, b) {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((id) => set.has(id));
}

/** The waiting entries in the order to show: the server's, or a reorder
 *  sent and not yet confirmed. */
function shownWaiting() {
  const waiting = (queue && queue.waiting) || [];
  if (pendingOrder) {
    const ids = waiting.map((e) => e.id);
    if (pendingOrder.version != null && liveState.version >= pendingOrder.version) pendingOrder = null;
    else if (!sameSet(ids, pendingOrder.ids)) pendingOrder = null; // the list changed: the server's order wins
  }
  if (!pendingOrder) return waiting;
  const byId = new Map(waiting.map((e) => [e.id, e]));
  return pendingOrder.ids.map((id) => byId.get(id));
}

async function reorderTo(ids, focusId) {
  pendingOrder = { ids, version: null };
  const mine = pendingOrder;
  renderQueue();
  if (focusId != null) focusRow(focusId);
  try {
    const ack = await act("queue.reorder", { entry_ids: ids }, null, `reorder-${Date.now()}`);
    if (pendingOrder === mine && ack) pendingOrder.version = ack.version;
  } catch (_error) {
    if (pendingOrder === mine) pendingOrder = null;
  }
  renderQueue();
}

function move(entryId, delta) {
  const ids = shownWaiting().map((e) => e.id);
  const from = ids.indexOf(entryId);
  const to = from + delta;
  if (from < 0 || to < 0 || to >= ids.length) return;
  ids.splice(to, 0, ids.splice(from, 1)[0]);
  reorderTo(ids, entryId);
}

/** Put the focus back on the same control of a row after it moved. */
function focusRow(entryId, which = null) {
  const row = list.querySelector(`.q-entry[data-key="${entryId}"]`);
  if (!row) return;
  const active = document.activeElement;
  const chosen = which || (active && row.contains(active) && active.dataset.act) || "up";
  const target = row.querySelector(`[data-act="${chosen}"]`);
  if (target && target !== document.activeElement) target.focus({ preventScroll: false });
}

// -- drawing the list --------------------------------------------------------------------------
function createEntry() {
  const name = el("span", { class: "q-name", dir: "auto" });
  const actions = el("div", { class: "q-actions", role: "group" },
    el("button", { type: "button", class: "button small q-call", "data-act": "call" }, "Give the floor"),
    el("button", { type: "button", class: "button small q-top", "data-act": "top" }, "Top"),
    el("button", { type: "button", class: "button small q-up", "data-act": "up", "aria-keyshortcuts": "Alt+ArrowUp" }, "↑"),
    el("button", { type: "button", class: "button small q-down", "data-act": "down", "aria-keyshortcuts": "Alt+ArrowDown" }, "↓"),
    el("button", { type: "button", class: "button small danger q-remove", "data-act": "remove" }, "Remove"));
  return el("li", { class: "q-entry", draggable: "true" },
    el("span", { class: "q-pos", "aria-hidden": "true" }),
    el("div", { class: "q-main" },
      el("p", { class: "q-who" }, name, " ", el("span", { class: "q-org", dir: "auto" })),
      el("p", { class: "q-badges" },
        el("span", { class: "badge q-proposed", hidden: true }, "Proposed next"), " ",
        el("span", { class: "badge q-type" }), " ",
        el("span", { class: "badge q-channel" }), " ",
        el("span", { class: "badge q-category" }), " ",
        el("span", { class: "badge q-first", hidden: true }, "First time"), " ",
        el("span", { class: "badge q-previous", hidden: true }), " ",
        el("span", { class: "badge q-manual", hidden: true }, "Placed by hand"), " ",
        el("span", { class: "q-wait" })),
      el("p", { class: "q-note", dir: "auto", hidden: true })),
    // The compact list's one tab stop per row (queue_compact.js opens the actions from it).
    el("button", { type: "button", class: "button small q-menu", "data-act": "menu", tabindex: "-1",
      "aria-expanded": "false" }, "⋯"),
    actions);
}

function show(node, visible) {
  if (node && node.hidden === visible) node.hidden = !visible;
}

function updateEntry(row, entry, index) {
  const badges = (staff.entries || {})[String(entry.id)] || {};
  const proposed = entry.id === queue.proposed_id;
  row.dataset.type = entry.type;
  setAttr(row, "data-proposed", proposed ? "" : null);
  setAttr(row, "data-manual", badges.manual ? "" : null);
  setText(row.querySelector(".q-pos"), String(index + 1));
  setText(row.querySelector(".q-name"), entry.name);
  setText(row.querySelector(".q-org"), entry.organization || "");
  show(row.querySelector(".q-proposed"), proposed);
  const type = row.querySelector(".q-type");
  type.dataset.type = entry.type;
  setText(type, entry.type_label || TYPE_LABELS[entry.type] || entry.type);
  const channel = row.querySelector(".q-channel");
  channel.dataset.channel = entry.channel;
  setText(channel, CHANNEL_LABELS[entry.channel] || entry.channel);
  setText(row.querySelector(".q-category"), entry.category_label || entry.category);
  show(row.querySelector(".q-first"), Boolean(badges.first_time));
  const previous = row.querySelector(".q-previous");
  show(previous, Boolean(badges.previous_interventions));
  setText(previous, `Spoke ${badges.previous_interventions || 0}× before`);
  show(row.querySelector(".q-manual"), Boolean(badges.manual));
  const wait = row.querySelector(".q-wait");
  wait.dataset.requestedAt = String(entry.requested_at || "");
  const note = row.querySelector(".q-note");
  setText(note, badges.note || "");
  show(note, Boolean(badges.note));
  const actions = row.querySelector(".q-actions");
  setAttr(actions, "aria-label", entry.name);
  setAttr(actions, "id", `q-actions-${entry.id}`);
  setAttr(row.querySelector(".q-menu"), "aria-controls", `q-actions-${entry.id}`);
  setAttr(row.querySelector(".q-menu"), "aria-label", `Actions for ${entry.name}`);
  const count = (queue.waiting || []).length;
  setAttr(row.querySelector(".q-top"), "aria-label", `Move ${entry.name} to the top`);
  setAttr(row.querySelector(".q-top"), "aria-disabled", index === 0 ? "true" : null);
  setAttr(row.querySelector(".q-up"), "aria-label", `Move ${entry.name} up`);
  setAttr(row.querySelector(".q-up"), "aria-disabled", index === 0 ? "true" : null);
  setAttr(row.querySelector(".q-down"), "aria-label", `Move ${entry.name} down`);
  setAttr(row.querySelector(".q-down"), "aria-disabled", index === count - 1 ? "true" : null);
  setAttr(row.querySelector(".q-call"), "aria-label", `Give the floor to ${entry.name}`);
  const remove = row.querySelector(".q-remove");
  if (!remove.dataset.confirm) {
    setAttr(remove, "aria-label", `Remove ${entry.name} from the list`);
    setText(remove, "Remove");
  }
}

function renderQueue() {
  if (!queue) return;
  const waiting = shownWaiting();
  syncList(list, waiting, (e) => e.id, createEntry, updateEntry);
  syncCompactRows();
  setText($("queue-count"), String(waiting.length));
  const empty = $("queue-empty");
  show(empty, waiting.length === 0);
  setText(empty, queue.item_id ? "Nobody is waiting for the floor."
    : "No agenda item is running: the list opens with the item.");
  tick();
}

function renderSpeaker() {
  const speaker = queue && queue.current;
  const box = $("speaker");
  setAttr(box, "data-empty", speaker ? null : true);
  setText($("speaker-label"), speaker ? "Has the floor" : "Nobody has the floor");
  setText($("speaker-name"), speaker ? speaker.name : "");
  setText($("speaker-org"), speaker ? speaker.organization || "" : "");
  const badges = $("speaker-badges");
  show(badges, Boolean(speaker));
  if (speaker) {
    const type = badges.querySelector(".q-type");
    type.dataset.type = speaker.type;
    setText(type, speaker.type_label || TYPE_LABELS[speaker.type] || speaker.type);
    const channel = badges.querySelector(".q-channel");
    channel.dataset.channel = speaker.channel;
    setText(channel, CHANNEL_LABELS[speaker.channel] || speaker.channel);
    setText(badges.querySelector(".q-category"), speaker.category_label || speaker.category);
  }
  const extra = speaker ? (staff.entries || {})[String(speaker.id)] || {} : {};
  const note = $("speaker-note");
  setText(note, extra.note || "");
  show(note, Boolean(extra.note));
  show($("speaker-clock"), Boolean(speaker));
  const countdown = $("speaker-countdown");
  if (speaker) {
    countdown.dataset.endsAt = speaker.ends_at != null ? String(speaker.ends_at) : "";
    countdown.dataset.allottedSeconds = String(speaker.allotted_seconds);
    countdown.dataset.elapsedSeconds = String(speaker.elapsed_seconds);
    setText($("speaker-of"), `of ${formatDuration(speaker.allotted_seconds)}`);
  } else if (box) {
    delete box.dataset.phase;
  }
  const pause = $("speaker-pause");
  setText(pause.querySelector(".button-label"), speaker && speaker.ends_at == null ? "Resume" : "Pause");
  for (const id of ["speaker-pause", "speaker-minus", "speaker-plus", "speaker-end"]) {
    setAttr($(id), "aria-disabled", speaker ? null : "true");
  }
}

function renderNext() {
  const waiting = (queue && queue.waiting) || [];
  const proposed = waiting.find((e) => e.id === queue.proposed_id) || null;
  const box = $("next-up");
  setAttr(box, "data-empty", proposed ? null : true);
  setText($("next-name"), proposed ? proposed.name : "Nobody is waiting");
  setText($("next-org"), proposed ? [proposed.organization, proposed.type_label].filter(Boolean).join(" · ") : "");
  const button = $("call-next");
  button.dataset.expectedId = proposed ? String(proposed.id) : "";
  setAttr(button, "aria-disabled", proposed ? null : "true");
  // Its name stays what it shows ("Give the floor"); who is described by #next-name.
}

function renderToolbar() {
  const panel = $("queue-panel");
  setAttr(panel, "data-closed", queue.closed ? true : null);
  show($("queue-closed-badge"), Boolean(queue.closed));
  const close = $("queue-close");
  setText(close.querySelector(".button-label"), queue.closed ? "Reopen the list" : "Close the list");
  setAttr(close, "aria-disabled", queue.item_id ? null : "true");
  show($("queue-automatic"), Boolean(queue.manual_order));
  const last = queue.last_speaker_id;
  const speaking = queue.current && queue.current.id === last;
  setAttr($("queue-readd"), "aria-disabled", last && !speaking ? null : "true");
  const panelFloor = $("floor-panel");
  if (panelFloor) panelFloor.dataset.warningSeconds = String(queue.warning_seconds);
}

// -- actions -------------------------------------------------------------------------------------
/** What a console action would send now, or why it does not apply. */
function plan(action) {
  if (!queue) return { why: "Still connecting; try again in a moment." };
  const speaker = queue.current;
  switch (action) {
    case "next": {
      const expected = Number($("call-next").dataset.expectedId) || null;
      if (!expected) return { why: queue.item_id ? "Nobody is waiting for the floor." : "No agenda item is running." };
      return { name: "queue.call_next", payload: { expected_entry_id: expected } };
    }
    case "end":
      if (!speaker) return { why: "Nobody has the floor." };
      return { name: "queue.end_speaker", payload: { entry_id: speaker.id } };
    case "pause":
      if (!speaker) return { why: "Nobody has the floor." };
      return speaker.ends_at == null
        ? { name: "queue.resume_speaker", payload: { entry_id: speaker.id } }
        : { name: "queue.pause_speaker", payload: { entry_id: speaker.id } };
    case "plus":
    case "minus":
      if (!speaker) return { why: "Nobody has the floor." };
      return { name: "queue.adjust_speaker_time", payload: { entry_id: speaker.id, seconds: action === "plus" ? 30 : -30 } };
    case "readd":
      if (!queue.last_speaker_id) return { why: "Nobody has spoken on this item yet." };
      if (speaker && speaker.id === queue.last_speaker_id) return { why: "The last speaker still has the floor." };
      return { name: "queue.readd_last", payload: {} };
    case "automatic":
      return { name: "queue.use_automatic_order", payload: {} };
    case "close":
      if (!queue.item_id) return { why: "No agenda item is running." };
      return { name: queue.closed ? "queue.reopen" : "queue.close", payload: {} };
    default:
      return { why: "Unknown action." };
  }
}

const ACTION_BUTTONS = {
  next: "call-next", end: "speaker-end", pause: "speaker-pause", plus: "speaker-plus", minus: "speaker-minus",
  readd: "queue-readd", automatic: "queue-automatic", close: "queue-close",
};
/** What each action is called in the list of waiting presses (its key too). */
const ACTION_LABELS = {
  next: "Give the floor (S)", end: "End speaker (X)", pause: "Pause or resume the speaker (T)",
  plus: "+30 s (A)", minus: "−30 s", readd: "Put the last speaker back", automatic: "Automatic order",
  close: "Close or reopen the list",
};

let conflictTimer = null;

function showCallConflict(message) {
  const box = $("next-up");
  let line = box.querySelector(".next-up-error");
  if (!line) {
    line = el("p", { class: "next-up-error", role: "alert" });
    box.append(line);
  }
  setText(line, `Nobody was called: ${message}`);
  box.dataset.conflict = "";
  clearTimeout(conflictTimer);
  conflictTimer = setTimeout(() => {
    line.remove();
    delete box.dataset.conflict;
  }, 10000);
}

/** Run a console action (a button or a shortcut): queued behind the
 *  presses still waiting, planned when its turn comes. */
export function trigger(action) {
  const button = $(ACTION_BUTTONS[action]);
  const label = ACTION_LABELS[action];
  if (action === "next") {
    press(() => {
      const old = $("next-up").querySelector(".next-up-error");
      if (old) old.remove();
      return plan("next");
    }, {
      button, label, quiet: true, // a refused call is explained in the "proposed next" box itself
      onError: (error) => {
        if (error && error.code === "conflict") showCallConflict(error.message);
        else if (error && error.code !== "network" && error.code !== "timeout") notify(error.message || "That did not work.");
      },
    });
    return;
  }
  press(() => plan(action), { button, label });
}

function onListClick(event) {
  const button = event.target.closest("button[data-act]");
  if (!button || !list.contains(button)) return;
  const row = button.closest(".q-entry");
  const id = Number(row.dataset.key);
  if (button.getAttribute("aria-disabled") === "true") return;
  const who = row.querySelector(".q-name").textContent;
  switch (button.dataset.act) {
    case "call":
      press(() => ({ name: "queue.call_speaker", payload: { entry_id: id } }),
        { button, label: `Give the floor to ${who}` });
      break;
    case "top":
      press(() => ({ name: "queue.move_to_top", payload: { entry_id: id } }),
        { button, label: `Move ${who} to the top`, onAck: () => focusRow(id, "top") });
      break;
    case "up":
      move(id, -1);
      break;
    case "down":
      move(id, 1);
      break;
    case "remove":
      if (!button.dataset.confirm) {
        // Two steps: a slip of the finger must not take someone off the list.
        button.dataset.confirm = "";
        setText(button, "Confirm remove");
        setAttr(button, "aria-label", `Confirm: remove ${row.querySelector(".q-name").textContent} from the list`);
        setTimeout(() => {
          delete button.dataset.confirm;
          setText(button, "Remove");
          renderQueue();
        }, REMOVE_CONFIRM_MS);
        break;
      }
      delete button.dataset.confirm;
      press(() => ({ name: "queue.remove", payload: { entry_id: id } }),
        { button, label: `Remove ${who} from the list` });
      break;
    default:
      break;
  }
}

function onListKey(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  const row = event.target.closest && event.target.closest(".q-entry");
  if (!row) return;
  event.preventDefault();
  move(Number(row.dataset.key), event.key === "ArrowUp" ? -1 : 1);
}

// -- drag and drop ---------------------------------------------------------------------------
let dragged = null;

function clearDropMarks() {
  for (const node of list.querySelectorAll("[data-drop]")) delete node.dataset.drop;
}

function bindDrag() {
  list.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest(".q-entry");
    if (!row) return;
    dragged = Number(row.dataset.key);
    row.dataset.dragging = "";
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", String(dragged));
  });
  list.addEventListener("dragover", (event) => {
    if (dragged == null) return;
    const row = event.target.closest && event.target.closest(".q-entry");
    if (!row) return;
    event.preventDefault();
    const box = row.getBoundingClientRect();
    const where = event.clientY < box.top + box.height / 2 ? "before" : "after";
    if (row.dataset.drop !== where) {
      clearDropMarks();
      row.dataset.drop = where;
    }
  });
  list.addEventListener("dragleave", (event) => {
    if (!list.contains(event.relatedTarget)) clearDropMarks();
  });
  list.addEventListener("drop", (event) => {
    const row = event.target.closest && event.target.closest(".q-entry");
    if (dragged == null || !row) return;
    event.preventDefault();
    const target = Number(row.dataset.key);
    const after = row.dataset.drop === "after";
    clearDropMarks();
    const ids = shownWaiting().map((e) => e.id).filter((id) => id !== dragged);
    if (target !== dragged) {
      const at = ids.indexOf(target) + (after ? 1 : 0);
      ids.splice(at, 0, dragged);
      const before = shownWaiting().map((e) => e.id);
      if (ids.join() !== before.join()) reorderTo(ids, null);
    }
  });
  list.addEventListener("dragend", () => {
    for (const node of list.querySelectorAll("[data-dragging]")) delete node.dataset.dragging;
    clearDropMarks();
    dragged = null;
  });
}

// -- adding a speaker on someone's behalf -----------------------------------------------------------
let picked = null;

function fold(text) {
  return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

function openRequests() {
  const ids = new Set(((queue && queue.waiting) || []).map((e) => e.participant_id));
  if (queue && queue.current) ids.add(queue.current.participant_id);
  return ids;
}

function renderMatches() {
  const form = $("add-speaker");
  const search = $("speaker-search");
  const results = $("speaker-results");
  const words = fold(search.value).split(/\s+/).filter(Boolean);
  let matches = [];
  if (words.length && !picked) {
    matches = participants.filter((p) => {
      const hay = fold(`${p.name} ${p.organization || ""}`);
      return words.every((w) => hay.includes(w));
    }).slice(0, 8);
  }
  const onList = openRequests();
  syncList(results, matches, (p) => p.id,
    () => el("li", {}, el("button", { type: "button", class: "pick" },
      el("span", { class: "pick-name", dir: "auto" }), " ", el("span", { class: "pick-org", dir: "auto" }), " ",
      el("span", { class: "badge pick-channel" }), " ", el("span", { class: "pick-note" }))),
    (node, p) => {
      const button = node.querySelector(".pick");
      button.dataset.id = String(p.id);
      setText(node.querySelector(".pick-name"), p.name);
      setText(node.querySelector(".pick-org"), p.organization || "");
      const channel = node.querySelector(".pick-channel");
      channel.dataset.channel = p.channel;
      setText(channel, CHANNEL_LABELS[p.channel] || p.channel);
      setText(node.querySelector(".pick-note"), onList.has(p.id) ? "already on the list" : "");
    });
  show(results, matches.length > 0);
  if (form) form.dataset.matches = String(matches.length);
}

function pick(participant) {
  picked = participant;
  const line = $("speaker-picked");
  show(line, Boolean(participant));
  show($("walk-in"), !participant);
  const search = $("speaker-search");
  show(search, !participant);
  if (participant) {
    setText(line.querySelector(".picked-text"),
      `${participant.name}${participant.organization ? ` — ${participant.organization}` : ""}`);
    const radio = document.querySelector(`#add-speaker input[name="channel"][value="${participant.channel}"]`);
    if (radio) radio.checked = true;
  }
  renderMatches();
}

function formError(text) {
  const box = $("add-speaker-error");
  setText(box, text || "");
  show(box, Boolean(text));
}

function resetAddForm() {
  const form = $("add-speaker");
  form.reset();
  picked = null;
  pick(null);
  formError("");
  clearDirty(form);
}

export function toggleAddForm(open) {
  const form = $("add-speaker");
  const toggle = $("add-speaker-toggle");
  const wanted = open === undefined ? form.hidden : open;
  form.hidden = !wanted;
  setAttr(toggle, "aria-expanded", wanted ? "true" : "false");
  if (wanted) {
    (picked ? $("speaker-unpick") : $("speaker-search")).focus();
  } else if (form.contains(document.activeElement) || document.activeElement === document.body) {
    toggle.focus();
  }
}

function bindAddForm() {
  const form = $("add-speaker");
  trackDirty(form);
  $("add-speaker-toggle").addEventListener("click", () => toggleAddForm());
  $("add-speaker-cancel").addEventListener("click", () => toggleAddForm(false));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      toggleAddForm(false);
    }
  });
  const search = $("speaker-search");
  const results = $("speaker-results");
  search.addEventListener("input", renderMatches);
  search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = results.querySelector(".pick");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === "Enter") {
      const buttons = results.querySelectorAll(".pick");
      if (buttons.length === 1) {
        event.preventDefault();
        buttons[0].click();
      }
    }
  });
  results.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...results.querySelectorAll(".pick")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    if (event.key === "ArrowUp" && at === 0) search.focus();
    else buttons[Math.min(buttons.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)))].focus();
  });
  results.addEventListener("click", (event) => {
    const button = event.target.closest(".pick");
    if (!button) return;
    const participant = participants.find((p) => p.id === Number(button.dataset.id));
    if (!participant) return;
    pick(participant);
    $("add-type").focus();
  });
  $("speaker-unpick").addEventListener("click", () => {
    pick(null);
    search.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError("");
    const channel = (form.querySelector('input[name="channel"]:checked') || {}).value || "room";
    const common = { channel, intervention_type: $("add-type").value, note: $("add-note").value.trim() };
    let payload;
    let who;
    if (picked) {
      payload = { participant_id: picked.id, ...common };
      who = picked.name;
    } else {
      const name = $("walkin-name").value.trim();
      if (!name) {
        formError("Pick a registered participant, or type the name of someone who is not registered.");
        search.focus();
        return;
      }
      payload = { name, organization: $("walkin-org").value.trim(), category: $("walkin-category").value, ...common };
      who = name;
    }
    const submit = form.querySelector('button[type="submit"]');
    try {
      await act("queue.add_speaker", payload, submit, "add");
      notify(`${who} is on the list.`, { kind: "info" });
      resetAddForm();
      search.focus();
    } catch (_error) {
      // shown by live.js (or above for network errors); the form keeps what was typed
    }
  });
}

// -- settings --------------------------------------------------------------------------------------
function renderSettings() {
  const form = $("queue-settings");
  if (!form || isEditing(form)) return; // never overwrite what the moderator is typing
  const listNode = $("policy-list");
  const chosen = queue.policies || [];
  const available = staff.available_policies || [];
  const ordered = [...chosen.map((name) => available.find((p) => p.name === name)).filter(Boolean),
    ...available.filter((p) => !chosen.includes(p.name))];
  syncList(listNode, ordered, (p) => p.name,
    () => el("li", { class: "policy" },
      el("label", { class: "radio" }, el("input", { type: "checkbox" }), " ", el("span", { class: "policy-label" })),
      el("span", { class: "policy-move" },
        el("button", { type: "button", class: "button small", "data-move": "-1" }, "↑"),
        el("button", { type: "button", class: "button small", "data-move": "1" }, "↓")),
      el("span", { class: "hint policy-description" })),
    (node, p) => {
      const box = node.querySelector("input");
      box.value = p.name;
      box.checked = chosen.includes(p.name);
      setText(node.querySelector(".policy-label"), p.label);
      setText(node.querySelector(".policy-description"), p.description || "");
      const [up, down] = node.querySelectorAll("[data-move]");
      setAttr(up, "aria-label", `Move ${p.label} up`);
      setAttr(down, "aria-label", `Move ${p.label} down`);
    });
  $("set-speaking").value = String(queue.speaking_seconds);
  $("set-warning").value = String(queue.warning_seconds);
  for (const input of form.querySelectorAll("[data-type-time]")) {
    const value = (queue.speaking_seconds_by_type || {})[input.dataset.typeTime];
    input.value = String(value != null ? value : queue.speaking_seconds);
  }
  $("set-poo").checked = Boolean(queue.points_of_order_when_closed);
}

function bindSettings() {
  const form = $("queue-settings");
  trackDirty(form);
  const status = $("settings-status");
  $("policy-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-move]");
    if (!button) return;
    const item = button.closest(".policy");
    const delta = Number(button.dataset.move);
    const sibling = delta < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (!sibling) return;
    if (delta < 0) sibling.before(item);
    else sibling.after(item);
    item.querySelector("input").dataset.dirty = "";
    button.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("settings-error");
    show(error, false);
    const number = (id) => Number($(id).value);
    const byType = {};
    for (const input of form.querySelectorAll("[data-type-time]")) byType[input.dataset.typeTime] = Number(input.value);
    const payload = {
      policies: [...form.querySelectorAll("#policy-list input:checked")].map((box) => box.value),
      speaking_seconds: number("set-speaking"),
      warning_seconds: number("set-warning"),
      speaking_seconds_by_type: byType,
      points_of_order_when_closed: $("set-poo").checked,
    };
    const bad = [payload.speaking_seconds, ...Object.values(byType)].some((s) => !Number.isInteger(s) || s < 15 || s > 3600)
      || !Number.isInteger(payload.warning_seconds) || payload.warning_seconds < 0 || payload.warning_seconds > 600;
    if (bad) {
      setText(error, "Speaking times are whole seconds from 15 to 3600; the warning from 0 to 600.");
      show(error, true);
      return;
    }
    setText(status, "Saving…");
    try {
      await act("queue.configure", payload, form.querySelector('button[type="submit"]'), "configure");
      clearDirty(form);
      setText(status, "Saved.");
      renderSettings();
    } catch (_error) {
      setText(status, "");
    }
  });
}

// -- wiring ------------------------------------------------------------------------------------------
export function renderQueueConsole(sections, changed) {
  if (changed.includes("participants") && sections.participants) participants = sections.participants;
  if (changed.includes("queue_staff") && sections.queue_staff) staff = sections.queue_staff;
  if (!changed.includes("queue") && !changed.includes("queue_staff")) {
    if (changed.includes("participants")) renderMatches();
    if (changed.includes("agenda")) setText($("floor-item"), floorItem(sections));
    return;
  }
  queue = sections.queue;
  renderSpeaker();
  renderNext();
  renderToolbar();
  renderQueue();
  renderSettings();
  renderMatches();
  setText($("floor-item"), floorItem(sections));
}

function floorItem(sections) {
  const agenda = sections.agenda || {};
  const item = (agenda.items || []).find((i) => i.id === (sections.queue || {}).item_id);
  return item ? item.title : "No agenda item is running";
}

export function initQueueConsole() {
  for (const [action, id] of Object.entries(ACTION_BUTTONS)) {
    const button = $(id);
    if (button) {
      button.addEventListener("click", () => {
        // Disabled for the state shown; with presses waiting, the state it
        // will apply to is not shown yet: queue it like a shortcut.
        if (button.getAttribute("aria-disabled") === "true" && !waitingPresses()) {
          const why = plan(action).why;
          if (why) notify(why, { kind: "info" });
          return;
        }
        trigger(action);
      });
    }
  }
  list.addEventListener("click", onListClick);
  list.addEventListener("keydown", onListKey);
  bindDrag();
  bindAddForm();
  bindSettings();
  setInterval(tick, 250);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
}
