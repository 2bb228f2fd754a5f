"""How long a browser stays signed in.

The session cookie (signed by Flask, so the browser cannot alter it) records
when the browser signed in and when it was last seen. A session ends

- ``SESSION_MAX_HOURS`` after sign-in, however active (absolute timeout), and
- ``SESSION_IDLE_MINUTES`` after the browser was last seen (idle timeout).

Every HTTP request checks both and, while the session lives, moves "last
seen" on. A page left open counts as presence: ``static/js/session.js``
asks ``/session/alive`` now and then, so that a participant who listens for
an hour without clicking, or the display on the wall, stays signed in, while
a closed, sleeping or disconnected browser does not. Socket.IO checks both
when a connection opens (its cookie is the one the browser last got) and the
absolute timeout on every event (``realtime.py``); an open connection is
present by definition, so idle time cannot grow while it lasts.

An ended session is cleared: the browser is anonymous again. Ending a user's
sessions on purpose (``user.end_sessions``) works differently, through the
account's session epoch, checked against the database on every request.
Bearer tokens (the API, Socket.IO ``auth.token``) are not sessions: they
last until revoked."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, jsonify, request, session

security_log = logging.getLogger("moderation.security")
# Seconds since the epoch; tests replace it to move time on.
clock = time.time
TOUCH_SECONDS = 30           # "last seen" moves on at most this often
KEEPALIVE_MAX_SECONDS = 600  # an open page says it is there at least this often


def is_signed_in(values: Mapping[str, Any]) -> bool:
    return isinstance(values.get("uid"), int) or isinstance(values.get("cid"), int)


def start(values: dict[str, Any]) -> None:
    """Stamp a fresh sign-in."""
    now = int(clock())
    values["signed_in"] = now
    values["seen"] = now


def limits(config: Mapping[str, Any]) -> tuple[int, int]:
    """(idle, absolute) limits in seconds."""
    return config["SESSION_IDLE_MINUTES"] * 60, config["SESSION_MAX_HOURS"] * 3600


def deadline(values: Mapping[str, Any], config: Mapping[str, Any]) -> float | None:
    """When the session in ``values`` ends however active it is, or None
    when nobody is signed in."""
    signed_in = values.get("signed_in")
    if not is_signed_in(values) or not isinstance(signed_in, int):
        return None
    return signed_in + limits(config)[1]


def ended(values: Mapping[str, Any], config: Mapping[str, Any], *, present: bool = False) -> str | None:
    """Why the signed-in session in ``values`` has ended, or None while it
    lives (or when nobody is signed in). ``present``: the browser is known to
    be there right now (an open Socket.IO connection), so idle time is zero."""
    expiry = _expiry(values, config, present)
    return expiry[1] if expiry else None


def _expiry(values: Mapping[str, Any], config: Mapping[str, Any], present: bool) -> tuple[str, str] | None:
    """(kind, message) of an ended session: kind is idle, absolute or unstamped."""
    if not is_signed_in(values):
        return None
    signed_in, seen = values.get("signed_in"), values.get("seen")
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        return "unstamped", "Your session has ended. Please sign in again."
    idle, absolute = limits(config)
    now = clock()
    if now - signed_in > absolute:
        return "absolute", (f"Your session has ended: a sign-in lasts at most {config['SESSION_MAX_HOURS']} hours. "
                            "Please sign in again (participants: open your personal link again).")
    if not present and now - seen > idle:
        return "idle", (f"Your session has ended after {config['SESSION_IDLE_MINUTES']} minutes without activity. "
                        "Please sign in again (participants: open your personal link again).")
    return None


def keepalive_seconds(config: Mapping[str, Any]) -> int:
    """How often an open page says it is there: well inside the idle limit."""
    return max(15, min(KEEPALIVE_MAX_SECONDS, limits(config)[0] // 4))


def enforce() -> None:
    """Before every request: end an expired session, or note that the
    browser was seen. The reason is kept for the sign-in page."""
    if not is_signed_in(session):
        return
    expiry = _expiry(session, current_app.config, present=False)
    if expiry is not None:
        security_log.info("session of uid=%s cid=%s ended (%s timeout)", session.get("uid"), session.get("cid"),
                          expiry[0])
        session.clear()
        session["notice"] = expiry[1]
        return
    now = int(clock())
    if now - session["seen"] >= TOUCH_SECONDS:
        session["seen"] = now


def alive():
    """An open page saying it is still there (``static/js/session.js``)."""
    if is_signed_in(session):
        response = jsonify({"ok": True})
    else:
        response = jsonify({"ok": False, "error": {"code": "unauthenticated",
                                                   "message": session.get("notice") or "Not signed in."}})
        response.status_code = 401
    response.headers["Cache-Control"] = "no-store"
    return response


def private(response):
    """Pages and answers for a signed-in browser are for it alone (names,
    e-mail addresses, links): no cache may keep them."""
    if is_signed_in(session) and request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.before_request(enforce)
    app.after_request(private)
    app.add_url_rule("/session/alive", "session_alive", alive, methods=["GET"])

    @app.context_processor
    def _keepalive():
        return {"session_keepalive": keepalive_seconds(app.config) if is_signed_in(session) else None}
