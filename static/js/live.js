/**
 * The live connection every page of a dialogue uses.
 *
 * The server is the source of truth (docs: DESIGN.md). This module keeps a
 * copy of the dialogue's state as the role sees it: a version number and
 * named sections. It
 *
 * - connects with io({auth: {dialogue_id, role}}); the session cookie says
 *   who we are, <body data-dialogue-id data-role> which dialogue and role;
 * - takes the "snapshot" the server sends on (re)connect, applies "change"
 *   messages (replace the sections, upsert the records) and asks for a new
 *   snapshot when one is missing: a change whose prev_version is newer than
 *   the local version (docs/protocol.md, "Applying changes");
 * - applies "private" sections and records (a participant's own data);
 * - estimates the offset between the server's clock and ours, so that
 *   countdowns drawn from absolute end times agree across screens;
 * - shows the connection state in #connection (an aria-live region);
 * - sends commands with an idempotency key and keeps each unsent write in
 *   localStorage until the server acknowledges it, resending after a
 *   reconnect or a reload; a retry never makes a duplicate;
 * - stops for good on "session_ended" (a revoked link) and says why.
 *
 * Pages call subscribe(callback) and send(name, payload[, options]). Pages
 * that show their unsent writes (a participant's inputs typed offline) also
 * use pending(), onOutboxChange(callback) and onSettle(callback): a write
 * kept across a reload is acknowledged after the page that sent it is gone,
 * so its outcome reaches the new page through onSettle, not a promise.
 *
 * Each kept write is stamped with who sent it (from the "me" section): a
 * browser shared by two participants (two personal links opened one after
 * the other) must never send one person's unsent input in the other's name.
 * Kept writes are therefore sent once the snapshot says who we are.
 */
import { el, newKey } from "./util.js";

const body = document.body;
export const dialogueId = Number(body.dataset.dialogueId);
export const role = body.dataset.role || undefined;

/** Unsent writes older than this are not replayed after a reload: a
 *  "next item" from half an hour ago would do harm, not good. */
const OUTBOX_MAX_AGE_MS = 10 * 60 * 1000;
const OUTBOX_KEY = `moderation:outbox:${dialogueId}:${role || "default"}`;
// Kept in the outbox and sent again once reconnected: not connected, no
// answer yet, or the server was stopping (it refused before changing anything).
const TRANSIENT = new Set(["network", "timeout", "server_stopping"]);

/** The state as this role sees it. `sections` is null until the first snapshot. */
export const state = {
  version: Number(body.dataset.version) || 0,
  sections: null,
  records: {}, // kind -> Map(id -> record), for records without a section of their own
  hints: {}, // e.g. hints.inputs: the latest "inputs_hint" ({version, published})
  role,
};

const listeners = new Set();
const settleListeners = new Set();
const outboxListeners = new Set();
const connectionListeners = new Set();
const clockSamples = [];
let clockOffset = body.dataset.serverTime ? Number(body.dataset.serverTime) - Date.now() : 0;
let ended = false;
let resyncing = false;
let held = []; // change messages that arrived while a snapshot was on its way
let connection = "connecting";
let connectionDetail = "";
const sending = new Set(); // idempotency keys handed to the socket, not yet settled
const waiters = new Map(); // idempotency key -> {resolve, reject} of send()

// -- the clock -----------------------------------------------------------------
/** Milliseconds to add to Date.now() to get the server's time. */
export function clockOffsetMs() {
  return clockOffset;
}

/** The server's current time in epoch milliseconds. */
export function serverNow() {
  return Date.now() + clockOffset;
}

/** A message stamped at `serverTime` arrived at `receivedAt`; it cannot be
 *  older than its transit time, so the largest recent sample is the best
 *  estimate (the least delayed message). A few samples only, so that a
 *  corrected local clock is picked up soon. */
function sampleClock(serverTime, receivedAt = Date.now()) {
  if (typeof serverTime !== "number") return;
  clockSamples.push(serverTime - receivedAt);
  if (clockSamples.length > 5) clockSamples.shift();
  clockOffset = Math.max(...clockSamples);
}

// -- subscribers -------------------------------------------------------------------
/** callback(state, changedSectionNames) after every update; called at once
 *  if the state is already known. Returns an unsubscribe function. */
export function subscribe(callback) {
  listeners.add(callback);
  if (state.sections) callback(state, Object.keys(state.sections));
  return () => listeners.delete(callback);
}

function publish(changed) {
  for (const callback of listeners) {
    try {
      callback(state, changed);
    } catch (error) {
      console.error("a live-state subscriber failed", error); // eslint-disable-line no-console
    }
  }
}

