"""Server wiring: start the Socket.IO server for the chosen async mode.

Monkey-patching is done by ``run.py`` before anything else is imported; this
module imports eventlet only to start its server, after ``run.py`` has
patched it, and never imports gevent.
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import sys

from . import create_app
from .db import SchemaBehind

# Connections the kernel queues until the server accepts them (capped by
# net.core.somaxconn). Flask-SocketIO's run() leaves eventlet's 50.
LISTEN_BACKLOG = 4096


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py", description="Start the moderation server.")
    parser.add_argument("--host", default=os.environ.get("MODERATION_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MODERATION_PORT", "5000")))
    parser.add_argument("--demo", action="store_true",
                        help="seed the demo dialogue (upgrading the database if needed) and print its links")
    parser.add_argument("--demo-json", metavar="FILE",
                        help="with --demo: also write the links as JSON to FILE")
    parser.add_argument("--async-mode", choices=("eventlet", "gevent", "threading"),
                        default=os.environ.get("MODERATION_ASYNC_MODE", "eventlet"))
    return parser.parse_args(argv)


def raise_open_files_limit() -> None:
    """Each connection is a file descriptor; a room of hundreds needs more than 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def tune_garbage_collector() -> None:
    """With a thousand connections a full collection pauses every broadcast
    for up to a second (bench/broadcast.py --gc-trace). Move what start-up
    made out of the collector's way, and collect the older generations as
    rarely as before (a full one every 20 million allocations). The young
    generation is kept small: a young collection pauses everyone for as long
    as it scans, and at 50,000 objects that took 18–44 ms under a flooding
    client (bench/flood.py), against a few ms at 10,000."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 40)


def serve_eventlet(app, host: str, port: int, max_size: int) -> None:
    """eventlet's WSGI server, started as Flask-SocketIO's ``run()`` starts
    it but with a longer listen queue. After a restart every client comes
    back within seconds; with eventlet's queue of 50 the kernel dropped
    thousands of their connection attempts (about 3,400 per storm of 1,000
    clients in bench/reconnect.py), and a dropped attempt is only retried
    after TCP's backoff of 1, 3, 7, 15 s. With 4,096 none are dropped."""
    import eventlet  # patched by run.py
    import eventlet.wsgi
    from eventlet.green import socket

    family, *_rest, address = socket.getaddrinfo(host, port)[0]
    listener = eventlet.listen(address, family, backlog=LISTEN_BACKLOG)
    eventlet.wsgi.server(listener, app, log_output=False, max_size=max_size)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=os.environ.get("MODERATION_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = {"ASYNC_MODE": args.async_mode}
    if args.demo:
        config["AUTO_UPGRADE"] = True
    try:
        app = create_app(config)
        app.extensions["db"].require_current()
    except SchemaBehind as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    base_url = app.config.get("PUBLIC_URL") or f"http://{args.host}:{args.port}"
    if args.demo:
        from .demo import seed_demo
        demo = seed_demo(app, base_url)
        print_demo(demo)
        if args.demo_json:
            with open(args.demo_json, "w", encoding="utf-8") as handle:
                json.dump(demo, handle, indent=2)
    raise_open_files_limit()
    tune_garbage_collector()
    socketio = app.extensions["socketio"]
    print(f"Serving on http://{args.host}:{args.port} ({args.async_mode})", flush=True)
    if args.async_mode == "eventlet":
        # eventlet's default of 1,024 simultaneous connections is too few.
        serve_eventlet(app, args.host, args.port, max_size=10_000)
        return 0
    options = {"host": args.host, "port": args.port, "log_output": False}
    if args.async_mode == "threading":
        options["allow_unsafe_werkzeug"] = True
    socketio.run(app, **options)
    return 0


def print_demo(demo: dict) -> None:
    print("Demo dialogue ready. Open one link per role (each in its own browser or private window):")
    for role, url in demo["links"].items():
        print(f"  {role:<19} {url}")
    print(f"  join with code      {demo['join_url']}  (code {demo['join_code']})")
    print(f"  secretariat sign-in username {demo['admin']['username']!r}, "
          f"password {demo['admin']['password']!r}", flush=True)
