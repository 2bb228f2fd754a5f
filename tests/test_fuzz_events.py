"""Property-based fuzzing of every Socket.IO event's data (hypothesis), through
Flask-SocketIO's test client (so the data goes through the JSON encoding of
the Socket.IO protocol) against SQLite.

For every event (each command, ``snapshot``, ``inputs.list``) a role that
may send it sends anything JSON can carry: nothing, numbers, huge and
unusual strings, lists, nested objects, objects with the right keys and the
wrong types, and the right shape with random values built from the payload
model's fields. The answer is always an acknowledgement; whatever the model
refuses gets ``{ok: false, error: {code, message}}`` with a short message a
person can read, and the server logs no error (an ``internal`` answer or a
logged exception fails the test).

Then what python-socketio's client cannot send, spoken by hand over
Engine.IO (websocket-client, ``requests`` for long-polling) to the real
server in a subprocess, under eventlet, gevent and threading: malformed and
deeply nested packets, unknown events, binary attachments that do not fit,
garbage frames and bodies. Each is answered with a documented code or
dropped, and the server's standard error holds no traceback and no ERROR.

Deterministic and bounded: hypothesis runs derandomized with a few examples
per event, without its example database.
"""
from __future__ import annotations

import json
import logging
import time
import types
import typing
from typing import Any

import annotated_types
import pytest
from conftest import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from security_world import NO_LIMITS, without_presence_writes, world_template
from test_authorization_matrix import PAYLOADS

from moderation.core.commands import REGISTRY
from moderation.core.reads import READS
from moderation.features import load_features
from moderation.models import Role

load_features()
# The reads served as events, by their query model.
READ_EVENTS = {spec.name: spec.query for spec in READS.values() if spec.event}
EVENTS = sorted(REGISTRY) + ["snapshot", *sorted(READ_EVENTS)]
EXAMPLES = 12
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


# -- what JSON can carry ------------------------------------------------------------------------------
ODD_STRINGS = st.sampled_from([
    "", " ", "\u0000", "nul\u0000inside", "\x01\x0b\x1f", "\ufffe", "\ud800", "lone \udfff surrogate",
    "\u202eright-to-left",
    "é" * 70_000, "x" * 70_000, "😀" * 5_000, "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
    "true", "null", "1e309", "-1", "9" * 40, "{}", "[]", "\r\n\t", "\u00a0", "Ω≈ç√∫", "𝕏𝕐ℤ",
])
EDGE_NUMBERS = st.sampled_from([0, -1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, 10 ** 30, 0.5, -1e308])
NUMBERS = st.one_of(EDGE_NUMBERS, st.integers(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
                    st.floats(allow_nan=False, allow_infinity=False))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=30), ODD_STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=12), ODD_STRINGS), inner, max_size=4)),
    max_leaves=12)


