/** The room's projector and the stream overlay: the current item and its
 *  countdown, the current speaker with theirs, the next three speakers,
 *  the pinned input, the next item, and a QR code to join with the join
 *  code under it. No controls.
 *
 *  Read from the back of the room: the speaker's name and countdown are
 *  the largest things on the screen; one countdown shows at a time (the
 *  item's, or the speaker's while someone has the floor), each labelled. */
import { dialogueId, serverNow, subscribe } from "./live.js";
import { currentOf, typeLine, upcomingOf, timeZoneOf } from "./agenda.js";
import { qrSvg } from "./qr.js";
import { followJoining } from "./joining.js";
import { speakerAnnouncer } from "./announce.js";
import {
  CHANNEL_LABELS, INTERVENTION_LABELS, setSpeakerCountdown, speakerPhase, speakerRemaining, startSpeakerTimers,
} from "./speaker.js";
import { formatClock, setCountdown, startTimers } from "./timer.js";
import { el, setText, syncList } from "./util.js";

const byId = (id) => document.getElementById(id);
let qrFor = null;
const qrBox = byId("display-qr");
// The join code and the QR code's link: rendered by the server, asked for again when a new code is issued.
let joining = {
  enabled: qrBox.dataset.enabled === "true", generation: Number(qrBox.dataset.generation) || 0,
  path: qrBox.dataset.joinPath || null, code: byId("display-join-code").textContent || null,
};
let queueNow = null; // the queue section last received
const announceSpeaker = speakerAnnouncer(byId("speaker-announce"));

/** Said once each: who gets the floor, the warning, the end of the time. */
function announceTick(nowMs) {
  if (!queueNow) return;
  const speaker = queueNow.current;
  if (!speaker) {
    announceSpeaker(null, null, 0);
    return;
  }
  const running = speaker.run_started_at != null && speaker.ends_at != null;
  const remaining = speakerRemaining(speaker, nowMs);
  announceSpeaker(speaker, speakerPhase(remaining, queueNow.warning_seconds || 0, running), remaining);
}

startTimers(serverNow);
startSpeakerTimers(serverNow, announceTick);

function renderItem(state) {
  const { agenda, dialogue } = state.sections;
  const timeZone = timeZoneOf(state);
  const current = currentOf(agenda);
  const upcoming = upcomingOf(agenda);
  const items = agenda.items || [];
  setText(byId("dialogue-title"), dialogue.title);
  document.title = `${dialogue.title} – Display`;
  const type = byId("current-type");
  // "Panel discussion" above "Panel discussion: identifying victims" says nothing twice: the type
  // shows only when the title does not begin with it.
  const line = current ? typeLine(current) : (upcoming.length ? "Up next" : "");
  setText(type, line);
  type.hidden = !line;
  let title = dialogue.title;
  if (current) title = current.title;
  else if (upcoming.length) title = upcoming[0].title;
  else if (items.length) title = "Thank you";
  setText(byId("current-title"), title);
  const timer = byId("current-timer");
  timer.dataset.item = current ? "yes" : "no";
  timer.hidden = !current || byId("display-body").dataset.speaker === "yes";
  setCountdown(timer.querySelector("[data-countdown]"), current);
  if (!current) setText(byId("current-note"), "");
  const when = !current && upcoming.length && upcoming[0].planned_start
    ? `Starts at ${formatClock(upcoming[0].planned_start, timeZone)}` : "";
  setText(byId("current-when"), when);
  const next = byId("display-next");
  next.hidden = !(current && upcoming.length);
  setText(byId("next-title"), current && upcoming.length ? upcoming[0].title : "");
}

function renderSpeaker(queue) {
  const speaker = queue ? queue.current : null;
  byId("display-body").dataset.speaker = speaker ? "yes" : "no";
  // One countdown at a time: while someone has the floor, theirs.
  const timer = byId("current-timer");
  timer.hidden = Boolean(speaker) || timer.dataset.item !== "yes";
  const box = byId("display-speaker");
  box.hidden = !speaker;
  setSpeakerCountdown(byId("speaker-countdown"), speaker, queue ? queue.warning_seconds : 0);
  if (!speaker) return;
  setText(byId("speaker-name"), speaker.name);
  setText(byId("speaker-org"), speaker.organization || "");
  const channel = byId("speaker-channel");
  channel.dataset.channel = speaker.channel;
  setText(channel, CHANNEL_LABELS[speaker.channel] || speaker.channel);
  const type = byId("speaker-type");
  type.dataset.type = speaker.type;
  type.hidden = speaker.type === "statement"; // what most say: only the other kinds are named
  setText(type, speaker.type_label || INTERVENTION_LABELS[speaker.type] || speaker.type);
}

