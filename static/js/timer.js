/**
 * Countdowns drawn from absolute times.
 *
 * The server never ticks: a running item carries `ends_at` (epoch ms), a
 * paused or pending one its planned and elapsed seconds. Every element with
 * [data-countdown] is redrawn locally four times a second from those data-
 * attributes and the server clock (local clock + offset), so every screen in
 * the room shows the same second. The last minute gets data-phase="warning",
 * running over "overtime" (shown as "+0:42").
 *
 * The agenda's estimated end moves once the current item runs over; it is
 * recomputed here too, from the agenda last given to setAgenda().
 */

const TICK_MS = 250;

/** Seconds left (negative: over time) at server time `nowMs`. */
export function remainingSeconds(item, nowMs) {
  if (item.status === "running" && item.ends_at != null) return (item.ends_at - nowMs) / 1000;
  return item.planned_seconds - item.elapsed_seconds;
}

/** 75 -> "1:15", 3725 -> "1:02:05" */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.trunc(totalSeconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/** Remaining seconds as a countdown: "4:59", or "+0:42" over time. */
export function formatCountdown(remaining) {
  return remaining >= 0 ? formatDuration(Math.ceil(remaining)) : `+${formatDuration(Math.floor(-remaining))}`;
}

export function phaseOf(status, remaining) {
  if (status === "pending" || status === "done") return status;
  if (remaining < 0) return "overtime";
  if (remaining <= 60) return "warning";
  return status === "paused" ? "paused" : "running";
}

export function noteOf(status, remaining) {
  const notes = [];
  if (status === "paused") notes.push("Paused");
  if (status === "running" || status === "paused") {
    if (remaining < 0) notes.push("Over time");
    else if (remaining <= 60) notes.push("Last minute");
  }
  return notes.join(" · ");
}

const formatters = new Map();

/** "15:20": epoch ms as the time of day in the dialogue's time zone. */
export function formatClock(ms, timeZone) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  const key = timeZone || "";
  let format = formatters.get(key);
  if (!format) {
    try {
      format = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: timeZone || undefined });
    } catch (_error) {
      format = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
    formatters.set(key, format);
  }
  return format.format(new Date(ms));
}

export function minutesText(seconds) {
  return `${Math.round(seconds / 60)} min`;
}

/** When the session ends if every item still to come takes its planned
 *  time (the same rule as moderation/features/agenda/commands.py estimated_end). */
export function estimatedEnd(agenda, startsAt, nowMs) {
  const items = agenda.items || [];
  const pendingMs = items.filter((i) => i.status === "pending").reduce((sum, i) => sum + i.planned_seconds * 1000, 0);
  const current = items.find((i) => i.status === "running" || i.status === "paused");
  if (!current && !items.some((i) => i.status === "done")) {
    const start = startsAt ? Math.max(nowMs, startsAt) : nowMs;
    return start + pendingMs;
  }
  let base = nowMs;
  if (current) base += Math.max(0, remainingSeconds(current, nowMs)) * 1000;
  return base + pendingMs;
}

export function endDeltaText(estimated, planned) {
  if (estimated == null || planned == null) return "–";
  const minutes = Math.round((estimated - planned) / 60000);
  if (minutes > 0) return `${minutes} min late`;
  if (minutes < 0) return `${-minutes} min early`;
  return "On time";
}

/** Point a countdown element at an item (or at nothing: item null). */
export function setCountdown(node, item) {
  if (!node) return;
  const data = node.dataset;
  data.status = item ? item.status : "pending";
  data.endsAt = item && item.ends_at != null ? String(item.ends_at) : "";
  data.plannedSeconds = item ? String(item.planned_seconds) : "0";
  data.elapsedSeconds = item ? String(item.elapsed_seconds) : "0";
}

// -- the ticking ------------------------------------------------------------------------
let now = () => Date.now();
let agendaSource = null;

/** Tell the clock which agenda (and dialogue) the estimated end is for. */
export function setAgenda(agenda, dialogue) {
  agendaSource = agenda ? { agenda, dialogue } : null;
  tick();
}

function readItem(node) {
  const data = node.dataset;
  return {
    status: data.status,
    ends_at: data.endsAt ? Number(data.endsAt) : null,
    planned_seconds: Number(data.plannedSeconds) || 0,
    elapsed_seconds: Number(data.elapsedSeconds) || 0,
  };
}

export function tick() {
  const at = now();
  for (const node of document.querySelectorAll("[data-countdown]")) {
    const item = readItem(node);
    const remaining = remainingSeconds(item, at);
    const text = formatCountdown(remaining);
    if (node.textContent !== text) node.textContent = text;
    const long = text.length > 6; // hours shown: the stylesheet shrinks the type
    if (long !== ("long" in node.dataset)) {
      if (long) node.dataset.long = "";
      else delete node.dataset.long;
    }
    const phase = phaseOf(item.status, remaining);
    if (node.dataset.phase !== phase) node.dataset.phase = phase;
    const noteId = node.dataset.note;
    const note = noteId ? document.getElementById(noteId) : null;
    if (note) {
      const noteText = noteOf(item.status, remaining);
      if (note.textContent !== noteText) note.textContent = noteText;
      if (note.dataset.phase !== phase) note.dataset.phase = phase;
    }
  }
  if (agendaSource) {
    const { agenda, dialogue } = agendaSource;
    const timeZone = dialogue ? dialogue.timezone : document.body.dataset.timezone;
    const estimate = estimatedEnd(agenda, dialogue ? dialogue.starts_at : null, at);
    for (const node of document.querySelectorAll("[data-estimated-end]")) {
      const text = formatClock(estimate, timeZone) || "–";
      if (node.textContent !== text) node.textContent = text;
    }
    for (const node of document.querySelectorAll("[data-planned-end]")) {
      const text = formatClock(agenda.planned_end, timeZone) || "–";
      if (node.textContent !== text) node.textContent = text;
    }
    for (const node of document.querySelectorAll("[data-end-delta]")) {
      const text = endDeltaText(estimate, agenda.planned_end);
      if (node.textContent !== text) node.textContent = text;
      const late = agenda.planned_end != null && estimate - agenda.planned_end >= 60000;
      if ((node.dataset.late === "") !== late) {
        if (late) node.dataset.late = "";
        else delete node.dataset.late;
      }
    }
  }
}

let timer = null;

/** Start redrawing; `clock` returns the server's time in epoch ms. */
export function startTimers(clock) {
  if (clock) now = clock;
  if (timer) return;
  tick();
  timer = setInterval(tick, TICK_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
}
