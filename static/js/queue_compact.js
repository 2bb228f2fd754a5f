/**
 * The waiting list's compact mode: one line per speaker (position, name,
 * organization, type, channel) and one tab stop for the whole list, so that
 * with twenty people waiting the agenda controls stay a few Tab presses
 * away. OpenSlides' list of speakers works the same way.
 *
 * - "Compact list" (#queue-compact) switches it; the choice is remembered by
 *   the browser (localStorage), for every console.
 * - Each row has one "⋯" button (.q-menu, made by queue_console.js and
 *   templates/moderator.html). Only one of them is in the tab order (a
 *   roving tabindex): ↑/↓, Home and End go from speaker to speaker, Enter
 *   opens that speaker's actions (the row's usual buttons, shown as a small
 *   menu), Escape closes them. Alt+↑/↓ still moves the speaker
 *   (queue_console.js).
 * - The actions themselves are the row's own buttons: what they do is
 *   queue_console.js's business, not this module's.
 */
import { setAttr } from "./util.js";

const KEY = "moderation.console.compactQueue";
const panel = document.getElementById("queue-panel");
const list = document.getElementById("queue-list");
const toggle = document.getElementById("queue-compact");

function remembered() {
  try {
    return window.localStorage.getItem(KEY) === "1";
  } catch (_error) {
    return false; // storage refused (private mode): the full list
  }
}

function remember(on) {
  try {
    window.localStorage.setItem(KEY, on ? "1" : "0");
  } catch (_error) {
    // not remembered; the list is still switched
  }
}

export function isCompact() {
  return Boolean(panel && panel.hasAttribute("data-compact"));
}

function menus() {
  return list ? [...list.querySelectorAll(".q-menu")] : [];
}

function closeMenu(row, focusButton = false) {
  if (!row || !row.hasAttribute("data-menu-open")) return;
  row.removeAttribute("data-menu-open");
  const button = row.querySelector(".q-menu");
  setAttr(button, "aria-expanded", "false");
  if (focusButton && button) button.focus();
}

function closeAll(except = null) {
  if (!list) return;
  for (const row of list.querySelectorAll(".q-entry[data-menu-open]")) if (row !== except) closeMenu(row);
}

function openMenu(row) {
  closeAll(row);
  row.setAttribute("data-menu-open", "");
  setAttr(row.querySelector(".q-menu"), "aria-expanded", "true");
  const first = [...row.querySelectorAll(".q-actions button")].find((b) => b.getAttribute("aria-disabled") !== "true");
  if (first) first.focus();
}

/** Exactly one "⋯" button in the tab order: the one focused last, else the
 *  first row's. Called after every redraw of the list. */
export function syncCompactRows() {
  const all = menus();
  if (!all.length) return;
  const current = all.find((b) => b === document.activeElement)
    || all.find((b) => b.getAttribute("tabindex") === "0") || all[0];
  for (const button of all) setAttr(button, "tabindex", button === current ? "0" : "-1");
}

function focusMenu(button) {
  for (const other of menus()) setAttr(other, "tabindex", other === button ? "0" : "-1");
  button.focus();
}

export function setCompact(on) {
  if (!panel) return;
  setAttr(panel, "data-compact", on ? "" : null);
  setAttr(toggle, "aria-pressed", on ? "true" : "false");
  closeAll();
  syncCompactRows();
}

function onKey(event) {
  if (!isCompact() || event.ctrlKey || event.metaKey || event.altKey) return;
  const row = event.target.closest && event.target.closest(".q-entry");
  if (!row) return;
  if (event.key === "Escape" && row.hasAttribute("data-menu-open")) {
    event.preventDefault();
    closeMenu(row, true);
    return;
  }
  if (!event.target.classList.contains("q-menu")) return;
  const all = menus();
  const at = all.indexOf(event.target);
  let next = null;
  if (event.key === "ArrowDown") next = all[Math.min(all.length - 1, at + 1)];
  else if (event.key === "ArrowUp") next = all[Math.max(0, at - 1)];
  else if (event.key === "Home") next = all[0];
  else if (event.key === "End") next = all[all.length - 1];
  if (!next) return;
  event.preventDefault();
  closeMenu(row);
  focusMenu(next);
}

function onClick(event) {
  const button = event.target.closest && event.target.closest("button[data-act]");
  if (!button || !list.contains(button)) return;
  const row = button.closest(".q-entry");
  if (button.dataset.act === "menu") {
    focusMenu(button);
    if (row.hasAttribute("data-menu-open")) closeMenu(row);
    else openMenu(row);
    return;
  }
  if (!isCompact() || !row.hasAttribute("data-menu-open")) return;
  // Done with this speaker: back to the row (a first "Remove" asks to confirm, ↑/↓ may be pressed again).
  const act = button.dataset.act;
  if (act === "call" || act === "top" || (act === "remove" && !button.hasAttribute("data-confirm"))) {
    closeMenu(row, true);
  }
}

function onFocusOut(event) {
  const row = event.target.closest && event.target.closest(".q-entry[data-menu-open]");
  if (row && !(event.relatedTarget && row.contains(event.relatedTarget))) closeMenu(row);
}

export function initQueueCompact() {
  if (!panel || !list || !toggle) return;
  setCompact(remembered());
  toggle.addEventListener("click", () => {
    const on = !isCompact();
    setCompact(on);
    remember(on);
  });
  list.addEventListener("keydown", onKey);
  list.addEventListener("click", onClick);
  list.addEventListener("focusout", onFocusOut);
}
