"""Server wiring: patch the async library, start the server for the chosen
async mode, stop it gracefully on SIGTERM.

``python -m moderation.server`` (what ``moderation run`` and ``run.py`` do)
patches eventlet or gevent *before* the application's modules are imported,
as both libraries require: this module imports only the standard library at
the top, and ``moderation/__init__.py`` imports Flask and SQLAlchemy inside
``create_app`` only. Nothing else in the package imports eventlet or gevent.

| mode | server |
|---|---|
| eventlet (default) | eventlet's WSGI server |
| gevent | gevent's WSGI server with gevent-websocket |
| threading | gunicorn's threaded worker (``gthread``, one worker process) with simple-websocket |
"""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import signal
import sys
import warnings

ASYNC_MODES = ("eventlet", "gevent", "threading")
# Connections the kernel queues until the server accepts them (capped by
# net.core.somaxconn). Flask-SocketIO's run() leaves eventlet's 50.
LISTEN_BACKLOG = 4096
# Simultaneous connections (each WebSocket is one for its whole life).
# eventlet's default of 1,024 is too few for a large room.
MAX_CONNECTIONS = 10_000
# The threading mode serves each WebSocket on its own thread for the whole
# connection: this many threads, so this many simultaneous connections.
THREADS = 1_000
SIGNAL_POLL = 0.2  # s (eventlet: see serve_eventlet)

log = logging.getLogger("moderation.server")


# -- choosing and patching the async library (before anything else is imported) --------------
def chosen_mode(argv: list[str] | None = None) -> str:
    """``--async-mode`` from the command line, else ``MODERATION_ASYNC_MODE``, else eventlet."""
    argv = sys.argv[1:] if argv is None else argv
    mode = os.environ.get("MODERATION_ASYNC_MODE", "eventlet")
    for index, arg in enumerate(argv):
        if arg == "--async-mode" and index + 1 < len(argv):
            mode = argv[index + 1]
        elif arg.startswith("--async-mode="):
            mode = arg.split("=", 1)[1]
    return mode


