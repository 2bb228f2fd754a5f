"""The baseline for ``bench/broadcast.py``: a bare Flask-SocketIO server.

It runs exactly like ``run.py`` does (eventlet, monkey-patched first; the
same Socket.IO options as ``create_app``; eventlet's WSGI server with the same
``max_size`` and listen backlog) but has no database, no commands and no rooms per role: every
client joins one room, and the event ``go`` broadcasts one ``change`` message
to it. The message has the byte size the caller asks for, so that the real
server and the baseline send the same number of bytes to each client. What is
left between the two is the product's own cost: the command, its transaction
and the change it builds.

    python bench/bare_server.py --port 5001
    python bench/bare_server.py --port 5002 --message-queue redis://127.0.0.1:6379/13

With ``--message-queue``, several bare processes share one Redis message
queue as the real server's processes do (Flask-SocketIO's ``message_queue``),
on a channel of their own (``bench-bare``) so that they do not receive the
real server's messages when both run at once.

Clients connect with auth ``{"room": "all"}`` and receive ``snapshot``
({"version": n}); the controlling client connects without a room and sends
``go`` with ``{"bytes": n}``; the ack is ``{"ok": true, "version": n}``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from moderation.server import import_eventlet  # noqa: E402 - the standard library only, before patching

eventlet = import_eventlet()
eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402

ROOM = "all"
# The options create_app() gives the real server (moderation/__init__.py).
MAX_PAYLOAD_BYTES = 64_000
PING_INTERVAL = PING_TIMEOUT = 20
# What run.py gives eventlet's WSGI server (moderation/server.py).
MAX_SIZE = 10_000
LISTEN_BACKLOG = 4096
CHANNEL = "bench-bare"  # the Redis channel (the real server uses Flask-SocketIO's default)


class CompactJSON:
    """The same compact encoding as the real server's ``_JSON``."""

    @staticmethod
    def dumps(obj, **kwargs):
        kwargs.setdefault("separators", (",", ":"))
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text, **kwargs):
        return json.loads(text, **kwargs)


def encoded_size(message: dict) -> int:
    """Bytes of the Socket.IO frame ``42["change",{...}]`` for ``message``."""
    return len(('42["change",' + CompactJSON.dumps(message) + "]").encode())


def change_message(version: int, size: int) -> dict:
    """A change message shaped like the real one whose frame is ``size``
    bytes long (or as short as it can be)."""
    message = {"dialogue_id": 1, "version": version, "server_time": int(time.time() * 1000),
               "sections": {"queue": {"padding": ""}}}
    missing = size - encoded_size(message)
    if missing > 0:
        message["sections"]["queue"]["padding"] = "x" * missing
    return message


def create_app(message_queue: str | None = None) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "bare"
    queue = {"message_queue": message_queue, "channel": CHANNEL} if message_queue else {}
    socketio = SocketIO(app, async_mode="eventlet", max_http_buffer_size=MAX_PAYLOAD_BYTES,
                        ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT, json=CompactJSON, **queue)
    state = {"version": 0}

    @socketio.on("connect")
    def on_connect(auth=None):
        if isinstance(auth, dict) and auth.get("room") == ROOM:
            join_room(ROOM)
        emit("snapshot", {"version": state["version"]})

    @socketio.on("go")
    def on_go(data=None):
        size = int(data.get("bytes", 0)) if isinstance(data, dict) else 0
        state["version"] += 1
        socketio.emit("change", change_message(state["version"], size), to=ROOM)
        return {"ok": True, "version": state["version"]}

    return app, socketio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--message-queue", help="Redis URL: share a message queue with other bare processes")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    app, _socketio = create_app(args.message_queue)
    print(f"Serving on http://{args.host}:{args.port} (eventlet, bare"
          + (f", message queue {args.message_queue})" if args.message_queue else ")"), flush=True)
    import eventlet.wsgi

    listener = eventlet.listen((args.host, args.port), backlog=LISTEN_BACKLOG)
    eventlet.wsgi.server(listener, app, log_output=False, max_size=MAX_SIZE)


if __name__ == "__main__":
    main()
