/** The room's projector and the stream overlay: the current item, a huge
 *  countdown and the next item. No controls. */
import { serverNow, subscribe } from "./live.js";
import { currentOf, upcomingOf, timeZoneOf } from "./agenda.js";
import { formatClock, setCountdown, startTimers } from "./timer.js";
import { setText } from "./util.js";

startTimers(serverNow);

subscribe((state) => {
  const { agenda, dialogue } = state.sections;
  const timeZone = timeZoneOf(state);
  const current = currentOf(agenda);
  const upcoming = upcomingOf(agenda);
  const items = agenda.items || [];
  setText(document.getElementById("dialogue-title"), dialogue.title);
  document.title = `${dialogue.title} – Display`;
  setText(document.getElementById("current-type"), current ? current.type_label : (upcoming.length ? "Up next" : ""));
  let title = dialogue.title;
  if (current) title = current.title;
  else if (upcoming.length) title = upcoming[0].title;
  else if (items.length) title = "Thank you";
  setText(document.getElementById("current-title"), title);
  const timer = document.getElementById("current-timer");
  timer.hidden = !current;
  setCountdown(timer.querySelector("[data-countdown]"), current);
  if (!current) setText(document.getElementById("current-note"), "");
  const when = !current && upcoming.length && upcoming[0].planned_start
    ? `Starts at ${formatClock(upcoming[0].planned_start, timeZone)}` : "";
  setText(document.getElementById("current-when"), when);
  const next = document.getElementById("display-next");
  next.hidden = !(current && upcoming.length);
  setText(document.getElementById("next-title"), current && upcoming.length ? upcoming[0].title : "");
});
