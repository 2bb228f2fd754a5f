/**
 * The moderator's console: runs the agenda, gives and takes the floor,
 * keeps time, moderates inputs.
 *
 * This module runs the agenda controls and the keyboard; the speaker queue
 * is queue_console.js, the inputs inputs_staff.js, the statistics table
 * statistics.js. Every control has a keyboard shortcut (listed on the
 * page) and works without the mouse. Controls that do not apply are marked
 * aria-disabled rather than disabled, so that the keyboard focus stays
 * where it was when the state changes under it. Presses faster than the
 * server's answers are queued and sent in order (console_presses.js), never
 * lost. Errors from the server's acknowledgements are shown in #messages
 * (by live.js).
 *
 * Ending the item (N, E, or starting another) while someone has the floor or
 * people wait asks first (confirm_dialog.js); the server's answer then
 * offers an Undo for ten seconds (undo.js). While the server is unreachable
 * presses are held and listed (offline_queue.js).
 */
import { press, waitingPresses } from "./console_presses.js";
import { confirmAction, dialogOpen } from "./confirm_dialog.js";
import { notify, serverNow, state as liveState, subscribe } from "./live.js";
import "./undo.js";
import { CHANNEL_LABELS, currentOf, renderAgenda, renderCurrent, renderDialogueTitle, timeZoneOf, upcomingOf } from "./agenda.js";
import { initInputsStaff, renderInputsStaff } from "./inputs_staff.js";
import { initQueueConsole, renderQueueConsole, toggleAddForm, trigger as queueTrigger } from "./queue_console.js";
import { initQueueCompact } from "./queue_compact.js";
import { renderStatistics } from "./statistics.js";
import "./participation_charts.js"; // draws itself under the statistics table
import { setAgenda, startTimers } from "./timer.js";
import { el, setAttr, setText, syncList } from "./util.js";

startTimers(serverNow);
initQueueConsole();
initQueueCompact(); // after initQueueConsole: its row clicks run first
initInputsStaff();

let agenda = null;

const buttons = {
  next: document.getElementById("action-next"),
  pause: document.getElementById("action-pause"),
  end: document.getElementById("action-end"),
  minus: document.getElementById("action-minus"),
  plus: document.getElementById("action-plus"),
};

/** What each action would send now, or a reason why it does not apply. */
function plan(action) {
  if (!agenda) return { why: "Still connecting; try again in a moment." };
  const current = currentOf(agenda);
  switch (action) {
    case "next":
      if (!current && !upcomingOf(agenda).length) return { why: "There is no further agenda item." };
      return { name: "agenda.advance", payload: current ? { from_item_id: current.id } : {} };
    case "pause":
      if (!current) return { why: "No item is running." };
      return current.status === "paused"
        ? { name: "agenda.resume_item", payload: { item_id: current.id } }
        : { name: "agenda.pause_item", payload: { item_id: current.id } };
    case "end":
      if (!current) return { why: "No item is running." };
      return { name: "agenda.end_item", payload: { item_id: current.id } };
    case "plus":
      if (!current) return { why: "No item is running." };
      return { name: "agenda.adjust_time", payload: { item_id: current.id, seconds: 60 } };
    case "minus":
      if (!current) return { why: "No item is running." };
      if (current.planned_seconds <= 60) return { why: "An item is planned for at least one minute." };
      return { name: "agenda.adjust_time", payload: { item_id: current.id, seconds: -60 } };
    default:
      return { why: "Unknown action." };
  }
}

function renderControls() {
  const current = agenda ? currentOf(agenda) : null;
  for (const [action, button] of Object.entries(buttons)) {
    if (!button) continue;
    setAttr(button, "aria-disabled", plan(action).why ? "true" : null);
  }
  if (buttons.pause) {
    setText(buttons.pause.querySelector(".button-label"), current && current.status === "paused" ? "Resume" : "Pause");
  }
  if (buttons.next) {
    const anyDone = agenda && (agenda.items || []).some((item) => item.status === "done");
    setText(buttons.next.querySelector(".button-label"),
      current ? "Next item" : (anyDone ? "Start next item" : "Start first item"));
  }
}

const LABELS = { next: "Next item (N)", pause: "Pause or resume the item (P)", end: "End the item (E)",
  plus: "+1 min (+)", minus: "−1 min (−)" };

/** Who would lose the floor or their place if the item ended now: a
 *  sentence for the question, or null when nobody would. */
function wouldCost() {
  const queue = liveState.sections && liveState.sections.queue;
  const current = agenda ? currentOf(agenda) : null;
  if (!queue || !current || queue.item_id !== current.id) return null;
  const waiting = (queue.waiting || []).length;
  const parts = [];
  if (queue.current) parts.push(`${queue.current.name} has the floor`);
  if (waiting) parts.push(`${waiting} ${waiting === 1 ? "person waits" : "people wait"} on the list`);
  return parts.length ? parts.join(" and ") : null;
}

