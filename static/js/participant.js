/** The participant's page: the current item, asking for the floor, inputs
 *  (the form, "My inputs", the published inputs), the agenda and the
 *  participant's own details, kept live. */
import { send, serverNow, subscribe } from "./live.js";
import { CHANNEL_LABELS, renderAgenda, renderCurrent, renderDialogueTitle, timeZoneOf } from "./agenda.js";
import { initFloor } from "./floor.js";
import { initInputs } from "./inputs.js";
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

subscribe((state, changed) => {
  const { agenda, dialogue, me } = state.sections;
  const timeZone = timeZoneOf(state);
  if (changed.includes("dialogue")) renderDialogueTitle(dialogue);
  if (changed.includes("agenda") || changed.includes("dialogue")) {
    renderCurrent(agenda, timeZone);
    renderAgenda(agenda, timeZone);
    setAgenda(agenda, dialogue);
  }
  if (changed.includes("me")) renderMe(me);
});

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