def _bounds(metadata) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for name in ("ge", "gt", "le", "lt", "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
        if isinstance(item, annotated_types.Len):
            found["min_length"], found["max_length"] = item.min_length, item.max_length
    return found


def value_for(annotation: Any, metadata=(), depth: int = 0) -> st.SearchStrategy:
    """Values near the field's type: often valid, often just outside its limits."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return value_for(args[0], tuple(metadata) + tuple(args[1:]), depth)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(value_for(a, metadata, depth) for a in args))
    if origin is typing.Literal:
        return st.one_of(st.sampled_from(args), st.text(max_size=12))
    if annotation is type(None):
        return st.none()
    bounds = _bounds(metadata)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low, high = bounds.get("ge", bounds.get("gt", 0)), bounds.get("le", bounds.get("lt", 50))
        return st.one_of(st.integers(min_value=low - 2, max_value=high + 2), st.integers(min_value=1, max_value=40),
                         EDGE_NUMBERS, NUMBERS)
    if annotation is float:
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-5, 5))
    if annotation is str:
        longest = bounds.get("max_length") or 60
        return st.one_of(st.text(max_size=min(longest, 80)), st.text(min_size=longest, max_size=longest + 3)
                         if longest < 5000 else st.just("y" * (longest + 1)), ODD_STRINGS)
    if origin in (list, tuple, set, frozenset):
        inner = value_for(args[0] if args else Any, (), depth + 1)
        return st.lists(inner, max_size=min(bounds.get("max_length") or 4, 4)) if depth < 3 else st.just([])
    if origin is dict:
        key = value_for(args[0], (), depth + 1) if args else st.text(max_size=10)
        return st.dictionaries(key, value_for(args[1], (), depth + 1) if args else JSON, max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return shaped(annotation, depth + 1) if depth < 3 else st.just({})
    return JSON


def shaped(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy:
    """The model's own fields (each one sometimes left out) with values near
    their types."""
    fields = {name: value_for(f.annotation, f.metadata, depth) for name, f in model.model_fields.items()}
    return st.fixed_dictionaries({}, optional=fields)


def wrong_types(model: type[BaseModel]) -> st.SearchStrategy:
    """The right keys with any JSON at all as values."""
    return st.fixed_dictionaries({}, optional={name: JSON for name in model.model_fields})


def one_field_changed(model: type[BaseModel], valid: dict[str, Any]) -> st.SearchStrategy:
    """A valid payload with one field replaced by a value near its type (or
    dropped): the shape that reaches the handler with a bad value."""
    fields = sorted(model.model_fields)

    def change(name: str) -> st.SearchStrategy:
        field = model.model_fields[name]
        return st.one_of(value_for(field.annotation, field.metadata), EDGE_NUMBERS, ODD_STRINGS).map(
            lambda value: {**valid, name: value})

    dropped = st.sampled_from(sorted(valid) or [None]).map(lambda name: {k: v for k, v in valid.items() if k != name})
    return st.one_of(st.sampled_from(fields).flatmap(change), dropped) if fields else st.just(valid)


def payloads(model: type[BaseModel], valid: dict[str, Any]) -> st.SearchStrategy:
    changed = one_field_changed(model, valid)
    return st.one_of(changed, changed, changed, shaped(model), shaped(model), wrong_types(model), JSON)


def event_data(name: str, valid: dict[str, Any] | None = None) -> st.SearchStrategy:
    """What a client may send with the event: mostly a command's envelope
    {payload, idempotency_key}, sometimes anything at all."""
    if name == "snapshot":
        return JSON
    if name in READ_EVENTS:
        return st.one_of(JSON, shaped(READ_EVENTS[name]), shaped(READ_EVENTS[name]))
    envelope = st.fixed_dictionaries({"payload": payloads(REGISTRY[name].payload, valid or {})}, optional={
        "idempotency_key": st.one_of(st.text(max_size=20), ODD_STRINGS, NUMBERS, st.none()), "surplus": JSON})
    return st.one_of(envelope, envelope, envelope, JSON)


# -- the room ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory, sqlite_template):
    return world_template(tmp_path_factory, sqlite_template)


class Room:
    """One app on a copy of the seeded world, with the secretariat and the
    participant connected; a connection that a fuzzed command ended (a
    revoked link, ended sessions) is opened again, with a new link if needed."""

    def __init__(self, app, template):
        self.app, self.template, self.world = app, template, template.world
        self.service = app.extensions["moderation"]
        self.tokens = self._seeded_tokens()
        self.clients: dict[str, Any] = {}

    def _seeded_tokens(self) -> dict[str, str]:
        return {"secretariat": self.world.links["secretariat"], "participant": self.world.links["participant"]}

    def client(self, role: str):
        current = self.clients.get(role)
        if current is not None and current.is_connected():
            return current
        client = self._connect(role)
        if not client.is_connected():
            self.tokens[role] = self._new_link(role)
            client = self._connect(role)
        assert client.is_connected(), f"cannot connect the {role} again"
        self.clients[role] = client
        return client

    def _connect(self, role: str):
        client = self.app.extensions["socketio"].test_client(
            self.app, auth={"dialogue_id": self.world.dialogue_id, "token": self.tokens[role]})
        client.get_received() if client.is_connected() else None
        return client

    def _new_link(self, role: str) -> str:
        if role == "secretariat":
            return run(self.service, "user.issue_sign_in_link", {"username": "secretariat"})["token"]
        return run(self.service, "access.issue_link", {"dialogue_id": self.world.dialogue_id, "role": "participant",
                                                       "participant_id": self.world.participant_id})["token"]

    def reset(self) -> None:
        """Back to the seeded world: each event is fuzzed from the same
        state, whatever the events before it did."""
        self.close()
        self.clients.clear()
        self.tokens = self._seeded_tokens()
        self.template.restore(self.app)

    def close(self):
        for client in self.clients.values():
            if client.is_connected():
                client.disconnect()


class ErrorLog(logging.Handler):
    """Every record at ERROR or above from the server side (the app,
    Flask-SocketIO, python-socketio and python-engineio's servers); the
    clients' own loggers (``socketio.client``, ``engineio.client``) speak for
    clients of other tests in this process, not for the server."""

    CLIENT_LOGGERS = ("socketio.client", "engineio.client")

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if not record.name.startswith(self.CLIENT_LOGGERS):
            self.records.append(record)


@pytest.fixture(scope="module")
def room(template, tmp_path_factory):
    app = template.new_app(tmp_path_factory.mktemp("fuzz"))  # no rate limits
    without_presence_writes(app)  # no background writes while the database file is swapped
    room_ = Room(app, template)
    yield room_
    room_.close()
    app.extensions["db"].dispose()


@pytest.fixture
def error_log():
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def sender(name: str) -> str:
    """A role that may send the event, so that the payload is looked at past
    the role check; the participant for its own commands."""
    spec = REGISTRY.get(name)
    if spec is not None and not spec.public and Role.SECRETARIAT not in spec.roles:
        return "participant"
    return "secretariat"


# -- the property ------------------------------------------------------------------------------------------
READABLE_LIMIT = 400


def assert_readable(error: Any, context: str) -> None:
    assert isinstance(error, dict), context
    code, message = error.get("code"), error.get("message")
    assert isinstance(code, str) and code and code != "internal", context
    assert isinstance(message, str) and message.strip(), context
    assert len(message) <= READABLE_LIMIT, f"{context}: a message of {len(message)} characters"
    assert "Traceback" not in message and "ValidationError" not in message and "<class" not in message, context
    details = error.get("details")
    if isinstance(details, list):
        for detail in details:
            if isinstance(detail, dict) and "message" in detail:
                assert isinstance(detail["message"], str) and len(detail["message"]) <= READABLE_LIMIT, context


def model_accepts(name: str, data: Any, dialogue_id: int) -> bool:
    """Whether the data is what the event asks for (the reference the
    answers are judged by)."""
    if name == "snapshot":
        return True
    if name in READ_EVENTS:
        if data is None:
            return True
        if not isinstance(data, dict):
            return False
        try:
            READ_EVENTS[name].model_validate(data)
        except ValidationError:
            return False
        return True
    if not isinstance(data, dict) or not isinstance(data.get("payload", {}), dict):
        return False
    payload = dict(data.get("payload", {}))
    if REGISTRY[name].dialogue_scoped:
        payload.setdefault("dialogue_id", dialogue_id)
    try:
        REGISTRY[name].payload.model_validate(payload)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_answers_anything_with_an_acknowledgement(room, error_log, name):
    role = sender(name)
    room.reset()
    # A valid payload to start from (the matrix's table; it may prepare data).
    valid = PAYLOADS[name](room.service, room.world) if name in REGISTRY else None

    def probe(data):
        before = len(error_log.records)
        ack = room.client(role).emit(name, data, callback=True) if data is not None else \
            room.client(role).emit(name, callback=True)
        context = f"{name} by the {role} with {str(data)[:300]!r}: {str(ack)[:300]}"
        new_errors = error_log.records[before:]
        assert not new_errors, f"{context}\nlogged: {[r.getMessage()[:300] for r in new_errors]}"
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), context
        if ack["ok"]:
            assert model_accepts(name, data, room.world.dialogue_id), f"accepted a bad payload: {context}"
            return
        assert_readable(ack.get("error"), context)
        if not model_accepts(name, data, room.world.dialogue_id):
            assert ack["error"]["code"] in ("invalid_payload", "forbidden"), context

    # Every field of the valid payload set to each edge value, in turn ...
    if valid is not None:
        for payload in edge_cases(REGISTRY[name].payload, valid):
            probe({"payload": payload})
    # ... then whatever hypothesis makes of the event's data.
    FUZZ(given(data=event_data(name, valid))(probe))()


EDGE_VALUES = (2 ** 63, -(2 ** 63) - 1, 10 ** 30, -1, 0, 1.5, True, None, "", "nul\x00", "\x01\x1f", "\ud800",
               "é" * 70_000, [], [1, "a"], {}, {"nested": {"deeper": [None]}})


def edge_cases(model: type[BaseModel], valid: dict[str, Any]):
    """The valid payload with one field (known or not) set to one edge value."""
    for name in sorted(model.model_fields) + ["unexpected"]:
        for value in EDGE_VALUES:
            yield {**valid, name: value}


def test_every_event_is_fuzzed():
    """A new command is fuzzed as soon as it is registered; the read events too."""
    from moderation.web.realtime import Realtime
    handlers = {name for name in vars(Realtime) if name.startswith("on_")}
    assert "on_snapshot" in handlers
    assert "inputs.list" in READ_EVENTS
    assert set(EVENTS) == set(REGISTRY) | {"snapshot"} | {n for n, spec in READS.items() if spec.event}


def test_connecting_with_anything_is_refused_or_accepted_cleanly(room, error_log):
    """The connect event's auth data, fuzzed the same way: a connection is
    either refused or opened with the snapshot, and nothing is logged."""
    world = room.world
    tokens = st.sampled_from([world.links["secretariat"], world.links["participant"], world.links["display"],
                              world.api_tokens["moderator"]])
    auth = st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "dialogue_id": st.one_of(st.just(world.dialogue_id), NUMBERS, JSON),
        "token": st.one_of(tokens, ODD_STRINGS, st.text(max_size=50), JSON),
        "role": st.one_of(st.sampled_from([role.value for role in Role]), ODD_STRINGS, JSON)}))

    @settings(FUZZ, max_examples=60)
    @given(auth=auth)
    def fuzz(auth):
        before = len(error_log.records)
        client = room.app.extensions["socketio"].test_client(room.app, auth=auth)
        try:
            new_errors = error_log.records[before:]
            assert not new_errors, f"{str(auth)[:300]!r}: {[r.getMessage()[:300] for r in new_errors]}"
            if client.is_connected():
                names = [event["name"] for event in client.get_received()]
                assert names[:1] == ["snapshot"], (str(auth)[:300], names)
        finally:
            if client.is_connected():
                client.disconnect()

    fuzz()


# -- raw frames against the real server --------------------------------------------------------------------
# What python-socketio's client cannot send: malformed packets, nesting deeper
# than any payload, binary attachments that do not fit, events that do not
# exist, the library's own event names, too many arguments. Spoken by hand over
# one Engine.IO WebSocket (websocket-client) to the real server in a
# subprocess; its standard error must hold no traceback and no ERROR line.
LIVE_LIMITS = {f"MODERATION_{name}": str(value) for name, value in NO_LIMITS.items()}
DEEP = "[" * 2000 + "]" * 2000  # 4 KB, deeper than Python's recursion limit
SHALLOW_BUT_DEEP = "[" * 200 + "]" * 200  # parses, deeper than any payload


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp("fuzz-live"), env=LIVE_LIMITS) as server:
        yield server


class RawSocket:
    """One Engine.IO WebSocket spoken by hand: sends any frame, answers the
    server's pings, and waits for what comes back with a timeout."""

    def __init__(self, live, auth: Any = None):
        import websocket

        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{live.port}/socket.io/?EIO=4&transport=websocket", timeout=10)
        self.closed = False
        opening = self.ws.recv()
        assert opening.startswith("0{"), opening
        if auth is not None:
            self.send("40" + (auth if isinstance(auth, str) else json.dumps(auth)))

    def send(self, frame: str | bytes) -> None:
        try:
            if isinstance(frame, bytes):
                self.ws.send_binary(frame)
            else:
                self.ws.send(frame)
        except (ConnectionError, OSError):
            self.closed = True  # the server closed it after an earlier frame

    def wait_for(self, wanted, timeout: float = 10) -> str | None:
        """The first message that ``wanted(message)`` accepts; None when the
        server closed the connection first."""
        import websocket

        deadline = time.monotonic() + timeout
        while not self.closed:
            left = deadline - time.monotonic()
            assert left > 0, "timed out waiting for the server"
            self.ws.settimeout(left)
            try:
                message = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, websocket.WebSocketProtocolException,
                    ConnectionError, OSError):
                # Closed; or, after a frame that is not Engine.IO, the server
                # ended the WebSocket with an HTTP answer.
                self.closed = True
                break
            if message == "2":
                self.send("3")
            elif message == "" or message is None:
                self.closed = True
            elif isinstance(message, str) and wanted(message):
                return message
        return None

    def connected(self) -> dict:
        """The CONNECT answer (``40{sid}``) or the refusal (``44{message, data}``)."""
        message = self.wait_for(lambda m: m.startswith(("40", "44")))
        assert message is not None, "closed without an answer to CONNECT"
        return {"ok": message.startswith("40"), **json.loads(message[2:])}

    def ack(self, ack_id: int, timeout: float = 10) -> Any:
        """The acknowledgement of event ``ack_id``: its one argument."""
        message = self.wait_for(lambda m: m.startswith(f"43{ack_id}["), timeout)
        assert message is not None, f"the connection closed without acknowledging {ack_id}"
        arguments = json.loads(message[len(f"43{ack_id}"):])
        assert len(arguments) == 1, arguments
        return arguments[0]

    def still_answers(self) -> bool:
        """Whether the connection still answers a snapshot (False: closed)."""
        if self.closed:
            return False
        self.send('4299["snapshot"]')
        message = self.wait_for(lambda m: m.startswith("4399["))
        return message is not None and json.loads(message[4:])[0]["ok"] is True

    def close(self) -> None:
        self.ws.close()


def new_errors(live, since: int) -> str:
    """What the server wrote to standard error since ``since`` that looks
    like a failure: tracebacks and ERROR lines."""
    text = live.stderr[since:]
    lines = [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line
             or line.startswith(("RecursionError", "ValueError", "TypeError", "IndexError", "KeyError"))]
    return "\n".join(lines)


def moderator_auth(live) -> dict:
    return {"dialogue_id": live.dialogue_id, "token": live.token("moderator")}


# name -> (frames, the code of the answer to ack id 7 or of the refused CONNECT; None: no answer is due)
ANSWERED = {
    "unknown event": (['427["no.such.event",{"payload":{}}]'], "unknown_command"),
    "unknown event without data": (['427["x"]'], "unknown_command"),
    "the library's connect event": (['427["connect",{"dialogue_id":1}]'], "unknown_command"),
    "the library's disconnect event": (['427["disconnect"]'], "unknown_command"),
    "an event name that is a number": (['427[12,{}]'], "invalid_payload"),
    "an event name that is an object": (['427[{"a":1},{}]'], "invalid_payload"),
    "no event name": (["427[]"], "invalid_payload"),
    "an object instead of a list": (['427{"a":1}'], "invalid_payload"),
    "a string instead of a list": (['427"snapshot"'], "invalid_payload"),
    "true instead of a list": (["427true"], "invalid_payload"),
    "null instead of a list": (["427null"], "invalid_payload"),
    "malformed JSON": (['427["snapshot",'], "invalid_payload"),
    "nested 2,000 deep": (['427["snapshot",' + DEEP + "]"], "invalid_payload"),
    "nested 200 deep": (['427["inputs.list",' + SHALLOW_BUT_DEEP + "]"], "invalid_payload"),
    "nested in a command's payload": (['427["inputs.submit",{"payload":{"text":' + DEEP + "}}]"], "invalid_payload"),
    "NaN": (['427["inputs.list",{"page":NaN}]'], "invalid_payload"),
    "a number of 5,000 digits": (['427["inputs.list",{"page":' + "9" * 5000 + "}]"], "invalid_payload"),
    "a huge float": (['427["inputs.list",{"page":1e999}]'], "invalid_payload"),
    "too many arguments": (['427["snapshot",{},2,3]'], "invalid_payload"),
    "too many arguments to a command": (['427["queue.close",{"payload":{}},{}]'], "invalid_payload"),
    "invalid UTF-16 in a string": (['427["inputs.submit",{"payload":{"text":"\\ud800"}}]'], "invalid_payload"),
    "binary data in a command": (['451-7["inputs.submit",{"payload":{"text":{"_placeholder":true,"num":0}}}]',
                                  b"\x00\x01binary"], "invalid_payload"),
    "a binary placeholder without its attachment": (
        ['451-7["inputs.list",{"page":{"_placeholder":true,"num":5}}]', b"\x00"], "invalid_payload"),
    "a binary placeholder that is not a number": (
        ['451-7["inputs.list",{"page":{"_placeholder":true,"num":"x"}}]', b"\x00"], "invalid_payload"),
    "text where an attachment is due": (['451-7["inputs.list",{"page":{"_placeholder":true,"num":0}}]', "4zz"],
                                        "invalid_payload"),
}
SILENT = {
    "binary data that no packet announced": [b"\x04\x00garbage"],
    "an unknown packet type": ["49[1]"],
    "a CONNECT_ERROR from the client": ['44{"message":"x"}'],
    "an acknowledgement nobody asked for": ['435["x"]'],
    "an ack id of 120 digits": ["42" + "1" * 120 + '["snapshot"]'],
    "too many attachments": ['4599999999-["inputs.list",{}]'],
    "an unknown namespace": ['42/admin,7["snapshot"]'],
    "an Engine.IO packet that is not one": ["zzz"],
    "an empty Engine.IO message": ["4"],
    "an Engine.IO message nested 2,000 deep": ["4" + DEEP],
    "an unknown Engine.IO packet type": ["9hello"],
}


def check_answered(live, name: str) -> None:
    """Send the frames of ``ANSWERED[name]`` on a new connection: the ack
    carries the code, and the connection still answers."""
    frames, code = ANSWERED[name]
    raw = RawSocket(live, moderator_auth(live))
    try:
        assert raw.connected()["ok"]
        for frame in frames:
            raw.send(frame)
        answer = raw.ack(7)
        assert answer["ok"] is False and answer["error"]["code"] == code, (live.async_mode, name, answer)
        assert_readable(answer["error"], name)
        assert raw.still_answers(), f"{name}: the connection no longer answers"
    finally:
        raw.close()


def check_dropped(live, name: str) -> None:
    """Send the frames of ``SILENT[name]`` on a new connection, and wait
    until they were read (the connection answers a snapshot, or was closed)."""
    raw = RawSocket(live, moderator_auth(live))
    try:
        assert raw.connected()["ok"]
        for frame in SILENT[name]:
            raw.send(frame)
        raw.still_answers()
    finally:
        raw.close()


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(ANSWERED))
def test_every_malformed_event_is_answered_over_the_wire(live, name):
    since = len(live.stderr)
    check_answered(live, name)
    assert not new_errors(live, since), f"{name}: the server logged\n{new_errors(live, since)}"


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(SILENT))
def test_garbage_is_dropped_without_a_traceback(live, name):
    since = len(live.stderr)
    check_dropped(live, name)
    assert not new_errors(live, since), f"{name}: the server logged\n{new_errors(live, since)}"


