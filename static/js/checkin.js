/**
 * Check-in at the door. The page works without this module (the forms
 * post); here:
 * - the camera scans QR codes where the browser has BarcodeDetector
 *   (Chromium on Android, macOS, ChromeOS; it needs https or localhost);
 * - a scanned or typed link is checked in over the live connection
 *   (participants.check_in) and the answer shows at once; a code scanned
 *   twice is one check-in ("already checked in");
 * - the counts follow the "attendance" section and "presence" messages;
 * - the name search filters the participants section as one types.
 */
import { dialogueId, query, rawSocket, subscribe } from "./live.js";
import { el, newKey, setText, syncList } from "./util.js";

const roomCount = document.getElementById("count-room");
const onlineCount = document.getElementById("count-online");
const result = document.getElementById("result");
const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token");
const searchForm = document.getElementById("search-form");
const searchInput = document.getElementById("q");
const matches = document.getElementById("matches");
const recent = document.getElementById("recent");
const timeZone = document.body.dataset.timezone || undefined;
let people = [];

function clock(ms) {
  try {
    return new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone }).format(new Date(ms));
  } catch (_error) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
}

function show(state, title, detail) {
  result.hidden = false;
  result.dataset.state = state;
  result.replaceChildren(el("p", { class: "result-title" }, title), el("p", { class: "result-detail" }, detail));
}

async function checkIn(payload) {
  show("pending", "Checking…", "");
  try {
    // Not through the outbox: at the door a check-in must answer now or
    // fail visibly, not be queued for later. The key makes a retry safe.
    const ack = await query("participants.check_in", { payload, idempotency_key: newKey() });
    const { participant, already } = ack.result;
    const where = [participant.organization, participant.alternate ? "alternate" : ""].filter(Boolean).join(" · ");
    if (already) show("already", `Already checked in: ${participant.name}`, `${where} · since ${clock(ack.result.checked_in_at)}`);
    else show("ok", `Checked in: ${participant.name}`, where);
  } catch (error) {
    show("error", "Not checked in", (error && error.message) || "That did not work.");
  }
}

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const token = tokenInput.value.trim();
  tokenInput.value = "";
  tokenInput.focus();
  if (token) checkIn({ token });
});

// -- the counts -----------------------------------------------------------------------
function renderCounts(attendance) {
  if (!attendance) return;
  setText(roomCount, String(attendance.in_room));
  setText(onlineCount, attendance.online === null || attendance.online === undefined ? "–" : String(attendance.online));
}

const socket = rawSocket();
if (socket) {
  socket.on("presence", (message) => {
    if (message && message.dialogue_id === dialogueId) setText(onlineCount, String(message.online ?? "–"));
  });
}

// -- the name search ---------------------------------------------------------------------
function renderMatches() {
  const needle = searchInput.value.trim().toLocaleLowerCase();
  const found = needle
    ? people.filter((p) => `${p.name} ${p.organization} ${p.email || ""}`.toLocaleLowerCase().includes(needle)).slice(0, 20)
    : [];
  syncList(matches, found, (p) => p.id, () => el("li"), (node, p) => {
    const mode = p.channel === "room" ? (p.alternate ? "Alternate (in person)" : "In person") : "Online";
    let action;
    if (p.checked_in) action = el("span", { class: "badge", "data-status": "approved" }, "In the room");
    else if (p.channel === "room") {
      action = el("button", { type: "button", class: "button small primary", "aria-label": `Check in ${p.name}` }, "Check in");
      action.addEventListener("click", () => checkIn({ participant_id: p.id }));
    } else action = el("span", { class: "badge", "data-channel": "online" }, "Online");
    node.replaceChildren(el("span", { class: "person-name" }, p.name),
      el("span", { class: "person-org" }, `${p.organization || ""} · ${mode}`), el("span", { class: "channel" }, action));
  });
  const none = document.getElementById("no-match");
  if (none) none.hidden = true;
}

function renderRecent() {
  const done = people.filter((p) => p.checked_in).sort((a, b) => b.checked_in - a.checked_in).slice(0, 8);
  recent.replaceChildren(...(done.length
    ? done.map((p) => el("li", {}, `${clock(p.checked_in)} · ${p.name} (${p.organization || ""})`))
    : [el("li", { class: "empty-note" }, "Nobody yet.")]));
}

searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  renderMatches();
});
searchInput.addEventListener("input", renderMatches);

subscribe((state, changed) => {
  if (changed.includes("attendance")) renderCounts(state.sections.attendance);
  if (changed.includes("participants")) {
    people = state.sections.participants || [];
    if (searchInput.value.trim()) renderMatches();
    renderRecent();
  }
});

// -- the camera ------------------------------------------------------------------------------
const scanner = document.getElementById("scanner");
const video = document.getElementById("scanner-video");
const startButton = document.getElementById("scanner-start");
const stopButton = document.getElementById("scanner-stop");
const note = document.getElementById("scanner-note");
let stream = null;
let timer = null;
let lastCode = "";
let lastAt = 0;

async function startCamera(detector) {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (error) {
    setText(note, "The camera could not be opened (allow it, and use https). Type or paste the link instead.");
    return;
  }
  video.srcObject = stream;
  video.dataset.live = "";
  await video.play().catch(() => {});
  startButton.hidden = true;
  stopButton.hidden = false;
  setText(note, "Hold the QR code in front of the camera.");
  timer = setInterval(async () => {
    if (video.readyState < 2) return;
    let codes = [];
    try {
      codes = await detector.detect(video);
    } catch (_error) {
      return;
    }
    const code = codes.length ? codes[0].rawValue : "";
    const now = Date.now();
    if (!code || (code === lastCode && now - lastAt < 4000)) return; // the same code still in view
    lastCode = code;
    lastAt = now;
    if (navigator.vibrate) navigator.vibrate(80);
    checkIn({ token: code });
  }, 300);
}

function stopCamera() {
  clearInterval(timer);
  timer = null;
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  delete video.dataset.live;
  startButton.hidden = false;
  stopButton.hidden = true;
  setText(note, "");
}

async function setUpCamera() {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  let formats = [];
  try {
    formats = await window.BarcodeDetector.getSupportedFormats();
  } catch (_error) {
    return;
  }
  if (!formats.includes("qr_code")) return;
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  scanner.hidden = false;
  startButton.addEventListener("click", () => startCamera(detector));
  stopButton.addEventListener("click", stopCamera);
}

setUpCamera();
