/**
 * The moderator's presses (keyboard shortcuts and the console's buttons),
 * taken in order and sent one at a time.
 *
 * A chair presses T T A (pause, resume, thirty seconds more) faster than the
 * server answers. Each press is kept in a line and turned into a command only
 * when its turn comes: after the previous command's acknowledgement and
 * after its change has reached this page, so that "T" pauses or resumes
 * depending on what the previous press did, and "S S" gives the floor to
 * two people one after the other. Each command goes through live.js send()
 * with its own idempotency key.
 *
 * While presses wait, #console-presses lists them (the one on its way, then
 * the queued ones) and their buttons carry data-queued; a press that is
 * queued is said once in a polite live region (#press-announce), so a
 * screen-reader user knows it was taken. When a command is refused, or its
 * answer does not come (the write stays in live.js's outbox and is sent
 * again), the presses queued after it are dropped and the page says so:
 * they were meant for a state that did not come about.
 *
 * While the server cannot be reached, presses are not sent and not dropped:
 * offline_queue.js holds them (each with its idempotency key, listed in a
 * banner, each cancellable) and hands them back here once reconnected.
 * Every acknowledgement is told to onAcknowledged() listeners (undo.js
 * offers an Undo when the answer carries one).
 */
import { connectionState, notify, onConnection, requestSnapshot, send, state as liveState, subscribe } from "./live.js";
import { say } from "./announce.js";
import { heldPresses, hold, holding, setReplayer } from "./offline_queue.js";
import { el, newKey, setAttr, setText, syncList } from "./util.js";

/** More presses than this waiting is a stuck key or a stuck server. */
const MAX_QUEUED = 12;
/** How long to wait for a command's change before asking for a snapshot. */
const CHANGE_WAIT_MS = 1500;

const line = []; // presses not sent yet
let current = null; // the press whose command is on its way
let counter = 0;
let versionWaiter = null; // {version, done, check}
const busyButtons = new Set(); // marked aria-busy here
const ackListeners = new Set();
const OFFLINE = new Set(["reconnecting", "offline"]);

const $ = (id) => document.getElementById(id);

subscribe(() => {
  // After every subscriber has drawn the new state (they run in order).
  if (versionWaiter && liveState.version >= versionWaiter.version) setTimeout(() => versionWaiter && versionWaiter.check(), 0);
});

/**
 * Take a press. `plan()` is called when its turn comes and returns
 * {name, payload} or {why} (the press does not apply then: said, not sent).
 * options: button (marked busy, then queued), label (words for the list),
 * quiet (the caller shows refusals itself), onAck(ack), onError(error).
 */
export function press(plan, options = {}) {
  const entry = { id: (counter += 1), key: newKey(), plan, ...options };
  if (holding()) {
    hold(entry);
    say($("press-announce"), `Server unreachable: ${options.label || "the press"} is queued.`);
    return;
  }
  enqueue(entry);
}

/** callback(ack) after each press's command is acknowledged and its change shown. */
export function onAcknowledged(callback) {
  ackListeners.add(callback);
  return () => ackListeners.delete(callback);
}

/** A press in line to be sent (a new one, or one held while offline). */
function enqueue(entry) {
  const options = entry;
  if (!current && !line.length) {
    start(entry);
    return;
  }
  if (line.length >= MAX_QUEUED) {
    notify(`Not taken: ${options.label || "that press"}. Too many presses are waiting for the server.`,
      { kind: "info" });
    return;
  }
  line.push(entry);
  say($("press-announce"), `Queued: ${options.label || "a press"}. ${line.length} waiting.`);
  render();
}

/** How many presses are on their way or queued (tests, and the page). */
export function waitingPresses() {
  return (current ? 1 : 0) + line.length + heldPresses().length;
}

async function start(entry) {
  const step = entry.plan();
  if (step.why) {
    notify(step.why, { kind: "info" });
    next();
    return;
  }
  current = entry;
  render();
  let ack = null;
  try {
    ack = await send(step.name, step.payload, { quiet: Boolean(entry.quiet), key: entry.key });
  } catch (error) {
    const transient = error && (error.code === "network" || error.code === "timeout");
    if (transient) notify(error.message, { kind: "info" });
    if (entry.onError) entry.onError(error);
    if (transient && OFFLINE.has(connectionState())) holdLine();
    drop(transient ? "the server has not confirmed the one before them yet"
      : "the one before them was refused");
    next();
    return;
  }
  await changeArrived(ack && ack.version);
  if (entry.onAck) entry.onAck(ack);
  for (const callback of ackListeners) {
    try {
      callback(ack, entry);
    } catch (failure) {
      console.error("an acknowledgement listener failed", failure); // eslint-disable-line no-console
    }
  }
  next();
}

/** The connection is gone: the presses waiting in line are held (listed,
 *  cancellable) instead of waiting behind a command that cannot be answered. */
function holdLine() {
  for (const entry of line.splice(0)) hold(entry);
  render();
}

onConnection((next) => { if (OFFLINE.has(next)) holdLine(); });
setReplayer((entry) => enqueue(entry));

/** Resolve once the page shows `version` (the command's own change), or a
 *  fresh snapshot after CHANGE_WAIT_MS: a role is not sent every change. */
function changeArrived(version) {
  if (!version || liveState.version >= version) return Promise.resolve();
  return new Promise((resolve) => {
    const waiter = { version, done: false };
    const finish = () => {
      if (waiter.done) return;
      waiter.done = true;
      clearTimeout(timer);
      if (versionWaiter === waiter) versionWaiter = null;
      resolve();
    };
    waiter.check = () => { if (liveState.version >= version) finish(); };
    const timer = setTimeout(() => { requestSnapshot().finally(finish); }, CHANGE_WAIT_MS);
    versionWaiter = waiter;
  });
}

function next() {
  current = null;
  const entry = line.shift();
  render();
  if (entry) start(entry);
}

function drop(why) {
  if (!line.length) return;
  const labels = line.splice(0).map((entry) => entry.label || "a press");
  notify(`Not sent: ${labels.join(", ")} (${why}). Press again if still needed.`);
}

// -- on screen ---------------------------------------------------------------------------
function render() {
  const box = $("console-presses");
  const shown = current ? [current, ...line] : [...line];
  for (const button of document.querySelectorAll("[data-queued]")) {
    if (!line.some((entry) => entry.button === button)) delete button.dataset.queued;
  }
  const counts = new Map();
  for (const entry of line) if (entry.button) counts.set(entry.button, (counts.get(entry.button) || 0) + 1);
  for (const [button, count] of counts) button.dataset.queued = String(count);
  const sendingButton = current && current.button;
  for (const button of busyButtons) {
    if (button !== sendingButton) {
      button.classList.remove("is-pressed");
      setAttr(button, "aria-busy", null);
      busyButtons.delete(button);
    }
  }
  if (sendingButton) {
    sendingButton.classList.add("is-pressed");
    setAttr(sendingButton, "aria-busy", "true");
    busyButtons.add(sendingButton);
  }
  if (!box) return;
  box.hidden = shown.length === 0;
  syncList(box.querySelector(".press-list"), shown, (entry) => entry.id,
    () => el("li", {}, el("span", { class: "press-label" }), " ", el("span", { class: "press-state" })),
    (node, entry) => {
      const sending = entry === current;
      node.dataset.state = sending ? "sending" : "queued";
      setText(node.querySelector(".press-label"), entry.label || "A press");
      setText(node.querySelector(".press-state"), sending ? "sending…" : "queued");
    });
}
