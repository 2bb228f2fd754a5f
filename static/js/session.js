/**
 * Keeps a signed-in session alive while its page is in use
 * (moderation/web/sessions.py ends a session after SESSION_IDLE_MINUTES
 * without a request from the browser).
 *
 * A live page of a dialogue (participant, display, moderator, rapporteur,
 * the secretariat's console) counts as in use while it is open: people
 * listen for an hour without clicking, and the display never clicks. Any
 * other page counts as in use only when someone pressed a key, clicked or
 * touched it since the last call. A closed or sleeping browser sends
 * nothing, so its session runs out.
 */

// document.currentScript is null in a module: find the tag by its data.
const script = document.querySelector("script[data-interval][src*='js/session.js']");
const seconds = Number(script && script.dataset.interval) || 600;
const livePage = document.body.hasAttribute("data-dialogue-id");
let usedSinceLastCall = false;

for (const type of ["keydown", "pointerdown", "touchstart"]) {
  document.addEventListener(type, () => { usedSinceLastCall = true; }, { passive: true, capture: true });
}

async function sayAlive() {
  if (!livePage && !usedSinceLastCall) return;
  usedSinceLastCall = false;
  try {
    await fetch("/session/alive", { credentials: "same-origin", cache: "no-store" });
  } catch (_error) {
    // Offline: the next call tries again; the live connection shows the state.
  }
}

setInterval(sayAlive, seconds * 1000);
