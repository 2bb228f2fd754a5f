"""Socket.IO: a thin adapter over the service.

A connection belongs to one dialogue and one role, chosen at connect and
checked against the database. It joins the room of that role in that
dialogue, a room for its credential or user (so that revoking ends it) and,
for a participant, a private room. Every event is re-authorized by the command
layer. Commands arrive as events named after the command and are acknowledged
only after commit.
"""
from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from flask import request, session
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room  # not the builtin

from moderation.core.attempts import token_attempt
from moderation.core.auth import Principal
from moderation.core.commands import REGISTRY, Outcome
from moderation.core.errors import CommandError, Forbidden, InvalidPayload, RateLimited, Unauthenticated, UnknownCommand
from moderation.core.rate_limits import EventGate
from moderation.core.reads import READS
from moderation.core.service import Service
from moderation.core.shutdown import InFlight
from moderation.core.storable import fits
from moderation.models import Role
from moderation.web import sessions
from moderation.web.packets import PacketGuard, PollingBodyCheck
from moderation.web.principal import principal_from_session

log = logging.getLogger(__name__)
HINT_INTERVAL = 1.0   # at most one inputs hint a second per dialogue
HINT_TICK = 0.25
# Hints go to the participants a slice at a time (see Realtime.send_hint).
HINT_SLICES = 8
# What one event takes from its connection's bucket (EVENT_BURST, refilled at
# EVENT_RATE_PER_SECOND): a snapshot or a page of inputs is built for the
# caller alone and costs as much as many ordinary events, so a client asking
# for them over and over is refused after a few instead of being served
# (and keeping the room waiting) for as long as it asks. Connecting builds a
# snapshot too; a command is a write, taken in turn with everyone else's.
SNAPSHOT_COST = 10
INPUTS_PAGE_COST = 4
COMMAND_COST = 3
FLOOD_COOLDOWN = 30.0  # s before a link whose connection was closed for flooding may connect again
SESSION_SWEEP = 30.0  # seconds between looks for connections whose sign-in has run out


def role_room(dialogue_id: int, role: Role | str) -> str:
    return f"d{dialogue_id}/{Role(role).value}"


def slice_room(dialogue_id: int, role: Role | str, index: int) -> str:
    """One of the HINT_SLICES rooms that together hold a role's connections."""
    return f"d{dialogue_id}/{Role(role).value}/{index}"


def participant_room(participant_id: int) -> str:
    return f"p{participant_id}"


def principal_room(principal: Principal) -> str:
    return principal.scope


@dataclass
class Connection:
    principal: Principal
    dialogue_id: int
    role: Role
    participant_id: int | None
    # When the browser session behind the connection ends however active
    # (sessions.py); None for bearer tokens, which last until revoked.
    deadline: float | None = None
    # One event of a connection is handled at a time, in the order they
    # came: a client sending many at once queues behind itself, not in
    # front of everyone else (the database's write lock is taken in turn).
    turn: Any = field(default_factory=threading.Lock)



def error_ack(exc: CommandError) -> dict[str, Any]:
    return {"ok": False, "error": exc.to_dict()}


def one_argument(args: tuple) -> Any:
    """The one argument an event carries (None when it carries none)."""
    if len(args) > 1:
        raise InvalidPayload(f"Send one argument with the event, not {len(args)}.")
    return args[0] if args else None


INTERNAL = {"ok": False, "error": {"code": "internal",
                                   "message": "Something went wrong on the server. Nothing was changed; "
                                              "please try again."}}


