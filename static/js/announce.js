/**
 * The speaker's time for screen readers, on the chair's console and the
 * display: who gets the floor (with the time allotted), the warning, the end
 * of the time and a pause, each said once in a polite live region. The
 * countdowns themselves are role="timer" (not read out every second).
 *
 * The participant's own page says the same things to the speaker in
 * static/js/floor.js.
 */
import { durationWords } from "./speaker.js";

/** Put `text` in a live region; cleared first so the same words twice are read twice. */
export function say(region, text) {
  if (!region || !text) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 60);
}

/**
 * announceSpeaker(speaker, phase, remainingSeconds), called on every tick
 * (phase: running, warning, overtime or paused): speaks only when the
 * speaker or the phase changes. What the page shows when it opens is not
 * news and is not said.
 */
export function speakerAnnouncer(region) {
  let started = false;
  let speakerId = null;
  let phase = null;
  return function announceSpeaker(speaker, nextPhase, remaining) {
    const nextId = speaker ? speaker.id : null;
    if (!started) {
      started = true;
      speakerId = nextId;
      phase = nextPhase;
      return;
    }
    if (nextId !== speakerId) {
      if (speaker) say(region, `${speaker.name} has the floor: ${durationWords(speaker.allotted_seconds)}.`);
      else if (speakerId !== null) say(region, "Nobody has the floor.");
      speakerId = nextId;
      phase = nextPhase;
      return;
    }
    if (!speaker || nextPhase === phase) return;
    if (nextPhase === "warning") say(region, `${Math.max(1, Math.ceil(remaining))} seconds left for ${speaker.name}.`);
    else if (nextPhase === "overtime") say(region, `${speaker.name}'s time is up.`);
    else if (nextPhase === "paused") say(region, "Speaking time paused.");
    else if (nextPhase === "running" && phase === "paused") say(region, "Speaking time running again.");
    phase = nextPhase;
  };
}