CONNECTS = {
    "auth is a list": "[1]",
    "auth is a string": '"x"',
    "auth is a number": "12",
    "dialogue_id is text": '{"dialogue_id":"1"}',
    "dialogue_id is huge": '{"dialogue_id":' + "9" * 40 + "}",
    "dialogue_id is a float": '{"dialogue_id":1e999}',
    "dialogue_id is nested": '{"dialogue_id":' + SHALLOW_BUT_DEEP + "}",
    "auth nested 2,000 deep": '{"dialogue_id":1,"token":' + DEEP + "}",
    "token is an object": '{"dialogue_id":1,"token":{"a":1}}',
    "token is 10,000 characters": '{"dialogue_id":1,"token":"' + "a" * 10_000 + '"}',
    "role is a list": '{"dialogue_id":1,"role":["secretariat"]}',
    "malformed JSON": '{"dialogue_id":',
}


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(CONNECTS))
def test_connecting_with_malformed_auth_is_refused_over_the_wire(live, name):
    since = len(live.stderr)
    raw = RawSocket(live, CONNECTS[name])
    try:
        answer = raw.connected()
        assert answer["ok"] is False, (name, answer)
        assert_readable(answer["data"], name)
    finally:
        raw.close()
    assert not new_errors(live, since), f"{name}: the server logged\n{new_errors(live, since)}"