def import_eventlet():
    """Import eventlet without its deprecation warning. eventlet is in
    maintenance mode and warns every start about it; using it is a known,
    documented choice (docs/deployment.md), so a new operator is told the
    async mode in the log instead."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet
    return eventlet


def patch(mode: str) -> None:
    """Monkey-patch the standard library for eventlet or gevent (nothing for threading)."""
    if mode == "eventlet":
        import_eventlet().monkey_patch()
    elif mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
        try:  # make psycopg2 (PostgreSQL) yield to other greenlets
            from psycogreen.gevent import patch_psycopg
        except ImportError:
            pass
        else:
            patch_psycopg()


def launch(argv: list[str] | None = None) -> int:
    """Patch for the chosen mode, then start: the entry point of ``run.py``,
    ``python -m moderation.server`` and ``moderation run``."""
    mode = chosen_mode(argv)
    if mode in ASYNC_MODES:  # anything else is refused by main()'s argument check
        patch(mode)
        os.environ["MODERATION_ASYNC_MODE"] = mode
    return main(argv)


# -- the process --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="moderation run", description="Start the moderation server.")
    parser.add_argument("--host", default=os.environ.get("MODERATION_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MODERATION_PORT", "5000")))
    parser.add_argument("--demo", action="store_true",
                        help="seed the demo dialogue (upgrading the database if needed) and print its links")
    parser.add_argument("--demo-json", metavar="FILE",
                        help="with --demo: also write the links as JSON to FILE")
    parser.add_argument("--async-mode", choices=ASYNC_MODES,
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


MODE_NOTES = {
    "eventlet": "eventlet %s (the default; eventlet is in maintenance mode and its deprecation warning is "
                "silenced: see docs/deployment.md)",
    "gevent": "gevent %s with gevent-websocket",
    "threading": "gunicorn %s, threaded worker (one process, up to " + f"{THREADS:,}" + " connections)",
}


def mode_version(mode: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version({"threading": "gunicorn"}.get(mode, mode))
    except PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=os.environ.get("MODERATION_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from moderation import create_app
    from moderation.core.db import SchemaBehind

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
        from moderation.demo import seed_demo
        demo = seed_demo(app, base_url)
        print_demo(demo)
        if args.demo_json:
            with open(args.demo_json, "w", encoding="utf-8") as handle:
                json.dump(demo, handle, indent=2)
    raise_open_files_limit()
    tune_garbage_collector()
    print(f"Serving on http://{args.host}:{args.port} ({args.async_mode})", flush=True)
    log.info("Async mode: " + MODE_NOTES[args.async_mode], mode_version(args.async_mode))
    SERVERS[args.async_mode](app, args.host, args.port)
    return 0


# -- the three servers ---------------------------------------------------------------------------
def serve_eventlet(app, host: str, port: int) -> None:
    """eventlet's WSGI server, started as Flask-SocketIO's ``run()`` starts
    it but with a longer listen queue. After a restart every client comes
    back within seconds; with eventlet's queue of 50 the kernel dropped
    thousands of their connection attempts (about 3,400 per storm of 1,000
    clients in bench/reconnect.py), and a dropped attempt is only retried
    after TCP's backoff of 1, 3, 7, 15 s. With 4,096 none are dropped."""
    import eventlet.wsgi
    from eventlet.green import socket

    from moderation.core.shutdown import GracefulStop

    family, *_rest, address = socket.getaddrinfo(host, port)[0]
    listener = StoppableListener(eventlet.listen(address, family, backlog=LISTEN_BACKLOG))
    pool = eventlet.GreenPool(MAX_CONNECTIONS)
    accepting = eventlet.getcurrent()

    def abandon() -> None:
        for thread in list(pool.coroutines_running):
            thread.kill()

    stop = GracefulStop(app, listener.close, requests_done=lambda: pool.running() == 0, abandon=abandon,
                        finish=lambda: eventlet.kill(accepting, SystemExit))  # ends the accept loop
    # eventlet's hub waits in epoll for up to a minute when nothing is due,
    # and work a signal handler schedules waits with it: the handler only
    # takes note, and a green thread looking every SIGNAL_POLL s starts the stop.
    requested = []
    signal.signal(signal.SIGTERM, lambda *_: requested.append(True))

    def watch() -> None:
        while not requested:
            eventlet.sleep(SIGNAL_POLL)
        stop.begin()

    eventlet.spawn_n(watch)
    eventlet.wsgi.server(listener, app, custom_pool=pool, log_output=False)
    stop.wait()


class StoppableListener:
    """The listening socket for eventlet's server. When its accept loop
    ends, eventlet's server closes every WebSocket at once, before a stop
    has told them anything; so the socket is closed at the start of a stop
    (new connections are refused) while the loop waits, and the loop is
    ended (``finish``) once the connections were told and closed."""

    def __init__(self, sock):
        self.sock = sock
        self.closed = False

    def accept(self):
        while True:
            try:
                return self.sock.accept()
            except OSError:
                if not self.closed:
                    raise
                import eventlet
                eventlet.sleep(60)  # until the stop ends the loop

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    def __getattr__(self, name):
        return getattr(self.sock, name)


def serve_gevent(app, host: str, port: int) -> None:
    """gevent's WSGI server with gevent-websocket, as Flask-SocketIO's
    ``run()`` starts it, with the longer listen queue."""
    import gevent
    from gevent import pywsgi
    from gevent.pool import Pool
    from geventwebsocket.handler import WebSocketHandler

    from moderation.core.shutdown import STOP_SECONDS, GracefulStop

    server = pywsgi.WSGIServer((host, port), app, handler_class=WebSocketHandler, log=None,
                               spawn=Pool(MAX_CONNECTIONS), backlog=LISTEN_BACKLOG)
    # close() stops accepting; serve_forever() then waits this long for the
    # requests (the WebSocket connections end when the stop closes them).
    server.stop_timeout = STOP_SECONDS
    # A browser's idle keep-alive connection holds a request handler until
    # it is ended (after CLOSE_SECONDS); the requests in flight finish first.
    stop = GracefulStop(app, server.close, requests_done=lambda: len(server.pool) == 0,
                        abandon=lambda: server.pool.kill(block=False))
    gevent.signal_handler(signal.SIGTERM, stop.begin)
    server.serve_forever()
    stop.wait()