class Realtime:
    """Registers the Socket.IO handlers for one app and broadcasts outcomes."""

    def __init__(self, socketio: SocketIO, service: Service):
        self.socketio = socketio
        self.service = service
        self.connections: dict[str, Connection] = {}
        settings = service.app.config
        # Packets a client cannot mean are answered or dropped as they are
        # read (before the rate limit's gate wraps the reader).
        PacketGuard(socketio.server)
        app = service.app
        app.wsgi_app = PollingBodyCheck(app.wsgi_app, max_bytes=app.config["MAX_PAYLOAD_BYTES"])
        # The rate limit on events, applied as each message is read.
        self.flood_cooldown: dict[str, float] = {}  # principal scope -> when it may connect again
        self.event_gate = EventGate(
            socketio.server.eio, capacity=settings["EVENT_BURST"], rate=settings["EVENT_RATE_PER_SECOND"],
            flood_after=settings["FLOOD_DISCONNECT_AFTER"],
            costs={**dict.fromkeys(REGISTRY, COMMAND_COST), "snapshot": SNAPSHOT_COST, "connect": SNAPSHOT_COST,
                   "inputs.list": INPUTS_PAGE_COST},
            refusal=lambda retry_after: error_ack(RateLimited("Too many messages: slow down.",
                                                               {"retry_after": retry_after})),
            on_flood=self._flooded)
        self._pending_hints: dict[int, dict[str, Any]] = {}
        self._slices = itertools.count()
        self._hint_lock = threading.Lock()
        self._hint_task = None
        self._sweep_task = None
        self._sweep_lock = threading.Lock()
        # Called with (dialogue_id, participant_id) when a participant's
        # connection opens or closes (online attendance, accreditation_web).
        self.presence_listeners: list[Any] = []
        # Events being handled, and whether the process is stopping (shutdown.py).
        self.in_flight = InFlight()
        service.listeners.append(self.broadcast)
        socketio.on_event("connect", self.on_connect)
        socketio.on_event("disconnect", self.on_disconnect)
        socketio.on_event("snapshot", self.on_snapshot)
        for spec in READS.values():
            if spec.event:
                socketio.on_event(spec.name, self._read_handler(spec.name))
        for name in REGISTRY:
            socketio.on_event(name, self._command_handler(name))
        socketio.on_event("*", self.on_unknown_event)  # every other event name
        socketio.on_error_default(self.on_error)

    # -- connections -----------------------------------------------------------
    def _session_principal(self) -> tuple[Principal, float | None]:
        """Who connects with the browser's cookie, and when that browser
        session ends. (The cookie is the one the browser last got: it says
        when the browser signed in and was last seen.)"""
        reason = sessions.ended(session, self.service.app.config)
        if reason is not None:
            raise Unauthenticated(reason)
        return principal_from_session(), sessions.deadline(session, self.service.app.config)

    def on_connect(self, auth=None):
        auth = auth if isinstance(auth, dict) else {}
        try:
            self.in_flight.check()  # a stopping process takes no new connection
            dialogue_id = auth.get("dialogue_id")
            if not isinstance(dialogue_id, int) or isinstance(dialogue_id, bool) or not fits(dialogue_id):
                raise InvalidPayload("Connect with auth {dialogue_id: <number>}.")
            token = auth.get("token")
            if isinstance(token, str) and token:  # a link's or API token: no end but its revocation
                principal, deadline, guessing = None, None, token_attempt()
            else:
                token, guessing = None, nullcontext()
                principal, deadline = self._session_principal()
            with guessing:  # a token that is not valid counts, as at /l/<token>
                principal, actor, role, snapshot = self.service.join(
                    dialogue_id, auth.get("role"), principal=principal, token=token, admit=self._check_cooldown)
        except CommandError as exc:
            raise ConnectionRefusedError(exc.message, exc.to_dict()) from None  # message, data
        sid = request.sid
        self.connections[sid] = Connection(principal, dialogue_id, role, actor.participant_id, deadline=deadline)
        if deadline is not None:
            self._start_sweep()
        join_room(role_room(dialogue_id, role))
        if role is Role.PARTICIPANT:
            join_room(slice_room(dialogue_id, role, next(self._slices) % HINT_SLICES))
        join_room(principal_room(principal))
        if actor.participant_id is not None:
            join_room(participant_room(actor.participant_id))
        emit("snapshot", snapshot)
        self._presence(self.connections[sid])

    def on_disconnect(self, reason=None):
        self._presence(self.connections.pop(request.sid, None))

    def _presence(self, connection: Connection | None) -> None:
        if connection is None or connection.participant_id is None:
            return
        for listener in self.presence_listeners:
            try:
                listener(connection.dialogue_id, connection.participant_id)
            except Exception:  # attendance figures must never break a connection
                log.exception("presence listener failed")

    def _connection(self) -> Connection:
        """The caller's connection. (Its event is within the rate limit: the
        EventGate refused it otherwise, as it was read; Flask-SocketIO's test
        client, which bypasses Engine.IO, is not limited.)"""
        sid = request.sid
        connection = self.connections.get(sid)
        if connection is None:
            raise Unauthenticated("This connection is not set up; reconnect.")
        if self._expired(connection):
            reason = self._expiry_reason()
            self.end_connection(sid, reason)
            raise Unauthenticated(reason)
        return connection

    def _flooded(self, eio_sid: str) -> None:
        """A connection is being closed for flooding: its link (or user) may
        not connect again for FLOOD_COOLDOWN s, so that reconnecting at once
        does not buy a fresh allowance."""
        sid = self.socketio.server.manager.sid_from_eio_sid(eio_sid, "/")
        connection = self.connections.get(sid) if sid is not None else None
        if connection is not None:
            self.flood_cooldown[connection.principal.scope] = time.monotonic() + FLOOD_COOLDOWN

    def _check_cooldown(self, principal: Principal) -> None:
        until = self.flood_cooldown.get(principal.scope)
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            del self.flood_cooldown[principal.scope]
            return
        raise RateLimited(f"This link sent too many messages. It can connect again in "
                                           f"{math.ceil(left)} seconds.", {"retry_after": round(left, 1)})

    @contextmanager
    def _turn(self, connection: Connection):
        """Wait for this connection's turn; what a connection sent before it
        was closed is not done (a flooding client's queue is dropped)."""
        sid = request.sid
        with connection.turn:
            if self.connections.get(sid) is not connection:
                raise Unauthenticated("This connection has ended; reconnect.")
            with self.in_flight.admit():  # refused once the process is stopping; a stop waits for it
                yield

    def on_snapshot(self, *args):
        """A client asks for the whole state again (at start, or after a gap)."""
        try:
            one_argument(args)
            c = self._connection()
            with self._turn(c):
                return {"ok": True, "snapshot": self.service.snapshot(c.principal, c.dialogue_id, c.role)}
        except CommandError as exc:
            return error_ack(exc)

    def _read_handler(self, name: str):
        """A declared read served as an event (``inputs.list``, the
        assistant's): the data is its query (filters); the answer is the
        read's object with ``ok``."""
        def handle(*args):
            try:
                data = one_argument(args)
                c = self._connection()
                if data is not None and not isinstance(data, dict):
                    raise InvalidPayload("Send an object of filters.")
                with self._turn(c):
                    found = self.service.read(c.principal, c.dialogue_id, name, data or {}, c.role, strict=True)
                return {"ok": True, **found}
            except CommandError as exc:
                return error_ack(exc)
        handle.__name__ = "on_" + name.replace(".", "_")
        return handle

    def _command_handler(self, name: str):
        def handle(*args):
            try:
                data = one_argument(args)
                c = self._connection()
                if not isinstance(data, dict):
                    raise InvalidPayload("Send {payload: {...}, idempotency_key: '...'}.")
                payload = data.get("payload", {})
                if not isinstance(payload, dict):
                    raise InvalidPayload("The payload must be an object.")
                spec = REGISTRY[name]
                if spec.dialogue_scoped:
                    given = payload.setdefault("dialogue_id", c.dialogue_id)
                    if given != c.dialogue_id:
                        raise Forbidden("This connection belongs to another dialogue.")
                with self._turn(c):
                    outcome = self.service.dispatch(c.principal, name, payload, data.get("idempotency_key"))
                return outcome.ack()
            except CommandError as exc:
                return error_ack(exc)
        handle.__name__ = "on_" + name.replace(".", "_")
        return handle

    def on_unknown_event(self, event, *args):
        """Any event that is not a command or a read: ``unknown_command``, as for HTTP."""
        return error_ack(UnknownCommand(f"There is no event named {str(event)[:80]!r}."))

    def on_error(self, exc):
        from moderation.core.db import is_unavailable, unavailable_error
        if is_unavailable(exc):  # the database is away for a while: the client may retry
            log.warning("database unavailable in a Socket.IO handler: %s", type(exc).__name__)
            return error_ack(unavailable_error())
        log.exception("unhandled error in a Socket.IO handler: %s", exc)
        return INTERNAL

    # -- broadcasting ----------------------------------------------------------
    def broadcast(self, outcome: Outcome) -> None:
        changes = outcome.changes
        if outcome.dialogue_id is not None and changes is not None:
            for role, message in changes.roles.items():
                self.socketio.emit("change", message, to=role_room(outcome.dialogue_id, role))
            for participant_id, message in changes.private.items():
                self.socketio.emit("private", message, to=participant_room(participant_id))
            if changes.hint is not None:
                self._queue_hint(changes.hint)
        for effect, value in outcome.effects:
            if effect == "disconnect_credential":
                self.end_connections(Principal(credential_id=value).scope, "Your access link was revoked.")
            elif effect == "refresh_user":
                self.end_connections(f"u{value}", "Your roles or sessions changed. Reload the page to continue.")

    # -- the inputs hint -------------------------------------------------------
    # Hundreds of participants do not need every input the moment it is
    # stored: they get at most a few hints a second per dialogue saying how
    # many inputs are published, and fetch the page they are looking at.
    def _queue_hint(self, hint: dict[str, Any]) -> None:
        with self._hint_lock:
            self._pending_hints[hint["dialogue_id"]] = hint
            if self._hint_task is None:
                self._hint_task = self.socketio.start_background_task(self._hint_loop)

    def _hint_loop(self) -> None:
        last_sent: dict[int, float] = {}
        while True:
            self.socketio.sleep(HINT_TICK)
            now = time.monotonic()
            with self._hint_lock:
                due = {d: h for d, h in self._pending_hints.items() if now - last_sent.get(d, 0.0) >= HINT_INTERVAL}
                for dialogue_id in due:
                    del self._pending_hints[dialogue_id]
            for dialogue_id, hint in due.items():
                last_sent[dialogue_id] = now
                self.send_hint("inputs_hint", hint, dialogue_id, (Role.PARTICIPANT, Role.DISPLAY))

    def send_hint(self, event: str, message: dict[str, Any], dialogue_id: int, roles) -> None:
        """Send a hint (no version: the latest one wins) to every connection
        of ``roles``. The participants get it a slice at a time, letting
        other work run in between: sent to a room of a thousand at once, it
        would hold back everyone's acknowledgements while it is written out."""
        for role in roles:
            if Role(role) is not Role.PARTICIPANT:
                self.socketio.emit(event, message, to=role_room(dialogue_id, role))
                continue
            for index in range(HINT_SLICES):
                self.socketio.emit(event, message, to=slice_room(dialogue_id, role, index))
                self.socketio.sleep(0)

    # -- sessions that run out ----------------------------------------------------
    # An open connection is present, so only the absolute timeout can run
    # out while it lasts: it is checked on every event and, for connections
    # that send nothing (a display), every SESSION_SWEEP seconds.
    @staticmethod
    def _expired(connection: Connection) -> bool:
        return connection.deadline is not None and sessions.clock() > connection.deadline

    def _expiry_reason(self) -> str:
        hours = self.service.app.config["SESSION_MAX_HOURS"]
        return (f"Your session has ended: a sign-in lasts at most {hours} hours. "
                "Reload the page to sign in again (participants: open your personal link again).")

    def expire_connections(self) -> int:
        """End the connections whose sign-in has run out; how many."""
        expired = [sid for sid, c in list(self.connections.items()) if self._expired(c)]
        for sid in expired:
            self.end_connection(sid, self._expiry_reason())
        return len(expired)

    def _start_sweep(self) -> None:
        with self._sweep_lock:
            if self._sweep_task is None:
                self._sweep_task = self.socketio.start_background_task(self._sweep_loop)

    def _sweep_loop(self) -> None:
        """Runs while some connection has a deadline, then ends (the next
        such connection starts it again)."""
        while True:
            self.socketio.sleep(SESSION_SWEEP)
            try:
                self.expire_connections()
            except Exception:  # never let the sweep die with connections left
                log.exception("session sweep failed")
            with self._sweep_lock:
                if not any(c.deadline is not None for c in list(self.connections.values())):
                    self._sweep_task = None
                    return

    def end_connection(self, sid: str, reason: str) -> None:
        """Tell one connection that its session has ended, then close it."""
        self.socketio.emit("session_ended", {"reason": reason}, to=sid)
        self.socketio.server.disconnect(sid, namespace="/")

    def end_connections(self, room: str, reason: str) -> None:
        """Tell every connection in ``room`` (in any process) that it has ended,
        then close the ones this process holds. A client told so stops
        reconnecting; every later event would be refused anyway."""
        self.socketio.emit("session_ended", {"reason": reason}, to=room)
        server = self.socketio.server
        for sid, _ in list(server.manager.get_participants("/", room)):
            server.disconnect(sid, namespace="/")