POLLING_BODIES = {
    "not Engine.IO": b"zzz",
    "not UTF-8": b"\xff\xfe\xfd",
    "nested 2,000 deep": ("4" + DEEP).encode(),
    "malformed Socket.IO": b'42["snapshot",',
    "several packets, one bad": b'42["snapshot"]\x1e4\x1e' + b"9x",
    "an empty packet": b"\x1e\x1e",
    "a ping (the server pings, not the client)": b"2",
    "an open packet": b"0",
    "binary that is not base64": b"b!!!",
    "JSONP without data": b"d=",
    "too many packets": b"\x1e".join([b"3"] * 40),
    "a wrong Content-Length": None,
}


@pytest.mark.server
@pytest.mark.parametrize("name", sorted(POLLING_BODIES))
def test_garbage_sent_by_long_polling_is_dropped_without_a_traceback(live, name):
    import requests

    since = len(live.stderr)
    base = f"{live.base_url}/socket.io/?EIO=4&transport=polling"
    opening = requests.get(base, timeout=10).text
    sid = json.loads(opening[1:])["sid"]
    body, headers = POLLING_BODIES[name], {}
    if body is None:
        body, headers = b"4hello", {"Content-Length": "999999999"}
    try:
        response = requests.post(f"{base}&sid={sid}", data=body, headers=headers, timeout=10)
        assert response.status_code in (200, 400, 413), (name, response.status_code)
    except requests.ConnectionError:
        assert headers, name  # a body shorter than it said: the server may close the connection
    # Nothing hangs: the session still answers at once.
    requests.post(f"{base}&sid={sid}", data=b"1", timeout=10)
    assert not new_errors(live, since), f"{name}: the server logged\n{new_errors(live, since)}"


