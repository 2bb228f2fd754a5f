/**
 * The console's presses while the server cannot be reached.
 *
 * With the socket disconnected (live.js says "reconnecting" or "offline")
 * the console must not look live: a full-width banner #offline-banner says
 * "Server unreachable — actions are queued" and lists every press made
 * meanwhile, each with a Cancel button. Each held press keeps the
 * idempotency key it will be sent with, and the state it was made against:
 * the dialogue version and a fingerprint of what the console's actions
 * depend on (the running item, who has the floor, the waiting list, the
 * list open or closed).
 *
 * Once connected again and resynced (a fresh snapshot asked for), a held
 * press whose state is unchanged (same version, or same fingerprint: only
 * unrelated things moved) is sent in order, as if just pressed. One made
 * against a state that has changed since (another console acted, the
 * speaker's time ran on) is not replayed silently: the moderator is asked,
 * press by press (confirm_dialog.js).
 *
 * Writes already handed to the connection when it dropped (live.js's
 * outbox: a press on its way, a speaker added with the form) are listed too,
 * as "sent, not yet confirmed": they cannot be taken back, since the server
 * may have stored them; their idempotency key makes the resend harmless.
 */
import { confirmAction } from "./confirm_dialog.js";
import { connectionState, onConnection, onOutboxChange, pending, requestSnapshot, state as liveState } from "./live.js";
import { el, setText, syncList } from "./util.js";

const OFFLINE = new Set(["reconnecting", "offline"]);
const $ = (id) => document.getElementById(id);

const held = []; // presses kept while offline, in order
let replayer = null; // sends one held press (console_presses.js)
let processing = false;

/** What a console action's meaning depends on, from the sections shown. */
export function fingerprint(sections = liveState.sections) {
  if (!sections) return "";
  const queue = sections.queue || {};
  const agenda = sections.agenda || {};
  const item = (agenda.items || []).find((i) => i.id === agenda.current_item_id);
  const speaker = queue.current;
  return JSON.stringify([
    agenda.current_item_id || null, item ? item.status : null,
    queue.item_id || null, Boolean(queue.closed),
    speaker ? speaker.id : null, speaker ? speaker.ends_at == null : null,
    (queue.waiting || []).map((entry) => entry.id),
  ]);
}

/** True while presses must be held: no connection, or held ones not yet replayed. */
export function holding() {
  return OFFLINE.has(connectionState()) || held.length > 0 || processing;
}

/** Keep a press (an entry of console_presses.js, with its key) for later. */
export function hold(entry) {
  held.push({ ...entry, version: liveState.version, base: fingerprint() });
  render();
}

/** fn(entry) sends a held press when its turn comes. */
export function setReplayer(fn) {
  replayer = fn;
}

/** The presses held (tests). */
export function heldPresses() {
  return held.slice();
}

function cancel(id) {
  const index = held.findIndex((entry) => entry.id === id);
  if (index >= 0) held.splice(index, 1);
  render();
}

async function replay() {
  if (processing || !held.length || OFFLINE.has(connectionState()) || !liveState.sections) return;
  processing = true;
  render();
  try {
    const now = fingerprint();
    const version = liveState.version;
    while (held.length && !OFFLINE.has(connectionState())) {
      const entry = held[0];
      const unchanged = entry.version === version || entry.base === now;
      let go = unchanged;
      if (!unchanged) {
        go = await confirmAction({
          title: "The situation changed while the server was unreachable",
          message: `You pressed “${entry.label || "an action"}” while offline. Since then the floor, the list `
            + "or the agenda changed. Send it now, on the situation you see?",
          confirm: "Send it", cancel: "Drop it",
        });
      }
      if (held[0] !== entry) continue; // cancelled meanwhile
      held.shift();
      render();
      if (go && replayer) replayer(entry);
    }
  } finally {
    processing = false;
    render();
  }
}

const COMMAND_WORDS = {
  "queue.adjust_speaker_time": "speaker's time", "queue.add_speaker": "add a speaker",
  "queue.call_next": "give the floor", "queue.call_speaker": "give the floor", "queue.end_speaker": "end speaker",
  "queue.pause_speaker": "pause the speaker", "queue.resume_speaker": "resume the speaker",
  "queue.reorder": "new order", "agenda.advance": "next item", "agenda.end_item": "end item",
};

function commandWords(entry) {
  return COMMAND_WORDS[entry.name] || entry.name;
}

function render() {
  const banner = $("offline-banner");
  if (!banner) return;
  const offline = OFFLINE.has(connectionState());
  if (offline) document.body.dataset.offline = "";
  else delete document.body.dataset.offline;
  banner.hidden = !offline && !held.length;
  banner.dataset.state = offline ? "offline" : "replaying";
  setText($("offline-title"), offline ? "Server unreachable — actions are queued"
    : "Connected again — checking the queued actions");
  const count = $("offline-count");
  setText(count, held.length ? `${held.length} queued: they are sent once the server is back.`
    : "Nothing queued. Presses made now are kept and listed here.");
  const sent = $("offline-sent");
  if (sent) {
    const unconfirmed = pending();
    sent.hidden = !unconfirmed.length;
    setText(sent, unconfirmed.length
      ? `Sent before the connection dropped, not yet confirmed: ${unconfirmed.map(commandWords).join(", ")}.` : "");
  }
  syncList($("offline-list"), held, (entry) => entry.id,
    () => {
      const button = el("button", { type: "button", class: "button small offline-cancel" }, "Cancel");
      return el("li", {}, el("span", { class: "offline-label" }), " ", button);
    },
    (node, entry) => {
      setText(node.querySelector(".offline-label"), entry.label || "A press");
      const button = node.querySelector(".offline-cancel");
      button.setAttribute("aria-label", `Cancel: ${entry.label || "this press"}`);
      button.onclick = () => cancel(entry.id);
    });
}

onOutboxChange(() => render());

onConnection((next) => {
  render();
  // Resync first (the snapshot sent on connect may come before the
  // "connect" event): the held presses are judged on the server's state.
  if (next === "connected" && held.length) requestSnapshot().finally(replay);
});