// -- messages to the user ----------------------------------------------------------
/** Show a message in #messages. kind "error" stays until dismissed;
 *  "info" goes away after a few seconds. `action` adds a button. */
export function notify(message, { kind = "error", action = null } = {}) {
  const area = document.getElementById("messages");
  if (!area) {
    console.warn(message); // eslint-disable-line no-console
    return null;
  }
  const item = el("div", { class: `message message-${kind}`, role: kind === "error" ? "alert" : "status" },
    el("span", { class: "message-text" }, message));
  if (action) {
    const button = el("button", { type: "button", class: "button small" }, action.label);
    button.addEventListener("click", action.run);
    item.append(button);
  }
  const close = el("button", { type: "button", class: "message-close", "aria-label": "Dismiss this message" }, "×");
  close.addEventListener("click", () => item.remove());
  item.append(close);
  area.prepend(item);
  while (area.children.length > 4) area.lastElementChild.remove();
  if (kind === "info") setTimeout(() => item.remove(), 6000);
  return item;
}

// -- the connection indicator ----------------------------------------------------------
const LABELS = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  ended: "Session ended",
};

function showConnection(next, detail = "") {
  const changed = next !== connection || detail !== connectionDetail;
  connection = next;
  connectionDetail = detail;
  renderConnection();
  if (changed) {
    for (const callback of connectionListeners) {
      try {
        callback(next, detail);
      } catch (error) {
        console.error("a connection listener failed", error); // eslint-disable-line no-console
      }
    }
  }
}

/** callback(state, detail) whenever the connection state changes
 *  (connecting, connected, reconnecting, offline, ended). Returns an
 *  unsubscribe function. */
export function onConnection(callback) {
  connectionListeners.add(callback);
  return () => connectionListeners.delete(callback);
}

function renderConnection() {
  const box = document.getElementById("connection");
  if (!box) return;
  const unsent = ended ? 0 : ownEntries(loadOutbox()).length;
  let text = LABELS[connection] || connection;
  if (connectionDetail) text += ` – ${connectionDetail}`;
  if (unsent) text += ` · ${unsent} unsent`;
  box.dataset.state = connection;
  const label = box.querySelector(".connection-text") || box;
  if (label.textContent !== text) label.textContent = text;
  box.title = connection === "connected" ? "Connected: this page updates by itself." : text;
}

/** The connection state: connecting, connected, reconnecting, offline or ended. */
export function connectionState() {
  return connection;
}

/** True once the session ended (revoked link, changed roles): nothing more can be sent. */
export function sessionEnded() {
  return ended;
}

// -- the outbox (unsent writes, kept across reloads) --------------------------------------
let memoryOutbox = []; // when localStorage is unavailable (private mode, quota)

function loadOutbox() {
  try {
    const stored = JSON.parse(window.localStorage.getItem(OUTBOX_KEY) || "[]");
    return Array.isArray(stored) ? stored : [];
  } catch (_error) {
    return memoryOutbox.slice();
  }
}

function saveOutbox(entries) {
  memoryOutbox = entries.slice();
  try {
    if (entries.length) window.localStorage.setItem(OUTBOX_KEY, JSON.stringify(entries));
    else window.localStorage.removeItem(OUTBOX_KEY);
  } catch (_error) {
    // memoryOutbox keeps them for this page's life
  }
  renderConnection();
  const mine = ownEntries(entries);
  for (const callback of outboxListeners) {
    try {
      callback(mine);
    } catch (error) {
      console.error("an outbox listener failed", error); // eslint-disable-line no-console
    }
  }
}

/** Who this page speaks for, once the snapshot says so: "participant:12",
 *  or the role and name of a staff member. null before the first snapshot. */
function identity() {
  const me = state.sections && state.sections.me;
  if (!me) return null;
  return me.participant ? `participant:${me.participant.id}` : `${me.role || role || ""}:${me.name || ""}`;
}

/** Entries this page may show and send: its own, and unstamped ones (kept
 *  by an older version of this module, or sent before the first snapshot). */
function ownEntries(entries) {
  const who = identity();
  return entries.filter((entry) => !entry.who || !who || entry.who === who);
}

// Read-modify-write each time: another tab of the same role may share the outbox.
function outboxAdd(entry) {
  saveOutbox([...loadOutbox().filter((e) => e.key !== entry.key), entry]);
}

function outboxRemove(key) {
  saveOutbox(loadOutbox().filter((e) => e.key !== key));
}

