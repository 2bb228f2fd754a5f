/**
 * The participant's side of the speaker queue: ask for the floor, see one's
 * place and the estimated wait, withdraw, and — unmistakably — "You have
 * the floor" with the speaker's countdown.
 *
 * The queue section is the same for everyone; one's own entry is the one
 * whose participant_id is sections.me.participant.id. The request and the
 * withdrawal go through live.js's outbox (sent again after a reconnect,
 * never twice). State changes are announced in aria-live regions: the floor
 * and the end of one's time assertively, the place on the list politely.
 */
import { onConnection, onSettle, pending, send, serverNow, sessionEnded, subscribe } from "./live.js";
import {
  CHANNEL_LABELS, INTERVENTION_LABELS, durationWords, setSpeakerCountdown, speakerPhase, speakerRemaining,
  startSpeakerTimers, waitWords,
} from "./speaker.js";
import { el, setText } from "./util.js";
import { explain } from "./messages.js";
import { signalFloor } from "./turn_notice.js";

const panel = document.getElementById("floor");
const form = document.getElementById("floor-form");
const note = document.getElementById("floor-note");
const noteCount = document.getElementById("floor-note-count");
const submit = document.getElementById("floor-submit");
const feedback = document.getElementById("floor-feedback");
const withdrawButton = document.getElementById("floor-withdraw");
const confirmBox = document.getElementById("floor-withdraw-confirm");
const assertive = document.getElementById("floor-announce");
const polite = document.getElementById("floor-live");
const banner = document.getElementById("floor-banner");

let view = { state: panel ? panel.dataset.state : "none", position: null, entryId: null, phase: null };
let latest = null; // the last state from live.js
let panelInView = true; // the banner repeats the floor panel only when that is scrolled away
let requestKey = null; // the request on its way (idempotency key)
let acceptedAt = 0; // when the server accepted our request; its queue change may come just after

function say(region, text) {
  if (!region || !text) return;
  // Clear first: the same words twice must be read twice.
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 60);
}

function showFeedback(text, kind = "info") {
  if (!feedback) return;
  feedback.dataset.kind = kind;
  feedback.setAttribute("role", kind === "error" ? "alert" : "status");
  setText(feedback, text || "");
  feedback.hidden = !text;
  // What a tap did stays in view (a phone's screen is short).
  if (text && !isTyping() && feedback.offsetParent) feedback.scrollIntoView({ block: "nearest" });
}

function myId(state) {
  const me = state.sections.me;
  return me && me.participant ? me.participant.id : null;
}

/** What the floor panel shows now. */
export function floorState(queue, participantId, requestPending, ended = false) {
  if (ended) return { state: "ended" };
  if (!queue || queue.item_id == null) return { state: "none" };
  if (participantId != null && queue.current && queue.current.participant_id === participantId) {
    return { state: "speaking", entry: queue.current };
  }
  const mine = participantId == null ? null
    : (queue.waiting || []).find((entry) => entry.participant_id === participantId);
  if (mine) return { state: "waiting", entry: mine };
  if (requestPending) return { state: "sending" };
  if (queue.closed) return { state: queue.points_of_order_when_closed ? "closed-po" : "closed" };
  return { state: "open" };
}

function requestInOutbox() {
  return pending().some((entry) => entry.name === "queue.request_floor") || Date.now() - acceptedAt < 3000;
}

/** "1 person ahead of you" while on the list, "2 people are waiting" otherwise. */
export function countWords(queue, mine) {
  if (!queue || queue.item_id == null) return "";
  if (mine) {
    const ahead = mine.position - 1;
    return ahead === 0 ? "No one ahead of you." : ahead === 1 ? "1 person ahead of you." : `${ahead} people ahead of you.`;
  }
  const count = (queue.waiting || []).length;
  return count === 0 ? "No one is waiting." : count === 1 ? "1 person is waiting." : `${count} people are waiting.`;
}

function renderNow(queue, participantId, mine) {
  const box = document.getElementById("floor-now");
  if (!box) return;
  const current = queue && queue.current;
  const others = current && current.participant_id !== participantId;
  box.hidden = !others;
  if (others) {
    setText(document.getElementById("floor-now-name"), current.name);
    const org = document.getElementById("floor-now-org"); // the organization isolated in its own direction
    if (org.textContent !== (current.organization ? `, ${current.organization}` : "")) {
      org.replaceChildren(...(current.organization ? [", ", el("bdi", {}, current.organization)] : []));
    }
    const clock = document.getElementById("floor-now-countdown");
    if (clock) setSpeakerCountdown(clock, current, queue.warning_seconds || 0);
  }
  setText(document.getElementById("floor-count"), countWords(queue, mine));
}