// -- the speaker's box: whole lines, nothing under the countdown --------------------------------------
// On a projector (the grid of participant.css, 48rem and wider) the countdown is sized from the box,
// and the box from what else is on the screen (a pinned input, a two-line title, 720 lines): the
// name and the organization beside the countdown may then not fit. Step the countdown down (data-fit,
// and the name, never under a seventh and an eighteenth of the screen's height) until the tags above
// it are clear of it and the organization shows whole (or as much of it as any step shows); then
// show as many whole lines of it as fit (data-lines), never half a line cut by the box's edge.
const PROJECTOR = window.matchMedia("(min-width: 48rem)");
const MAX_FIT = 3;

const rectOf = (node) => node.getBoundingClientRect();
const overlap = (a, b) => a.right > b.left + 1 && b.right > a.left + 1 && a.bottom > b.top + 1 && b.bottom > a.top + 1;

/** The foot of the box's content (inside its padding and border). */
function footOf(box) {
  const style = getComputedStyle(box);
  return rectOf(box).bottom - parseFloat(style.paddingBottom) - parseFloat(style.borderBottomWidth);
}

/** The height of one line of ``node``'s text. */
function lineOf(node) {
  const style = getComputedStyle(node);
  return parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.25;
}

/** Whole lines of the organization between its top and the foot of the box. */
function orgRoom(box, org) {
  return Math.floor((footOf(box) - rectOf(org).top + 0.5) / lineOf(org));
}

/** At the box's current size: {clear: the tags and the foot of the box clear of the countdown,
 *  room: whole lines for the organization, needed: the lines its text takes (up to three)}. */
function measureSpeaker(box, org) {
  const countdown = rectOf(byId("speaker-countdown"));
  const tags = ["speaker-label", "speaker-channel", "speaker-type"].map(byId).filter((node) => !node.hidden);
  const foot = footOf(box) + 1;
  const clear = !tags.some((node) => overlap(rectOf(node), countdown))
    && countdown.bottom <= foot && rectOf(byId("speaker-timer-label")).bottom <= foot;
  if (!org.textContent) return { clear, room: 3, needed: 0 };
  return { clear, room: orgRoom(box, org), needed: Math.min(3, Math.round(rectOf(org).height / lineOf(org))) };
}

function fitSpeaker() {
  const box = byId("display-speaker");
  const org = byId("speaker-org");
  delete box.dataset.fit;
  delete org.dataset.lines;
  if (box.hidden || !PROJECTOR.matches) return;
  // The first step at which everything is clear and the organization is whole; else the clear step
  // that shows most of it; else the last step.
  let best = null;
  for (let fit = 0; fit <= MAX_FIT; fit += 1) {
    if (fit) box.dataset.fit = String(fit);
    const { clear, room, needed } = measureSpeaker(box, org);
    const shown = Math.min(room, needed);
    if (clear && (!best || shown > best.shown)) best = { fit, shown };
    if (clear && room >= needed) break;
  }
  const fit = best ? best.fit : MAX_FIT;
  if (fit) box.dataset.fit = String(fit);
  else delete box.dataset.fit;
  // As many whole lines as fit, up to three; none rather than half a line (the name comes first).
  const lines = Math.min(3, Math.max(0, orgRoom(box, org)));
  if (lines < 3) org.dataset.lines = String(lines);
}

window.addEventListener("resize", fitSpeaker);
PROJECTOR.addEventListener("change", fitSpeaker);
if (document.fonts) document.fonts.ready.then(fitSpeaker);
// "+0:04" over time, or "12:00" for a long speech, is sized differently.
new MutationObserver(fitSpeaker).observe(byId("speaker-countdown"), { attributeFilter: ["data-phase", "data-long"] });

function createEntry() {
  return el("li", {}, el("span", { class: "display-queue-pos" }), el("span", { class: "display-queue-name", dir: "auto" }),
    el("span", { class: "display-queue-sub" }, el("span", { class: "display-queue-meta", dir: "auto" }),
      el("span", { class: "display-queue-how" })));
}

/** The list of speakers is shown for items whose type shows speakers, or
 *  whenever someone is on it (a briefing has no list unless the chair
 *  gives the floor). */
