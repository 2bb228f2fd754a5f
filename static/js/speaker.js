/**
 * The speaker's countdown, drawn from absolute times like the agenda's
 * (static/js/timer.js), with the speaker's own rules: the warning starts
 * `warning_seconds` before the end (the queue's setting, not a fixed
 * minute), running over is counted up visibly ("+0:42"), and a paused clock
 * says so.
 *
 * A speaker (the queue section's `current`) carries `ends_at` while the
 * clock runs, else `allotted_seconds` and `elapsed_seconds`. Elements with
 * [data-speaker-countdown] are redrawn four times a second from their data-
 * attributes (set by setSpeakerCountdown), so the participant's phone, the
 * projector and the chair's console show the same second.
 */
import { formatCountdown, formatDuration } from "./timer.js";

const TICK_MS = 250;

/** Seconds left (negative: over time) at server time `nowMs`. */
export function speakerRemaining(speaker, nowMs) {
  if (!speaker) return 0;
  if (speaker.run_started_at != null && speaker.ends_at != null) return (speaker.ends_at - nowMs) / 1000;
  return (speaker.allotted_seconds || 0) - (speaker.elapsed_seconds || 0);
}

/** running, warning (the last `warningSeconds`), overtime or paused. */
export function speakerPhase(remaining, warningSeconds, running) {
  if (remaining < 0) return "overtime";
  if (warningSeconds > 0 && remaining <= warningSeconds) return "warning";
  return running ? "running" : "paused";
}

/** The words under the countdown: never colour alone. */
export function speakerNote(phase, running) {
  const notes = [];
  if (!running) notes.push("Clock paused");
  if (phase === "overtime") notes.push("Over time");
  else if (phase === "warning") notes.push("Time is almost up");
  return notes.join(" · ");
}

/** "3 min", "90 s", "1 min 30 s": an allotted time in words. */
export function durationWords(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  const rest = s % 60;
  return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
}

export { formatDuration };

/** Point a countdown element at a speaker (or at nobody). */
export function setSpeakerCountdown(node, speaker, warningSeconds = 0) {
  if (!node) return;
  const data = node.dataset;
  const running = Boolean(speaker && speaker.run_started_at != null && speaker.ends_at != null);
  data.running = running ? "true" : "false";
  data.endsAt = running ? String(speaker.ends_at) : "";
  data.allotted = speaker ? String(speaker.allotted_seconds || 0) : "0";
  data.elapsed = speaker ? String(speaker.elapsed_seconds || 0) : "0";
  data.warning = String(warningSeconds || 0);
  tickNode(node, now());
}

function readSpeaker(node) {
  const data = node.dataset;
  const running = data.running === "true";
  return {
    running,
    warning: Number(data.warning) || 0,
    speaker: {
      run_started_at: running ? 1 : null,
      ends_at: data.endsAt ? Number(data.endsAt) : null,
      allotted_seconds: Number(data.allotted) || 0,
      elapsed_seconds: Number(data.elapsed) || 0,
    },
  };
}

function tickNode(node, at) {
  const { running, warning, speaker } = readSpeaker(node);
  const remaining = speakerRemaining(speaker, at);
  const text = formatCountdown(remaining);
  if (node.textContent !== text) node.textContent = text;
  const phase = speakerPhase(remaining, warning, running);
  if (node.dataset.phase !== phase) node.dataset.phase = phase;
  const long = text.length > 6;
  if (long !== ("long" in node.dataset)) {
    if (long) node.dataset.long = "";
    else delete node.dataset.long;
  }
  const note = node.dataset.note ? document.getElementById(node.dataset.note) : null;
  if (note) {
    const words = speakerNote(phase, running);
    if (note.textContent !== words) note.textContent = words;
    if (note.dataset.phase !== phase) note.dataset.phase = phase;
  }
  return { remaining, phase, running };
}

let now = () => Date.now();
let timer = null;
const tickListeners = new Set();

export function tickSpeakers() {
  const at = now();
  for (const node of document.querySelectorAll("[data-speaker-countdown]")) tickNode(node, at);
  for (const callback of tickListeners) callback(at);
}

/** Start redrawing; `clock` returns the server's time in epoch ms.
 *  `onTick(nowMs)` runs after each redraw (announcements). */
export function startSpeakerTimers(clock, onTick) {
  if (clock) now = clock;
  if (onTick) tickListeners.add(onTick);
  if (timer) return;
  tickSpeakers();
  timer = setInterval(tickSpeakers, TICK_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) tickSpeakers(); });
}

/** "about 4 min", "less than a minute": an estimated wait in words. */
export function waitWords(seconds) {
  if (seconds == null) return "";
  if (seconds < 45) return "less than a minute";
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `about ${minutes} min` : `about ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const INTERVENTION_LABELS = {
  statement: "Statement",
  question: "Question to the panel",
  point_of_order: "Point of order",
  reply: "Reply",
};
export const CHANNEL_LABELS = { room: "In the room", online: "Online" };
