/**
 * Being given the floor is noticed, also with the page in a tab behind the
 * video call: when the participant becomes next on the list (one speaker
 * ahead) and when they are given the floor, the tab's title and icon change,
 * a phone vibrates, and — only if asked for — a short chime plays (made here
 * with WebAudio, no sound file) and a browser notification shows while the
 * page is hidden. The chime is a checkbox remembered on this device; the
 * notification needs the permission that the "Notify me" button asks for
 * (never asked on load).
 */
const CHIME_KEY = "moderation:chime";
const TITLES = { next: "You are next", speaking: "● You have the floor" };

const chimeBox = document.getElementById("alert-chime");
const notifyButton = document.getElementById("alert-notify");
const notifyStatus = document.getElementById("alert-notify-status");
const alerts = document.getElementById("floor-alerts");
const ICONS = alerts ? { next: alerts.dataset.iconNext, speaking: alerts.dataset.iconSpeaking } : {};
const baseTitle = document.title;
const iconLink = document.querySelector("link[rel='icon']");
const baseIcon = iconLink ? iconLink.getAttribute("href") : null;

let level = "none"; // "none", "next" or "speaking": what the page last signalled
let audio = null;

function storage(action, value) {
  try {
    if (action === "get") return window.localStorage.getItem(CHIME_KEY);
    if (value) window.localStorage.setItem(CHIME_KEY, "on");
    else window.localStorage.removeItem(CHIME_KEY);
  } catch (_error) {
    // private mode: the box still works for this page
  }
  return null;
}

function chimeWanted() {
  return Boolean(chimeBox && chimeBox.checked);
}

/** Two or three short tones; nothing if the browser has no WebAudio. */
function chime(notes) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  try {
    audio = audio || new Context();
    if (audio.state === "suspended" && audio.resume) audio.resume();
    let at = audio.currentTime + 0.02;
    for (const frequency of notes) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.28);
      tone.connect(gain).connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.3);
      at += 0.32;
    }
  } catch (_error) {
    // no sound: the title, the icon and the page still say it
  }
}

function notify(title, body) {
  if (!("Notification" in window) || window.Notification.permission !== "granted") return;
  if (document.visibilityState !== "hidden") return; // the page itself says it
  try {
    const note = new window.Notification(title, { body, tag: "moderation-floor", renotify: true });
    note.onclick = () => { window.focus(); note.close(); };
  } catch (_error) {
    // some phones only notify from a service worker: the title and vibration remain
  }
}

function setIcon(href) {
  if (iconLink && href) iconLink.setAttribute("href", href);
}

/** The floor state changed: ``state`` is floor.js's ("waiting", "speaking",
 *  ...), ``position`` one's place on the list when waiting. */
export function signalFloor(state, position, details = "") {
  const next = state === "speaking" ? "speaking" : (state === "waiting" && position === 1 ? "next" : "none");
  if (next === level) return;
  level = next;
  if (next === "none") {
    document.title = baseTitle;
    setIcon(baseIcon);
    return;
  }
  document.title = `${TITLES[next]} — ${baseTitle}`;
  setIcon(ICONS[next]);
  if (typeof navigator.vibrate === "function") {
    try { navigator.vibrate(next === "speaking" ? [300, 120, 300, 120, 300] : [200]); } catch (_error) { /* not allowed */ }
  }
  if (chimeWanted()) chime(next === "speaking" ? [660, 880, 1320] : [660, 880]);
  notify(next === "speaking" ? "You have the floor" : "You are next",
    next === "speaking" ? details || "Please start speaking." : "One speaker before you. Get ready to speak.");
}

function showPermission() {
  if (!notifyButton) return;
  if (!("Notification" in window)) {
    notifyButton.hidden = true;
    return;
  }
  const permission = window.Notification.permission;
  notifyButton.hidden = permission !== "default";
  notifyStatus.textContent = permission === "granted" ? "You will be notified when you are next and when you have the floor, while this page is in the background."
    : permission === "denied" ? "Notifications are blocked for this page in your browser's settings." : "";
}

export function initTurnNotice() {
  if (chimeBox) {
    chimeBox.checked = storage("get") === "on";
    chimeBox.addEventListener("change", () => {
      storage("set", chimeBox.checked);
      // Played once on ticking the box: browsers let a page make sound after a tap only.
      if (chimeBox.checked) chime([880]);
    });
  }
  if (notifyButton) {
    showPermission();
    notifyButton.addEventListener("click", async () => {
      try {
        const asked = window.Notification.requestPermission();
        if (asked && asked.then) await asked;
      } catch (_error) {
        // an old browser with the callback form only: the status says what holds
      }
      showPermission();
    });
  }
}
