/**
 * "Undo (10 s)" after a disruptive console action.
 *
 * When the server's answer to a press carries `undo` ({id, command,
 * expires_at}: the command took a speaker off the floor, a person off the
 * list, closed the list or ended an item while people waited), the bar
 * #undo-bar shows what happened and an Undo button counting down the
 * seconds left (server time). Undo is a command like any other (queue.undo
 * or agenda.undo, through console_presses.js, so it is queued behind presses
 * still waiting); the server refuses it when anything changed since (a
 * second console) and the refusal is shown. Keyboard: the button, Ctrl+Z,
 * or U anywhere outside a text field.
 */
import { onAcknowledged, press } from "./console_presses.js";
import { dialogOpen } from "./confirm_dialog.js";
import { serverNow } from "./live.js";
import { setText } from "./util.js";

const $ = (id) => document.getElementById(id);
const WHAT = {
  "agenda.advance": "The item ended and the next one started.",
  "agenda.end_item": "The item ended.",
  "agenda.start_item": "The item ended and another one started.",
  "queue.end_speaker": "The speaker's time ended.",
  "queue.call_next": "The floor went to the next speaker.",
  "queue.call_speaker": "The floor went to another speaker.",
  "queue.remove": "A speaker was taken off the list.",
  "queue.close": "The list of speakers was closed.",
};

let offered = null; // {id, command, expires_at}
let timer = null;

/** Show the Undo bar for `undo` (from an acknowledgement's result). */
export function offerUndo(undo) {
  if (!undo || !undo.id) return;
  offered = undo;
  clearInterval(timer);
  timer = setInterval(render, 250);
  render();
}

/** The offered undo, if still on time (tests, and the keyboard). */
export function offeredUndo() {
  return offered && offered.expires_at > serverNow() ? offered : null;
}

function withdraw() {
  offered = null;
  clearInterval(timer);
  timer = null;
  render();
}

function render() {
  const bar = $("undo-bar");
  if (!bar) return;
  const left = offered ? Math.ceil((offered.expires_at - serverNow()) / 1000) : 0;
  if (!offered || left <= 0) {
    offered = null;
    clearInterval(timer);
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  setText($("undo-text"), WHAT[offered.command] || "Done.");
  setText(bar.querySelector(".undo-seconds"), `(${left} s)`);
}

/** Send the undo of what is offered (queued behind waiting presses). */
export function undoNow() {
  const undo = offeredUndo();
  if (!undo) return false;
  withdraw();
  const family = undo.command.split(".")[0];
  press(() => ({ name: `${family}.undo`, payload: { undo_id: undo.id } }), { label: "Undo (U)" });
  return true;
}

onAcknowledged((ack) => {
  if (ack && ack.result && ack.result.undo) offerUndo(ack.result.undo);
  else if (ack && ack.result && ack.result.undone) withdraw();
});

const button = $("undo-button");
if (button) button.addEventListener("click", undoNow);

document.addEventListener("keydown", (event) => {
  if (event.repeat || event.isComposing || event.altKey || dialogOpen()) return;
  const target = event.target;
  if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : "";
  const ctrlZ = (event.ctrlKey || event.metaKey) && key === "z" && !event.shiftKey;
  const plainU = !event.ctrlKey && !event.metaKey && key === "u";
  if (!ctrlZ && !plainU) return;
  if (!offeredUndo()) return;
  event.preventDefault();
  undoNow();
});