@pytest.mark.server
def test_random_frames_are_answered_or_dropped_without_a_traceback(live):
    """Whatever text follows an event's head, over one connection (opened
    again when the server closes it)."""
    since = len(live.stderr)
    sockets: list[RawSocket] = []

    def current() -> RawSocket:
        if not sockets or sockets[-1].closed:
            raw = RawSocket(live, moderator_auth(live))
            assert raw.connected()["ok"]
            sockets.append(raw)
        return sockets[-1]

    heads = st.sampled_from(["427", "42", "4", "40", "43", "451-7", "427/x,", ""])
    bodies = st.one_of(st.text(max_size=60), st.text(alphabet='[]{}",:0123456789.-eE truefalsn\\u', max_size=80),
                       JSON.map(lambda value: json.dumps(value)))

    @settings(FUZZ, max_examples=80)
    @given(head=heads, body=bodies)
    def fuzz(head, body):
        raw = current()
        raw.send(head + body)
        raw.still_answers()

    try:
        fuzz()
    finally:
        for raw in sockets:
            raw.close()
    assert not new_errors(live, since), f"the server logged\n{new_errors(live, since)}"


@pytest.fixture(scope="module", params=["gevent", "threading"])
def other_mode(request, tmp_path_factory):
    from server import LiveServer

    with LiveServer(tmp_path_factory.mktemp(f"fuzz-{request.param}"), async_mode=request.param,
                    env=LIVE_LIMITS) as server:
        yield server


@pytest.mark.server
def test_garbage_is_answered_or_dropped_in_the_other_async_modes(other_mode):
    """The same frames under gevent and threading, whose WebSocket servers
    are not eventlet's."""
    live = other_mode
    since = len(live.stderr)
    for name in sorted(ANSWERED):
        check_answered(live, name)
    for name in sorted(SILENT):
        check_dropped(live, name)
    assert not new_errors(live, since), f"{live.async_mode}: the server logged\n{new_errors(live, since)}"
