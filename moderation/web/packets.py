"""Socket.IO packets read defensively.

python-socketio decodes what a client sends in the thread that reads it and
assumes a well-formed packet: malformed JSON, nesting deeper than Python's
recursion limit, an event without a name, an attachment that does not fit
its placeholder or a packet type it does not expect raise from the reader,
which logs an ERROR with a traceback and answers nothing. Here every packet
is checked as it is decoded (``SafePacket``), and one that cannot be used is
answered as the protocol says — an event's acknowledgement ``invalid_payload``
(``unknown_command`` for the library's own ``connect``/``disconnect``, which
are never a client's events), a refused CONNECT — or, when it asks for no
answer, dropped with one WARNING line (``PacketGuard``). The JSON of every
packet (``loads``) refuses nesting deeper than any payload and the constants
``NaN`` and ``Infinity``, which JSON does not have.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from socketio import packet as sio

from moderation.core.errors import CommandError

log = logging.getLogger(__name__)
MAX_DEPTH = 32        # no payload nests deeper than a few levels
MAX_ATTACHMENTS = 10  # binary attachments announced by one packet (the app expects none)
RESERVED = frozenset({"connect", "disconnect"})
BINARY = (bytes, bytearray)
CLIENT_TYPES = {sio.CONNECT, sio.DISCONNECT, sio.EVENT, sio.ACK, sio.BINARY_EVENT, sio.BINARY_ACK}


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (walked
    without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            stack.extend((inner, depth + 1) for inner in (item.values() if isinstance(item, dict) else item))
    return False


def loads(text: str | bytes) -> Any:
    """``json.loads`` that raises only ``ValueError``: for nesting deeper than
    ``MAX_DEPTH`` (or than Python can parse) and for NaN and Infinity too."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    opened = text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")
    if opened > MAX_DEPTH and too_deep(value):
        raise ValueError("nested too deeply")
    return value


class BadPacket(ValueError):
    """A packet that cannot be used; says what to answer, if anything."""

    def __init__(self, reason: str, packet: sio.Packet | None = None, code: str = "invalid_payload"):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.packet_type = getattr(packet, "packet_type", None)
        self.id = getattr(packet, "id", None)
        self.namespace = getattr(packet, "namespace", None) or "/"


class SafePacket(sio.Packet):
    """python-socketio's packet, checked as it is decoded: it raises only
    ``BadPacket``, and an event that gets through has a name to dispatch."""

    def __init__(self, *args, encoded_packet=None, **kwargs):
        if encoded_packet is not None and len(encoded_packet) == 0:  # python-socketio reads it as nothing
            raise BadPacket("an empty message")
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)

    def decode(self, encoded_packet):
        if not isinstance(encoded_packet, str):
            raise BadPacket("binary data that no packet announced", self)
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError, KeyError, RecursionError) as exc:
            raise BadPacket(f"not a Socket.IO packet ({str(exc)[:80]})", self) from None
        if self.packet_type not in CLIENT_TYPES:
            raise BadPacket(f"a packet of type {str(self.packet_type)[:10]!r} is not sent by clients", self)
        if attachments > MAX_ATTACHMENTS:
            raise BadPacket(f"{attachments} binary attachments announced", self)
        if self.packet_type in (sio.EVENT, sio.BINARY_EVENT):
            if not isinstance(self.data, list) or not self.data or not isinstance(self.data[0], str):
                raise BadPacket("an event is a list that starts with its name", self)
            if self.data[0] in RESERVED:
                raise BadPacket(f"{self.data[0]!r} is not a client's event", self, code="unknown_command")
        elif self.packet_type in (sio.ACK, sio.BINARY_ACK) and not isinstance(self.data, list):
            raise BadPacket("an acknowledgement is a list", self)
        return attachments

    def add_attachment(self, attachment):
        if not isinstance(attachment, BINARY):
            raise BadPacket("text where a binary attachment was due", self)
        try:
            return super().add_attachment(attachment)
        except (ValueError, TypeError, IndexError, KeyError, RecursionError):
            raise BadPacket("the binary attachments do not match their placeholders", self) from None


class EngineIOClientErrors(logging.Filter):
    """python-engineio logs some client mistakes as errors: once per kind at
    ERROR for a request with an unknown session, a wrong transport or
    version ("... further occurrences of this error will be logged with
    level INFO"), and with a traceback for a long-polling body that is not
    Engine.IO (which ``PollingBodyCheck`` refuses before). They are handled
    (answered 400, or dropped): one WARNING line each instead."""

    ONCE = "(further occurrences of this error will be logged with level INFO)"

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        if message == "post request handler error" and isinstance(error, ValueError):
            record.msg, record.args = "dropped a long-polling request that is not Engine.IO: %s", (str(error)[:80],)
        elif not (record.levelno >= logging.ERROR and error is None and message.endswith(self.ONCE)):
            return True
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


POLLING_PACKET_TYPES = frozenset("1345")  # close, pong, message, upgrade: what a client sends
MAX_POLLING_PACKETS = 16                  # python-engineio's limit per request