function renderForm(state) {
  if (!form) return;
  const closedPo = state === "closed-po";
  form.hidden = !(state === "open" || closedPo || state === "sending");
  for (const radio of form.querySelectorAll("input[name='intervention_type']")) {
    const allowed = !closedPo || radio.value === "point_of_order";
    radio.disabled = !allowed;
    radio.closest(".choice").dataset.disabled = allowed ? "false" : "true";
    if (closedPo && radio.value === "point_of_order") radio.checked = true;
  }
  const sending = state === "sending";
  submit.setAttribute("aria-disabled", sending ? "true" : "false");
  setText(submit, sending ? "Sending your request…" : (closedPo ? "Raise a point of order" : "Request the floor"));
}

function render(state) {
  if (!panel) return;
  latest = state;
  const queue = state.sections.queue;
  const participantId = myId(state);
  const next = floorState(queue, participantId, requestInOutbox(), sessionEnded());
  if (next.state === "waiting" || next.state === "speaking") acceptedAt = 0;
  const previous = view;
  panel.dataset.state = next.state;
  document.body.dataset.floor = next.state;
  for (const part of panel.querySelectorAll("[data-part]")) {
    part.hidden = !part.dataset.part.split(" ").includes(next.state);
  }
  renderNow(queue, participantId, next.state === "waiting" ? next.entry : null);
  renderForm(next.state);
  const warning = queue ? queue.warning_seconds || 0 : 0;
  if (next.state === "speaking") {
    const entry = next.entry;
    for (const node of document.querySelectorAll("[data-my-countdown]")) setSpeakerCountdown(node, entry, warning);
    setText(document.getElementById("floor-speaking-detail"),
      `${entry.type_label || INTERVENTION_LABELS[entry.type] || ""} · ${durationWords(entry.allotted_seconds)} allotted`);
  }
  updateBanner();
  if (next.state === "waiting") {
    const entry = next.entry;
    setText(document.getElementById("floor-position"), String(entry.position));
    const first = entry.position === 1;
    setText(document.getElementById("floor-position-words"), first ? "You are next." : `You are number ${entry.position} on the list.`);
    setText(document.getElementById("floor-wait"), first && !queue.current ? "The chair may call you at any moment."
      : `Estimated wait: ${waitWords(entry.estimated_wait_seconds)}${first ? " (after the current speaker)" : ""}.`);
    const summary = [entry.type_label || INTERVENTION_LABELS[entry.type], CHANNEL_LABELS[entry.channel]].filter(Boolean).join(" · ");
    setText(document.getElementById("floor-request-type"), summary);
  } else if (confirmBox) {
    confirmBox.hidden = true;
    if (withdrawButton) withdrawButton.hidden = false;
  }
  announce(previous, next);
  signalFloor(next.state, next.entry ? next.entry.position : null,
    next.state === "speaking" ? `You have ${durationWords(next.entry.allotted_seconds)}.` : "");
  view = { state: next.state, position: next.entry ? next.entry.position : null,
    entryId: next.entry ? next.entry.id : null, phase: next.state === "speaking" ? view.phase : null };
}

function updateBanner() {
  if (banner) banner.hidden = !(panel.dataset.state === "speaking" && !panelInView);
}