/** Writes not yet acknowledged by the server (this page's person's only):
 *  [{key, name, payload, at}]. */
export function pending() {
  return ownEntries(loadOutbox());
}

/** callback(entries) whenever the outbox changes (a write kept, sent, dropped). */
export function onOutboxChange(callback) {
  outboxListeners.add(callback);
  return () => outboxListeners.delete(callback);
}

/** callback(entry, outcome) when a write is settled, also one kept from an
 *  earlier page load. outcome: {ok: true, ack} or {ok: false, error, final};
 *  final false means the write is still kept and will be sent again. */
export function onSettle(callback) {
  settleListeners.add(callback);
  return () => settleListeners.delete(callback);
}

function announceSettled(entry, outcome) {
  for (const callback of settleListeners) {
    try {
      callback(entry, outcome);
    } catch (error) {
      console.error("a settle listener failed", error); // eslint-disable-line no-console
    }
  }
}

// -- the socket ------------------------------------------------------------------------
function refusal(err) {
  // python-socketio sends ConnectionRefusedError's arguments as message/data.
  if (err && err.data && typeof err.data === "object" && err.data.message) return err.data;
  const text = err && err.message ? String(err.message) : "";
  const message = text.match(/'message':\s*(['"])(.*?)\1\s*[,}]/);
  const code = text.match(/'code':\s*'([a-z_]+)'/);
  if (message) return { code: code ? code[1] : "refused", message: message[2] };
  return { code: "refused", message: text || "The server refused the connection." };
}

function connect() {
  if (!Number.isInteger(dialogueId) || dialogueId <= 0) return null;
  if (typeof window.io !== "function") {
    showConnection("offline", "the live connection could not be loaded");
    return null;
  }
  const s = window.io({ auth: { dialogue_id: dialogueId, role }, ackTimeout: 10000, retries: 3 });
  s.on("connect", () => {
    showConnection("connected");
    flushOutbox(); // on a reconnect; a fresh page sends once the snapshot says who we are
  });
  s.on("disconnect", (reason) => {
    if (ended) return;
    if (s.active) {
      showConnection("reconnecting");
    } else if (reason === "io server disconnect") {
      // Closed by the server without a "session_ended": try once more; a
      // refusal then says why.
      showConnection("reconnecting");
      setTimeout(() => { if (!ended) s.connect(); }, 2000);
    } else {
      showConnection("offline");
    }
  });
  s.on("connect_error", (err) => {
    if (ended) return;
    if (s.active) {
      showConnection(navigator.onLine === false ? "offline" : "reconnecting",
        navigator.onLine === false ? "no network" : "");
      return;
    }
    const error = refusal(err);
    if (error.code === "server_stopping") {
      // This process is stopping; the next attempt reaches another (or this one, restarted).
      showConnection("reconnecting");
      setTimeout(() => { if (!ended) s.connect(); }, 1000 + Math.random() * 2000);
      return;
    }
    showConnection("offline", error.message);
    notify(error.message, { action: { label: "Reload page", run: () => window.location.reload() } });
  });
  s.on("snapshot", (snapshot) => applySnapshot(snapshot));
  s.on("change", (message) => onChange(message));
  s.on("private", (message) => onPrivate(message));
  s.on("inputs_hint", (message) => {
    if (!message || message.dialogue_id !== dialogueId) return;
    state.hints.inputs = message;
    publish(["inputs_hint"]);
  });
  s.on("session_ended", (message) => endSession(message && message.reason));
  // The server is restarting: it closes the connection next, and socket.io
  // reconnects with its backoff (behind a load balancer, to another process).
  s.on("server_stopping", () => { if (!ended) showConnection("reconnecting"); });
  s.io.on("reconnect_attempt", () => {
    if (!ended) showConnection(navigator.onLine === false ? "offline" : "reconnecting",
      navigator.onLine === false ? "no network" : "");
  });
  window.addEventListener("offline", () => { if (!ended && !s.connected) showConnection("offline", "no network"); });
  window.addEventListener("online", () => { if (!ended && !s.connected) showConnection("reconnecting"); });
  return s;
}

// -- applying state ------------------------------------------------------------------
function applySnapshot(snapshot, receivedAt = Date.now()) {
  if (!snapshot || snapshot.dialogue_id !== dialogueId || !snapshot.sections) return false;
  sampleClock(snapshot.server_time, receivedAt);
  if (state.sections && snapshot.version < state.version) return false; // older than what we show
  state.version = snapshot.version;
  state.sections = { ...snapshot.sections };
  state.records = {};
  state.role = snapshot.role;
  stampOutbox();
  publish(Object.keys(snapshot.sections));
  flushOutbox();
  return true;
}

/** Writes made before the first snapshot belong to this page's person. */
function stampOutbox() {
  const who = identity();
  if (!who) return;
  const entries = loadOutbox();
  if (entries.some((entry) => !entry.who)) saveOutbox(entries.map((entry) => (entry.who ? entry : { ...entry, who })));
}

function onChange(message) {
  if (!message || message.dialogue_id !== dialogueId) return;
  sampleClock(message.server_time);
  if (resyncing) {
    held.push(message);
    return;
  }
  if (!state.sections) {
    held.push(message);
    requestSnapshot();
    return;
  }
  if (message.version <= state.version) return; // seen already (or covered by a snapshot)
  // A role is sent only the changes that show it something, so versions
  // skip; prev_version names the change sent to this role before this one.
  // Without it (an older server) any skip counts as a gap.
  const previous = typeof message.prev_version === "number" ? message.prev_version : message.version - 1;
  if (previous > state.version) { // a gap: a change meant for us did not arrive
    held.push(message);
    requestSnapshot();
    return;
  }
  state.version = message.version;
  publish(applyParts(message));
}

/** Replace the given sections, upsert the given records; return what changed. */
function applyParts(message) {
  const changed = [];
  for (const [name, value] of Object.entries(message.sections || {})) {
    state.sections[name] = value;
    changed.push(name);
  }
  for (const [kind, records] of Object.entries(message.records || {})) {
    if (!Array.isArray(records) || !records.length) continue;
    upsertRecords(kind, records);
    changed.push(kind);
  }
  return changed;
}

/** Records travel one by one (lists too long to resend whole). They are
 *  upserted by id into the section of the same name when there is one (a
 *  participant's my_inputs), else into state.records[kind] (a Map by id). */
function upsertRecords(kind, records) {
  const list = state.sections[kind];
  if (Array.isArray(list)) {
    const index = new Map(list.map((record, i) => [record.id, i]));
    for (const record of records) {
      if (index.has(record.id)) list[index.get(record.id)] = record;
      else list.push(record);
    }
    return;
  }
  const map = state.records[kind] || (state.records[kind] = new Map());
  for (const record of records) map.set(record.id, record);
}

function onPrivate(message) {
  if (!message || message.dialogue_id !== dialogueId || !state.sections) return;
  publish(applyParts(message)); // whole sections and records: no ordering needed
}

/** Ask for the whole state again; changes arriving meanwhile are held and
 *  replayed on top of it. */
export async function requestSnapshot() {
  if (resyncing || !socket || ended) return;
  resyncing = true;
  try {
    const started = Date.now();
    const ack = await socket.emitWithAck("snapshot", {});
    if (ack && ack.ok) applySnapshot(ack.snapshot, (started + Date.now()) / 2);
  } catch (_error) {
    // not connected: the server sends a snapshot on the next connect anyway
  } finally {
    resyncing = false;
    const replay = held.sort((a, b) => a.version - b.version);
    held = [];
    for (const message of replay) onChange(message);
  }
}

/** A read that changes nothing (e.g. "inputs.list"): no idempotency key,
 *  no outbox. Resolves with the ack; rejects with its error. */
export async function query(event, data = {}) {
  if (!socket || ended) throw { code: "network", message: "Not connected." };
  let ack;
  try {
    ack = await socket.emitWithAck(event, data);
  } catch (err) {
    throw { code: /timed out/i.test(String(err && err.message)) ? "timeout" : "network",
      message: "The server could not be reached; try again." };
  }
  if (ack && ack.ok) return ack;
  throw (ack && ack.error) || { code: "internal", message: "The server gave no answer we understand." };
}

// -- sending commands ------------------------------------------------------------------
/**
 * Send a command, e.g. send("agenda.advance", {from_item_id: 3}).
 * Resolves with the ack {ok, version, result, replayed}; rejects with an
 * error {code, message, details?}. "network" and "timeout" errors leave the
 * write in the outbox (it is sent again after reconnecting); any other
 * error is definitive: the write is dropped and the message shown.
 *
 * options.keepFor: how long (ms) an unsent write may still be sent after a
 *   reload or a long disconnection (default 10 minutes: a stale "next item"
 *   does harm; a participant's input does not and may be kept longer).
 * options.quiet: the page shows definitive errors itself (no #messages).
 * options.key: the idempotency key, when the caller made it earlier (a
 *   console press held while offline keeps its key until it is sent).
 * The returned promise carries the write's idempotency key as `.key`.
 * While the connection is down the promise stays pending (Socket.IO holds
 * the write); watch onSettle/onOutboxChange to show what is kept.
 */
export function send(name, payload = {}, options = {}) {
  if (ended) {
    const refused = Promise.reject({ code: "session_ended", message: "This session has ended; reload the page." });
    refused.key = null;
    return refused;
  }
  const entry = { key: options.key || newKey(), name, payload, at: Date.now(), who: identity() };
  if (options.keepFor) entry.keepFor = options.keepFor;
  if (options.quiet) entry.quiet = true;
  outboxAdd(entry);
  const promise = new Promise((resolve, reject) => {
    waiters.set(entry.key, { resolve, reject });
    transmit(entry);
  });
  promise.key = entry.key;
  return promise;
}

function transmit(entry) {
  if (!socket || sending.has(entry.key) || ended) return;
  sending.add(entry.key);
  // With `retries`, socket.io queues the emit while disconnected and
  // retries it (same idempotency key) until acknowledged or out of tries.
  socket.emit(entry.name, { payload: entry.payload, idempotency_key: entry.key },
    (err, ack) => settle(entry, err, ack));
}

function settle(entry, err, ack) {
  sending.delete(entry.key);
  const waiter = waiters.get(entry.key);
  waiters.delete(entry.key);
  if (err) {
    const timeout = /timed out/i.test(String(err.message || ""));
    const error = timeout
      ? { code: "timeout", message: "The server has not answered yet; the action is kept and sent again." }
      : { code: "network", message: "Not connected; the action is kept and sent when the connection is back." };
    if (waiter) waiter.reject(error);
    if (socket && socket.connected) setTimeout(flushOutbox, 5000);
    renderConnection();
    announceSettled(entry, { ok: false, error, final: false });
    return;
  }
  outboxRemove(entry.key);
  if (ack && ack.ok) {
    if (waiter) waiter.resolve(ack);
    announceSettled(entry, { ok: true, ack });
    return;
  }
  const error = (ack && ack.error) || { code: "internal", message: "The server gave no answer we understand." };
  const transient = TRANSIENT.has(error.code);
  if (transient) outboxAdd(entry); // never from the server, but keep the promise
  else if (!entry.quiet) notify(error.message || "That did not work.");
  if (waiter) waiter.reject(error);
  announceSettled(entry, { ok: false, error, final: !transient });
}

/** Send every write of this page's person still in the outbox that is not
 *  on its way already (only once a snapshot said who that is). */
function flushOutbox() {
  if (!socket || !socket.connected || ended || !state.sections) return;
  const now = Date.now();
  const who = identity();
  for (const entry of loadOutbox()) {
    if (sending.has(entry.key)) continue;
    const tooOld = now - entry.at > (entry.keepFor || OUTBOX_MAX_AGE_MS);
    if (entry.who && who && entry.who !== who) {
      // Someone else's, kept in this browser: never sent from here; forgotten once stale.
      if (tooOld) outboxRemove(entry.key);
      continue;
    }
    if (tooOld) {
      outboxRemove(entry.key);
      const at = new Date(entry.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const message = `An action from ${at} (${entry.name}) could not be sent in time and was dropped.`;
      if (!entry.quiet) notify(message);
      announceSettled(entry, { ok: false, error: { code: "expired", message }, final: true });
      continue;
    }
    transmit(entry);
  }
}

// -- the end of a session ------------------------------------------------------------
function endSession(reason) {
  if (ended) return;
  ended = true;
  const dropped = ownEntries(loadOutbox());
  const droppedKeys = new Set(dropped.map((entry) => entry.key));
  // Nothing more can be sent with this link (another person's kept writes stay).
  saveOutbox(loadOutbox().filter((entry) => !droppedKeys.has(entry.key)));
  for (const [key, waiter] of waiters) {
    waiter.reject({ code: "session_ended", message: reason || "This session has ended." });
    waiters.delete(key);
  }
  for (const entry of dropped) {
    announceSettled(entry, { ok: false, final: true,
      error: { code: "session_ended", message: reason || "This session has ended." } });
  }
  if (socket) socket.disconnect();
  showConnection("ended", reason || "");
  notify(reason || "This session has ended.", {
    action: { label: "Reload page", run: () => window.location.reload() },
  });
  body.dataset.ended = "";
}

const socket = connect();
renderConnection();

/** The underlying Socket.IO socket (tests and debugging). */
export function rawSocket() {
  return socket;
}
