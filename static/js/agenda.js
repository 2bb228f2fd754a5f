/**
 * The agenda and the current item as the role pages show them. Builds the
 * same markup as templates/_macros.html (agenda_row, current_item), so the
 * server's first paint and the live updates look the same; change both
 * together.
 */
import { setCountdown, formatClock, minutesText } from "./timer.js";
import { el, setAttr, setText, syncList } from "./util.js";

export const STATUS_LABELS = { pending: "Upcoming", running: "Running", paused: "Paused", done: "Done" };
export const CHANNEL_LABELS = { room: "In the room", online: "Online" };

export function currentOf(agenda) {
  if (!agenda || agenda.current_item_id == null) return null;
  return (agenda.items || []).find((item) => item.id === agenda.current_item_id) || null;
}

/** An item's type, unless its title begins with it (the rule of the templates' type_line). */
export function typeLine(item) {
  const type = String(item.type_label || "");
  const words = type.trim().toLowerCase();
  return words && !String(item.title || "").trim().toLowerCase().startsWith(words) ? type : "";
}

/** Pending items after the current one (all pending ones when none runs). */
export function upcomingOf(agenda) {
  const current = currentOf(agenda);
  const after = current ? current.position : -1;
  return (agenda.items || []).filter((item) => item.status === "pending" && item.position > after);
}

export function actualText(item, timeZone) {
  if (item.status === "done" && item.started_at) {
    return `${formatClock(item.started_at, timeZone)}–${formatClock(item.ended_at, timeZone)} · ${minutesText(item.elapsed_seconds)}`;
  }
  if (item.started_at) return `Started ${formatClock(item.started_at, timeZone)}`;
  return "";
}

function createRow(controls) {
  return () => {
    const row = el("li", { class: "agenda-item" },
      el("span", { class: "agenda-start" }),
      el("span", { class: "agenda-body" },
        el("span", { class: "agenda-title" }),
        el("span", { class: "agenda-meta" }, el("span", { class: "agenda-type" }), " ",
          el("span", { class: "agenda-planned" })),
        el("span", { class: "agenda-actual" })),
      el("span", { class: "badge agenda-status" }));
    if (controls) row.append(el("button", { type: "button", class: "button small start-item" }, "Start"));
    return row;
  };
}

function updateRow(agenda, timeZone) {
  return (row, item) => {
    row.dataset.status = item.status;
    setAttr(row, "aria-current", item.id === agenda.current_item_id ? "step" : null);
    setText(row.querySelector(".agenda-start"), formatClock(item.planned_start, timeZone));
    setText(row.querySelector(".agenda-title"), item.title);
    setText(row.querySelector(".agenda-type"), typeLine(item));
    setText(row.querySelector(".agenda-planned"), `${minutesText(item.planned_seconds)} planned`);
    setText(row.querySelector(".agenda-actual"), actualText(item, timeZone));
    const badge = row.querySelector(".agenda-status");
    badge.dataset.status = item.status;
    setText(badge, STATUS_LABELS[item.status] || item.status);
    const button = row.querySelector(".start-item");
    if (button) {
      const verb = item.status === "done" ? "Reopen" : "Start";
      button.dataset.itemId = String(item.id);
      setText(button, verb);
      setAttr(button, "aria-label", `${verb}: ${item.title}`);
      // aria-disabled, not disabled: a disabled button drops the keyboard focus.
      setAttr(button, "aria-disabled", item.id === agenda.current_item_id ? "true" : null);
    }
  };
}

/** Redraw #agenda-list (and #agenda-empty) from `agenda`. */
export function renderAgenda(agenda, timeZone, { controls = false } = {}) {
  const list = document.getElementById("agenda-list");
  if (!list) return;
  const items = agenda.items || [];
  syncList(list, items, (item) => item.id, createRow(controls), updateRow(agenda, timeZone));
  const empty = document.getElementById("agenda-empty");
  if (empty) empty.hidden = items.length > 0;
}

/** Redraw the #current block (type, title, timer, note, when). */
export function renderCurrent(agenda, timeZone) {
  const current = currentOf(agenda);
  const upcoming = upcomingOf(agenda);
  const items = agenda.items || [];
  const box = document.getElementById("current");
  if (box) setAttr(box, "data-empty", current ? null : true);
  setText(document.getElementById("current-type"), current ? typeLine(current) : (upcoming.length ? "Up next" : ""));
  let title = "No agenda yet.";
  if (current) title = current.title;
  else if (upcoming.length) title = upcoming[0].title;
  else if (items.length) title = "The agenda is complete.";
  setText(document.getElementById("current-title"), title);
  const timer = document.getElementById("current-timer");
  if (timer) {
    timer.hidden = !current;
    setCountdown(timer.querySelector("[data-countdown]"), current);
  }
  if (!current) setText(document.getElementById("current-note"), "");
  let when = "";
  if (current) {
    when = `${minutesText(current.planned_seconds)} planned`;
    if (current.started_at) when += ` · started ${formatClock(current.started_at, timeZone)}`;
  } else if (upcoming.length && upcoming[0].planned_start) {
    when = `Planned start ${formatClock(upcoming[0].planned_start, timeZone)}`;
  }
  setText(document.getElementById("current-when"), when);
}

export function timeZoneOf(state) {
  const dialogue = state.sections && state.sections.dialogue;
  return (dialogue && dialogue.timezone) || document.body.dataset.timezone || undefined;
}

let titleShown = null; // the dialogue's title as the tab's title has it

/** The dialogue's title in the header (and wherever #dialogue-title is).
 * In the tab's title only the dialogue's part is replaced when it is
 * renamed: the rest belongs to the page ("Console – ") and to the modules
 * that flag something there (a count of new inputs, "You are next"). */
export function renderDialogueTitle(dialogue) {
  if (!dialogue) return;
  setText(document.getElementById("dialogue-title"), dialogue.title);
  const old = titleShown === null ? dialogue.title : titleShown;
  if (old !== dialogue.title && document.title.includes(old)) {
    document.title = document.title.replace(old, dialogue.title);
  }
  titleShown = dialogue.title;
}
