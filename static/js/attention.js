/**
 * What on the console's inputs panel needs the moderator's attention, and
 * which inputs arrived since they last looked.
 *
 * - Needs attention: with approval before publication, every input waiting
 *   for approval; with publication at once, every input that arrived since
 *   the moderator last looked (they may want to pin, hide or answer it).
 * - "Last looked" is per browser and dialogue (localStorage): an input
 *   counts as seen once its card has been on screen, in a visible tab, for
 *   SEEN_AFTER_MS. The first time a console is opened in a browser, what was
 *   already there when the page opened counts as seen (by the inputs'
 *   created_at on the server's clock: an input that arrives while the lists
 *   are still being read is news, even if the first read already holds it).
 * - Unseen cards carry data-unseen and a "New" badge (words, not colour
 *   alone); the count is on the "Inputs" link of the console's navigation,
 *   on a pill fixed at the bottom of the window (a link to the panel) and in
 *   the tab's title: "(3) Console – <dialogue> – Dialogue moderation".
 *
 * inputs_staff.js owns the lists and calls this module; nothing here
 * changes the server's state.
 */
import { clockOffsetMs } from "./live.js";
import { el, setAttr, setText } from "./util.js";

export const SEEN_AFTER_MS = 1200;
const RELEVANT = new Set(["pending", "published"]);
const KEEP_SEEN = 500; // ids above the mark remembered at most

let storageKey = null;
let mark = null; // every input id <= mark has been seen (null: never opened here)
let seen = new Set(); // ids above the mark that were seen
let inputs = new Map(); // id -> input, as inputs_staff.js knows them
let summary = { mode: "post", pending: 0, title: "" };
const cards = new Map(); // card shown unseen -> its input's id (an input can be in two lists)
const timers = new Map(); // card -> timeout while it is on screen
let observer = null;
let openedAt = Date.now(); // this page's opening, on this browser's clock

function load(dialogueId) {
  storageKey = `moderation.console.seen.${dialogueId}`;
  try {
    const stored = JSON.parse(window.localStorage.getItem(storageKey) || "null");
    if (stored && Number.isFinite(stored.mark)) {
      mark = stored.mark;
      seen = new Set((stored.seen || []).filter(Number.isFinite));
    }
  } catch (_error) {
    // unreadable or refused: as if never opened
  }
}

function save() {
  if (!storageKey || mark == null) return;
  try {
    window.localStorage.setItem(storageKey, JSON.stringify({ mark, seen: [...seen].slice(-KEEP_SEEN) }));
  } catch (_error) {
    // not remembered: the marks last as long as the page
  }
}

export function isUnseen(input) {
  return mark != null && input.id > mark && !seen.has(input.id) && RELEVANT.has(input.status);
}

function unseenIds() {
  return [...inputs.values()].filter(isUnseen).map((i) => i.id);
}

/** Raise the mark over every id below the oldest unseen one (keeps the stored set small). */
function compact() {
  const open = unseenIds();
  const known = [...inputs.keys()];
  if (!known.length) return;
  const upTo = open.length ? Math.min(...open) - 1 : Math.max(...known);
  if (upTo > mark) {
    mark = upTo;
    seen = new Set([...seen].filter((id) => id > mark));
  }
}

/** The inputs the console knows now; `loaded` once the lists were read. */
export function noteInputs(known, loaded) {
  inputs = known;
  if (mark == null && loaded) {
    // First console in this browser: what was there when it opened is not news.
    const opened = openedAt + clockOffsetMs(); // on the server's clock, known by now
    const before = [...known.values()].filter((input) => input.created_at <= opened).map((input) => input.id);
    mark = before.length ? Math.max(...before) : 0;
    save();
  }
}

function forget(card) {
  if (observer) observer.unobserve(card);
  clearTimeout(timers.get(card));
  timers.delete(card);
  cards.delete(card);
}

