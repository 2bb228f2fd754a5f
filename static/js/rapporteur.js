/** The rapporteur's page: the current item and the agenda, kept live.
 *  (The workspace for tagging and summarizing inputs comes later.) */
import { serverNow, subscribe } from "./live.js";
import { renderAgenda, renderCurrent, renderDialogueTitle, timeZoneOf } from "./agenda.js";
import { setAgenda, startTimers } from "./timer.js";

startTimers(serverNow);

subscribe((state, changed) => {
  const { agenda, dialogue } = state.sections;
  const timeZone = timeZoneOf(state);
  if (changed.includes("dialogue")) renderDialogueTitle(dialogue);
  if (changed.includes("agenda") || changed.includes("dialogue")) {
    renderCurrent(agenda, timeZone);
    renderAgenda(agenda, timeZone);
    setAgenda(agenda, dialogue);
  }
});