/** Ask before ending the item under a speaker or a waiting list (a stray N). */
async function confirmEnding(what) {
  const cost = wouldCost();
  if (!cost) return true;
  return confirmAction({
    title: `${what}?`,
    message: `${cost}. Ending the item ends the speaker's time and puts the list aside. You can still undo for 10 seconds.`,
    confirm: what, cancel: "Keep the item running",
  });
}

const ASK = { next: "End the item and start the next one", end: "End the item" };

/** An agenda action (a button or a shortcut): queued behind the presses
 *  still waiting, planned when its turn comes. */
async function trigger(action) {
  if (ASK[action] && !(await confirmEnding(ASK[action]))) return;
  press(() => plan(action), { button: buttons[action], label: LABELS[action] });
}

for (const [action, button] of Object.entries(buttons)) {
  if (!button) continue;
  button.addEventListener("click", () => {
    const why = plan(action).why;
    // Disabled for the state shown; with presses waiting, queue it anyway.
    if (why && !waitingPresses()) notify(why, { kind: "info" });
    else trigger(action);
  });
}

document.getElementById("agenda-list").addEventListener("click", async (event) => {
  const button = event.target.closest(".start-item");
  if (!button || button.getAttribute("aria-disabled") === "true") return;
  const itemId = Number(button.dataset.itemId);
  if (!(await confirmEnding("End the current item and start this one"))) return;
  press(() => ({ name: "agenda.start_item", payload: { item_id: itemId } }),
    { button, label: button.getAttribute("aria-label") || "Start the item" });
});

const KEYS = { n: "next", p: "pause", e: "end", "+": "plus", "=": "plus", "-": "minus", _: "minus" };
const QUEUE_KEYS = { s: "next", x: "end", t: "pause", a: "plus" };
/** Where Enter belongs to the element (a button, a link, a summary). */
const INTERACTIVE = "button, a[href], summary, [role='tab'], [role='button'], [tabindex]:not([tabindex='-1']):not(main)";

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || event.isComposing || dialogOpen()) return;
  const target = event.target;
  if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  if (event.key === "Enter") {
    // Enter presses the focused button; on its own it gives the floor.
    if (target && target.closest && target.closest(INTERACTIVE)) return;
    event.preventDefault();
    queueTrigger("next");
    return;
  }
  const key = event.key.length === 1 ? event.key.toLowerCase() : "";
  if (key === "l") {
    event.preventDefault();
    toggleAddForm(true);
    return;
  }
  if (QUEUE_KEYS[key]) {
    event.preventDefault();
    queueTrigger(QUEUE_KEYS[key]);
    return;
  }
  const action = KEYS[key];
  if (!action) return;
  event.preventDefault();
  trigger(action);
});

function renderPeople(people) {
  const list = document.getElementById("people-list");
  if (!list) return;
  syncList(list, people, (p) => p.id,
    () => el("li", {}, el("span", { class: "person-name", dir: "auto" }), " ", el("span", { class: "person-org", dir: "auto" }), " ",
      el("span", { class: "badge channel" })),
    (node, p) => {
      setText(node.querySelector(".person-name"), p.name);
      setText(node.querySelector(".person-org"), p.organization || "");
      const badge = node.querySelector(".channel");
      badge.dataset.channel = p.channel;
      setText(badge, CHANNEL_LABELS[p.channel] || p.channel);
    });
  const room = people.filter((p) => p.channel === "room").length;
  setText(document.getElementById("people-count"),
    `${people.length} registered · ${room} in the room · ${people.length - room} online`);
  const empty = document.getElementById("people-empty");
  if (empty) empty.hidden = people.length > 0;
}

subscribe((state, changed) => {
  const sections = state.sections;
  const timeZone = timeZoneOf(state);
  agenda = sections.agenda;
  if (changed.includes("dialogue")) renderDialogueTitle(sections.dialogue);
  if (changed.includes("agenda") || changed.includes("dialogue")) {
    renderCurrent(agenda, timeZone);
    renderAgenda(agenda, timeZone, { controls: true });
    setAgenda(agenda, sections.dialogue);
    renderControls();
  }
  if (changed.includes("participants") && sections.participants) renderPeople(sections.participants);
  renderQueueConsole(sections, changed);
  if (changed.includes("statistics") || changed.includes("queue") || changed.includes("agenda")) {
    renderStatistics(sections.statistics, sections.queue ? sections.queue.item_id : agenda.current_item_id);
  }
  renderInputsStaff(state, changed);
});