function markSeen(id) {
  seen.add(id);
  for (const [card, cardId] of [...cards]) {
    if (cardId !== id) continue;
    forget(card);
    setCardState(card, false);
  }
  compact();
  save();
  renderAttention(summary);
}

function onScreen(entries) {
  for (const entry of entries) {
    const card = entry.target;
    if (entry.isIntersecting && document.visibilityState === "visible") {
      if (!timers.has(card)) timers.set(card, setTimeout(() => markSeen(cards.get(card)), SEEN_AFTER_MS));
    } else if (timers.has(card)) {
      clearTimeout(timers.get(card));
      timers.delete(card);
    }
  }
}

function setCardState(card, unseen) {
  setAttr(card, "data-unseen", unseen ? "" : null);
  let badge = card.querySelector(".input-new");
  if (unseen && !badge) {
    badge = el("span", { class: "badge input-new" }, "New");
    const kind = card.querySelector(".input-kind");
    if (kind) kind.before(badge, " ");
    else card.prepend(badge);
  } else if (!unseen && badge) {
    badge.remove();
  }
}

/** Mark a card (drawn or redrawn by inputs_staff.js) as unseen or not, and
 *  watch the unseen ones until they have been on screen long enough. */
export function markCard(card, input) {
  const unseen = isUnseen(input);
  setCardState(card, unseen);
  if (unseen && !cards.has(card)) {
    cards.set(card, input.id);
    if (observer) observer.observe(card);
  } else if (!unseen && cards.has(card)) {
    forget(card);
  }
}

/** How many things need the moderator now. */
export function attentionCount() {
  const fresh = unseenIds();
  if (summary.mode === "pre") {
    // every pending input, and what arrived published anyway (a change of mode, a filter's verdict)
    return summary.pending + fresh.filter((id) => inputs.get(id).status !== "pending").length;
  }
  return fresh.length + summary.pending; // pending ones left from before a change of mode wait too
}

/** The tab to show when the moderator follows the count: where unseen or waiting inputs are. */
export function tabWithAttention(mode, pending) {
  if (mode === "pre" && pending) return "pending";
  const fresh = unseenIds().map((id) => inputs.get(id));
  if (fresh.some((input) => input.status === "published")) return "published";
  if (pending || fresh.length) return "pending";
  return tabFor(mode);
}

/** Which tab the panel opens on in this mode. */
export function tabFor(mode) {
  return mode === "pre" ? "pending" : "published";
}

/** Draw the count wherever it shows. `title`: the dialogue's. */
export function renderAttention({ mode, pending, title }) {
  summary = { mode: mode || "post", pending: pending || 0, title: title || summary.title };
  for (const card of [...cards.keys()]) if (!card.isConnected) forget(card);
  const count = attentionCount();
  const words = summary.mode === "pre" ? (count === 1 ? "input needs you" : "inputs need you")
    : (count === 1 ? "new input" : "new inputs");
  const pill = document.getElementById("attention-pill");
  if (pill) {
    pill.hidden = count === 0;
    setText(pill.querySelector(".attention-count"), String(count));
    setText(pill.querySelector(".attention-words"), words);
  }
  const nav = document.querySelector(".ws-nav .attention-nav");
  if (nav) {
    nav.hidden = count === 0;
    setText(nav.querySelector(".count"), String(count));
    setText(nav.querySelector(".attention-words"), ` ${words}`);
  }
  const wanted = `${count ? `(${count}) ` : ""}Console – ${summary.title} – Dialogue moderation`;
  if (summary.title && document.title !== wanted) document.title = wanted;
}

export function initAttention(dialogueId) {
  openedAt = Date.now();
  load(dialogueId);
  if ("IntersectionObserver" in window) observer = new IntersectionObserver(onScreen, { threshold: 0.5 });
  document.addEventListener("visibilitychange", () => {
    if (!observer) return;
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
    if (document.visibilityState !== "visible") return;
    // Back in the tab: what is on screen starts counting as seen again.
    for (const card of cards.keys()) {
      observer.unobserve(card);
      observer.observe(card);
    }
  });
}
