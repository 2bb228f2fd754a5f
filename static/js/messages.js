/**
 * Clear sentences for the server's errors on the participant's page: never
 * a raw code. The server's own message is used when it has one (its
 * messages are written for people: "The list of speakers is closed for this
 * item.", the input window with its times, "You have already submitted this
 * text."); a code without a usable message gets a sentence here.
 */

const BY_CODE = {
  session_ended: "Your personal link no longer works (it was revoked or replaced). Ask the secretariat for a new link.",
  link_revoked: "Your personal link no longer works (it was revoked or replaced). Ask the secretariat for a new link.",
  unauthenticated: "Your session has ended. Open your personal link again.",
  forbidden: "This is not possible with your access.",
  not_found: "That is no longer there; the page has been updated.",
  conflict: "Things have moved on meanwhile; the page shows the current state.",
  too_large: "That is too long to send.",
  rate_limited: "You are sending too quickly. Please wait a moment and try again.",
  unavailable: "The server cannot store anything right now. Please try again in a minute.",
  internal: "Something went wrong on the server. Nothing was changed; please try again.",
  network: "Not connected: this is kept and sent when the connection is back.",
  timeout: "The server has not answered yet: this is kept and sent again.",
  server_stopping: "The server is restarting: this is kept and sent again once reconnected.",
  expired: "This could not be sent in time and was dropped.",
};

/** Seconds to wait before trying again (rate_limited), or null. */
export function retryAfter(error) {
  const details = error && error.details;
  const seconds = details && !Array.isArray(details) && typeof details === "object" ? Number(details.retry_after) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : null;
}

function looksLikeCode(text) {
  return /^[a-z_]+$/.test(text);
}

/** A sentence for an error {code, message, details}. */
export function explain(error) {
  if (!error) return BY_CODE.internal;
  const code = error.code || "internal";
  const message = typeof error.message === "string" ? error.message.trim() : "";
  if (code === "rate_limited") {
    const wait = retryAfter(error);
    return wait ? `You are sending too quickly. Please wait ${wait} seconds and try again; your text is kept.`
      : BY_CODE.rate_limited;
  }
  if (code === "session_ended" || code === "link_revoked") return BY_CODE[code];
  if (code === "invalid_payload" && Array.isArray(error.details) && error.details.length) {
    const first = error.details[0];
    if (message && !looksLikeCode(message) && !/^\d+ validation error/.test(message)) return message;
    if (first && first.message) return `Please check the form: ${first.message}.`;
  }
  if (message && !looksLikeCode(message)) return message;
  return BY_CODE[code] || BY_CODE.internal;
}