def polling_problem(body: bytes) -> str | None:
    """Why python-engineio could not read a long-polling request's body, or
    None. (It raises while decoding; for a packet type it does not take from
    a client it then closes the session and waits for the client's next poll
    before it answers: the request would hang.)"""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if text.startswith("d="):  # JSONP
        text = (parse_qs(text).get("d") or [None])[0]
        if text is None:
            return "an empty JSONP body"
    if not text:
        return None
    packets = text.split("\x1e")
    if len(packets) > MAX_POLLING_PACKETS:
        return f"{len(packets)} packets in one request"
    for packet in packets:
        if packet[:1] == "b":
            try:
                base64.b64decode(packet[1:], validate=True)
            except binascii.Error:
                return "binary data that is not base64"
        elif packet[:1] not in POLLING_PACKET_TYPES:
            return "an empty packet" if not packet else f"a packet of type {packet[:1]!r}"
    return None


class PollingBodyCheck:
    """WSGI middleware in front of Socket.IO: a long-polling POST whose body
    python-engineio could not read, or which is larger than it takes, is
    answered 400 (413) here, with a WARNING, and goes no further."""

    def __init__(self, app, max_bytes: int, path: str = "/socket.io/"):
        self.app = app
        self.max_bytes = max_bytes
        self.path = path

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith(self.path):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > self.max_bytes:
            return self._refuse(start_response, "413 Request Entity Too Large", "a body of the wrong size")
        body = environ["wsgi.input"].read(length) if length else b""
        problem = polling_problem(body)
        if problem is not None:
            return self._refuse(start_response, "400 Bad Request", problem)
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    @staticmethod
    def _refuse(start_response, status: str, problem: str):
        log.warning("refused a long-polling request: %s", problem)
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "11")])
        return [b"Bad request"]


def guard_websocket_frames(eio) -> None:
    """A WebSocket frame that is not Engine.IO raises ``ValueError`` out of
    python-engineio's reading loop, which the gevent and threading servers
    log with a traceback (eventlet's answers the client with garbage). Here
    the loop's handler is wrapped: such a connection is closed as a client
    that went away is (its session ends, the writer stops), with one
    WARNING line. (The server's own table of drivers is copied, not changed.)"""
    make_websocket = eio._async["websocket"]
    if make_websocket is None:
        return

    def make_guarded(handler, server, **kwargs):
        socket = getattr(handler, "__self__", None)

        def guarded(ws):
            try:
                return handler(ws)
            except ValueError as exc:
                log.warning("closed a WebSocket that sent a frame that is not Engine.IO: %s", str(exc)[:80])
                if socket is not None:
                    socket.queue.put(None)  # the writer stops and closes the WebSocket
                    socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_ERROR)
                return []

        return make_websocket(guarded, server, **kwargs)

    eio._async = {**eio._async, "websocket": make_guarded}


class PacketGuard:
    """Between Engine.IO and python-socketio: every message goes through
    ``SafePacket``; a ``BadPacket`` is answered (or dropped) here instead of
    raising from the reader. Installed on the server before anything else
    wraps its message handler (the rate limit's gate)."""

    def __init__(self, server):
        self.server = server
        server.packet_class = SafePacket
        self._deliver = server._handle_eio_message
        # Engine.IO calls the registered handler; Flask-SocketIO's test
        # client calls the server's method: both come here.
        server._handle_eio_message = self.on_message
        server.eio.on("message", self.on_message)
        guard_websocket_frames(server.eio)
        engineio_log = server.eio.logger
        if not any(isinstance(f, EngineIOClientErrors) for f in engineio_log.filters):
            engineio_log.addFilter(EngineIOClientErrors())

    def on_message(self, eio_sid, data):
        try:
            return self._deliver(eio_sid, data)
        except ValueError as exc:  # BadPacket, or python-socketio's own refusal of a packet
            self.server._binary_packet.pop(eio_sid, None)  # a half-received packet is dropped
            bad = exc if isinstance(exc, BadPacket) else BadPacket(str(exc)[:80])
            log.warning("refused a Socket.IO packet from %s: %s", eio_sid, bad.reason)
            self._answer(eio_sid, bad)
        return None

    def _answer(self, eio_sid: str, bad: BadPacket) -> None:
        messages = {"invalid_payload": "This message is not a valid Socket.IO event: " + bad.reason + ".",
                    "unknown_command": "There is no such event."}
        error = CommandError(bad.code, messages.get(bad.code, bad.reason)).to_dict()
        if bad.packet_type in (sio.EVENT, sio.BINARY_EVENT) and bad.id is not None:
            if self.server.manager.sid_from_eio_sid(eio_sid, bad.namespace) is None:
                return  # not connected to that namespace: nobody to answer
            answer = sio.Packet(sio.ACK, namespace=bad.namespace, id=bad.id, data=[{"ok": False, "error": error}])
        elif bad.packet_type == sio.CONNECT:
            answer = sio.Packet(sio.CONNECT_ERROR, namespace=bad.namespace,
                                data={"message": error["message"], "data": error})
        else:
            return
        try:
            self.server._send_packet(eio_sid, answer)
        except KeyError:  # the connection is gone meanwhile
            pass