function queueShown(queue, agenda) {
  if (!queue || queue.item_id == null) return false;
  if (queue.current || (queue.waiting || []).length) return true;
  const current = currentOf(agenda);
  return Boolean(current && (current.shows || []).includes("speakers"));
}

let waitingCount = 0;

/** "+ N more waiting": those after the three shown, and those that did not
 *  fit the screen (the list wraps them into a column out of sight). */
function countMore() {
  const entries = [...byId("display-queue-list").children];
  const left = entries.length ? entries[0].offsetLeft : 0;
  const shown = entries.filter((li) => li.offsetLeft === left).length;
  const more = byId("display-queue-more");
  const hidden = waitingCount - shown;
  more.hidden = hidden <= 0;
  setText(more, hidden > 0 ? `+ ${hidden} more waiting` : "");
}
window.addEventListener("resize", countMore);

function renderQueue(queue, agenda) {
  const section = byId("display-queue");
  const active = queueShown(queue, agenda);
  section.hidden = !active;
  byId("display-side").dataset.queue = active ? "yes" : "no";
  const waiting = active ? queue.waiting || [] : [];
  syncList(byId("display-queue-list"), waiting.slice(0, 3), (entry) => entry.id, createEntry, (li, entry) => {
    setText(li.querySelector(".display-queue-pos"), String(entry.position));
    setText(li.querySelector(".display-queue-name"), entry.name);
    setText(li.querySelector(".display-queue-meta"), entry.organization || "");
    const how = [CHANNEL_LABELS[entry.channel], entry.type_label || INTERVENTION_LABELS[entry.type]];
    setText(li.querySelector(".display-queue-how"), how.filter(Boolean).join(" · "));
  });
  waitingCount = waiting.length;
  byId("display-queue-empty").hidden = waiting.length > 0;
  byId("display-queue-closed").hidden = !(active && queue.closed);
}

function renderQr(dialogue) {
  const box = qrBox;
  const enabled = Boolean(dialogue && dialogue.join_enabled && joining.enabled && joining.path);
  box.hidden = !enabled;
  if (!enabled) return;
  const url = new URL(joining.path, window.location.origin).href;
  const typed = new URL(box.dataset.typedPath, window.location.origin).href;
  setText(byId("display-qr-url"), `or open ${typed.replace(/^https?:\/\//, "")}`);
  showCode(joining.code);
  if (qrFor === url) return;
  const holder = byId("display-qr-code");
  try {
    holder.replaceChildren(qrSvg(url, { label: "QR code to join this dialogue" }));
    holder.dataset.url = url;
    qrFor = url;
  } catch (_error) {
    holder.replaceChildren();
  }
}

/** The code in two groups of four, for those who type it (none for a code the secretariat chose). */
function showCode(code) {
  const line = byId("display-join-code-line");
  line.hidden = !code;
  const holder = byId("display-join-code");
  if ((holder.textContent || null) === (code || null)) return;
  holder.replaceChildren(...(code ? [el("span", {}, code.slice(0, 4)), el("span", {}, code.slice(4))] : []));
}

function renderPinned(pinned) {
  const box = byId("display-pinned");
  box.hidden = !pinned;
  if (!pinned) return;
  setText(byId("pinned-label"), pinned.kind_label || "Input");
  setText(byId("pinned-text"), pinned.text);
  setText(byId("pinned-by"), pinned.organization ? `${pinned.author}, ${pinned.organization}` : pinned.author);
}

followJoining(subscribe, dialogueId, joining, (fresh) => {
  joining = fresh;
  renderQr(fresh.enabled ? { join_enabled: true } : null);
});

subscribe((state, changed) => {
  const { queue, dialogue, pinned } = state.sections;
  queueNow = queue;
  if (changed.includes("agenda") || changed.includes("dialogue")) renderItem(state);
  if (changed.includes("queue")) renderSpeaker(queue);
  if (changed.includes("queue") || changed.includes("agenda")) renderQueue(queue, state.sections.agenda);
  if (changed.includes("dialogue")) renderQr(dialogue);
  if (changed.includes("pinned")) renderPinned(pinned);
  const showSide = queueShown(queue, state.sections.agenda) || Boolean(dialogue && dialogue.join_enabled);
  byId("display-side").hidden = !showSide;
  byId("display-body").dataset.side = showSide ? "queue" : "none";
  countMore(); // once laid out: what fits depends on the pinned input, the speaker, ...
  fitSpeaker();
});