def serve_threading(app, host: str, port: int) -> None:
    """gunicorn with its threaded worker, as Flask-SocketIO's deployment
    notes suggest for threading: one worker process (Socket.IO needs every
    request of a client to reach the same process), a thread per
    connection, simple-websocket for WebSocket. Werkzeug's development
    server, which Flask-SocketIO's ``run()`` would use, read WebSocket frames
    as HTTP requests and stalled under a few dozen clients."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.workers.gthread import ThreadWorker

    from moderation.core.shutdown import STOP_SECONDS, GracefulStop

    stop = GracefulStop(app, stop_accepting=lambda: None)  # the worker stops accepting by itself
    import threading
    threading.excepthook = quiet_closed_websockets(threading.excepthook)

    class Worker(ThreadWorker):
        def handle_exit(self, sig, frame):  # SIGTERM, passed on by the arbiter
            super().handle_exit(sig, frame)
            stop.begin()

        def run(self):
            super().run()  # until stopped and the requests (connections) are done
            stop.wait()

        def is_parent_alive(self) -> bool:
            if not super().is_parent_alive():
                os._exit(1)  # the server was killed (kill -9): so is its worker, without a graceful stop
            return True

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = {
        "bind": bind, "workers": 1, "worker_class": Worker, "threads": THREADS,
        "worker_connections": THREADS + 100, "backlog": LISTEN_BACKLOG, "keepalive": 5,
        "graceful_timeout": int(STOP_SECONDS) + 2, "timeout": 60,
        "accesslog": None, "errorlog": "-", "loglevel": "warning",
        # The app was made before the worker was forked: its database
        # connections belong to the arbiter.
        "post_fork": lambda _arbiter, _worker: app.extensions["db"].engine.dispose(close=False),
    }

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    try:
        Server().run()
    except SystemExit as exc:  # gunicorn's arbiter ends by exiting
        if exc.code not in (None, 0):
            raise


def quiet_closed_websockets(default_hook):
    """An exception hook for threads: python-engineio's WebSocket writer
    thread closes its socket when the connection ends, and when the client
    closed it first (it went away; normal) that raises OSError in the thread,
    which Python prints as a traceback. That one is logged at DEBUG."""
    import traceback

    def hook(args):
        frames = traceback.extract_tb(args.exc_traceback) if args.exc_traceback else []
        if issubclass(args.exc_type, OSError) and any("engineio" in frame.filename for frame in frames):
            log.debug("a WebSocket closed by its client first: %s", args.exc_value)
            return
        default_hook(args)
    return hook


SERVERS = {"eventlet": serve_eventlet, "gevent": serve_gevent, "threading": serve_threading}


def print_demo(demo: dict) -> None:
    print("Demo dialogue ready. Open one link per role (each in its own browser or private window):")
    for role, url in demo["links"].items():
        print(f"  {role:<19} {url}")
    print(f"  join with code      {demo['join_url']}  (code {demo['join_code']})")
    print(f"  secretariat sign-in username {demo['admin']['username']!r}, "
          f"password {demo['admin']['password']!r}", flush=True)


def offloader(mode: str):
    """``run(fn, *args)``: CPU-bound work (the assistant's model) in an OS
    thread, so that the event loop keeps serving the live session meanwhile.
    Under threading the caller is a thread already."""
    if mode == "eventlet":
        from eventlet import tpool

        return tpool.execute
    if mode == "gevent":
        import gevent

        return lambda fn, *args: gevent.get_hub().threadpool.apply(fn, args)
    return lambda fn, *args: fn(*args)


if __name__ == "__main__":
    sys.exit(launch())