function announce(previous, next) {
  if (previous.state === next.state && previous.position === (next.entry && next.entry.position)) return;
  if (next.state === "speaking" && previous.state !== "speaking") {
    say(assertive, `You have the floor. You have ${durationWords(next.entry.allotted_seconds)}.`);
    if (banner && !isTyping()) {
      document.dispatchEvent(new CustomEvent("participant:show", { detail: "floor" }));
      panel.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  } else if (previous.state === "speaking" && next.state !== "speaking") {
    say(assertive, "Your time at the floor has ended. Thank you.");
    showFeedback("Your intervention has ended. Thank you.");
  } else if (next.state === "waiting") {
    if (previous.state !== "waiting") {
      showFeedback("");
      say(polite, next.entry.position === 1 ? "Your request is on the list. You are next."
        : `Your request is on the list. You are number ${next.entry.position}.`);
    } else if (next.entry.position !== previous.position) {
      say(polite, next.entry.position === 1 ? "You are next." : `You are now number ${next.entry.position} on the list.`);
    }
  } else if (previous.state === "waiting" && (next.state === "open" || next.state.startsWith("closed"))) {
    say(polite, "You are no longer on the list.");
  } else if (next.state.startsWith("closed") && !previous.state.startsWith("closed") && previous.state !== "none") {
    say(polite, next.state === "closed-po" ? "The list of speakers is closed. Points of order are still possible."
      : "The list of speakers is closed.");
  }
}

function isTyping() {
  const active = document.activeElement;
  return Boolean(active && active.matches("input, textarea, select"));
}

/** Announce the warning and the end of one's time while speaking. */
function onTick(nowMs) {
  const other = document.getElementById("floor-now-countdown");
  if (other) setText(document.getElementById("floor-now-left"), other.dataset.phase === "overtime" ? " over time" : " left");
  if (view.state !== "speaking" || !latest) return;
  const queue = latest.sections.queue;
  const entry = queue && queue.current;
  if (!entry) return;
  const running = entry.run_started_at != null && entry.ends_at != null;
  const remaining = speakerRemaining(entry, nowMs);
  const phase = speakerPhase(remaining, queue.warning_seconds || 0, running);
  if (phase === view.phase) return;
  // Said on entering the phase, also when the page first sees it there (a
  // phone that slept through the start of the intervention).
  if (phase === "warning") say(assertive, `${Math.max(1, Math.ceil(remaining))} seconds left.`);
  if (phase === "overtime") say(assertive, "Your time is up. Please conclude.");
  if (phase === "paused" && view.phase !== null) say(polite, "Your clock is paused.");
  document.body.dataset.floorPhase = phase;
  view.phase = phase;
}

function updateCount() {
  if (!note || !noteCount) return;
  const max = Number(note.getAttribute("maxlength")) || 200;
  const used = note.value.length;
  setText(noteCount, `${used} / ${max} characters`);
  noteCount.dataset.near = used > max - 20 ? "true" : "false";
}

async function requestFloor(event) {
  event.preventDefault();
  if (submit.getAttribute("aria-disabled") === "true") return;
  const checked = form.querySelector("input[name='intervention_type']:checked");
  const payload = { intervention_type: checked ? checked.value : "statement", note: note.value.trim().slice(0, 200) };
  showFeedback("");
  const sent = send("queue.request_floor", payload, { quiet: true });
  requestKey = sent.key;
  if (latest) render(latest);
  try {
    await sent;
    note.value = "";
    updateCount();
  } catch (_error) {
    // onSettle explains (also for a request kept across a reload)
  }
}

function settled(entry, outcome) {
  if (entry.name === "queue.request_floor") {
    if (entry.key === requestKey && outcome.final !== false) requestKey = null;
    if (outcome.ok && view.state !== "waiting" && view.state !== "speaking") {
      acceptedAt = Date.now(); // shown as "sending" until the list with our entry arrives
      setTimeout(() => { if (latest) render(latest); }, 3100);
    }
    if (!outcome.ok && outcome.final) showFeedback(explain(outcome.error, "floor"), "error");
    if (!outcome.ok && !outcome.final) showFeedback("Not connected: your request is kept and sent when the connection is back.");
    if (latest) render(latest);
  } else if (entry.name === "queue.withdraw_request") {
    if (outcome.ok) {
      showFeedback("Your request was withdrawn.");
      say(polite, "Your request was withdrawn.");
    } else if (outcome.final) {
      showFeedback(explain(outcome.error, "floor"), "error");
    }
    if (withdrawButton) withdrawButton.setAttribute("aria-disabled", "false");
  }
}

function withdraw() {
  if (!view.entryId) return;
  confirmBox.hidden = true;
  withdrawButton.hidden = false;
  withdrawButton.setAttribute("aria-disabled", "true");
  send("queue.withdraw_request", { entry_id: view.entryId }, { quiet: true }).catch(() => {});
  withdrawButton.focus();
}

export function initFloor() {
  if (!panel) return;
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(([entry]) => {
      panelInView = entry.isIntersecting && entry.intersectionRatio >= 0.4;
      updateBanner();
    }, { threshold: [0, 0.2, 0.4, 0.6, 1] }).observe(panel);
  }
  startSpeakerTimers(serverNow, onTick);
  subscribe((state, changed) => {
    if (changed.includes("queue") || changed.includes("me")) render(state);
  });
  onSettle(settled);
  onConnection((state) => { if (state === "ended" && latest) render(latest); });
  if (form) {
    form.addEventListener("submit", requestFloor);
    note.addEventListener("input", updateCount);
    updateCount();
  }
  if (withdrawButton) {
    withdrawButton.addEventListener("click", () => {
      if (withdrawButton.getAttribute("aria-disabled") === "true") return;
      withdrawButton.hidden = true;
      confirmBox.hidden = false;
      document.getElementById("floor-withdraw-yes").focus();
    });
    document.getElementById("floor-withdraw-yes").addEventListener("click", withdraw);
    document.getElementById("floor-withdraw-no").addEventListener("click", () => {
      confirmBox.hidden = true;
      withdrawButton.hidden = false;
      withdrawButton.focus();
    });
  }
}
