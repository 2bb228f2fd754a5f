/** The participant's page: the current item, asking for the floor, inputs
 *  (the form, "My inputs", the published inputs, the input on the
 *  projector), the agenda and the participant's own details, kept live. On
 *  a phone one part shows at a time (tabs.js). */
import { send, serverNow, subscribe } from "./live.js";
import { CHANNEL_LABELS, renderAgenda, renderCurrent, renderDialogueTitle, timeZoneOf } from "./agenda.js";
import { initTurnNotice } from "./turn_notice.js";
import { initFloor } from "./floor.js";
import { initInputs } from "./inputs.js";
import { initTabs } from "./tabs.js";
import { setAgenda, startTimers } from "./timer.js";
import { setText } from "./util.js";

startTimers(serverNow);

function renderMe(me) {
  const person = me && me.participant;
  setText(document.getElementById("me-name"), person ? person.name : (me && me.name) || "–");
  setText(document.getElementById("me-organization"), (person && person.organization) || "–");
  setText(document.getElementById("me-category"), (person && person.category_label) || "–");
  const channel = document.getElementById("me-channel");
  if (channel) {
    channel.dataset.channel = person ? person.channel : "";
    setText(channel, person ? CHANNEL_LABELS[person.channel] || person.channel : "–");
  }
  const button = document.getElementById("switch-channel");
  if (button && person) {
    const target = person.channel === "room" ? "online" : "room";
    button.dataset.target = target;
    setText(button, target === "online" ? "I am now online" : "I am now in the room");
  }
  const namedAs = document.getElementById("named-as");
  if (namedAs && person) setText(namedAs, person.organization ? `${person.name}, ${person.organization}` : person.name);
}

/** "On screen now": the input pinned to the projector, as the display shows it. */
function renderPinned(pinned) {
  const box = document.getElementById("on-screen");
  if (!box) return;
  box.hidden = !pinned;
  setText(document.getElementById("on-screen-kind"), pinned ? pinned.kind_label || "Input" : "");
  setText(document.getElementById("on-screen-text"), pinned ? pinned.text : "");
  setText(document.getElementById("on-screen-by"),
    pinned ? (pinned.organization ? `${pinned.author}, ${pinned.organization}` : pinned.author) : "");
}

/** "Time left for this item" goes with the item's countdown. */
function renderTimerLabel() {
  const label = document.getElementById("current-timer-label");
  const timer = document.getElementById("current-timer");
  if (label && timer) label.hidden = timer.hidden;
}

subscribe((state, changed) => {
  const { agenda, dialogue, me, pinned } = state.sections;
  const timeZone = timeZoneOf(state);
  if (changed.includes("dialogue")) renderDialogueTitle(dialogue);
  if (changed.includes("agenda") || changed.includes("dialogue")) {
    renderCurrent(agenda, timeZone);
    renderAgenda(agenda, timeZone);
    setAgenda(agenda, dialogue);
    renderTimerLabel();
  }
  if (changed.includes("me")) renderMe(me);
  if (changed.includes("pinned")) renderPinned(pinned);
});

initTabs();
initTurnNotice();
initFloor();
initInputs();

const switchButton = document.getElementById("switch-channel");
if (switchButton) {
  switchButton.addEventListener("click", async () => {
    switchButton.disabled = true;
    try {
      await send("participant.set_channel", { channel: switchButton.dataset.target });
    } catch (_error) {
      // live.js shows definitive errors; a network error is retried by itself
    } finally {
      switchButton.disabled = false;
    }
  });
}
