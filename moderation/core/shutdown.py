"""Stopping a server process gracefully (SIGTERM), in every async mode.

A process that ends at once loses what it was doing: a command being
committed may be stored without its acknowledgement reaching the client, and
every client finds out only when its connection breaks. Stopping instead:

1. refuses new Socket.IO events and connections (``server_stopping``, an
   answer the client sends again once reconnected) and stops accepting
   connections;
2. lets the events in flight finish (at most ``DRAIN_SECONDS``), so that each
   is committed and acknowledged;
3. sends ``server_stopping`` to this process's clients and closes their
   connections without Socket.IO's goodbye, so that they reconnect by
   themselves (to another process behind a load balancer, or to this server
   once it is back);
4. runs the app's stop hooks (``on_stop``: e.g. removing this process's
   presence from Redis) and ends.

The whole stop takes a few seconds at most (``STOP_SECONDS``). The pieces
that depend on the WSGI server (stop accepting, wait for the requests) are in
``moderation.server``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

from moderation.core.errors import CommandError, ServerStopping

log = logging.getLogger(__name__)
DRAIN_SECONDS = 5.0   # events in flight may take this long to finish
CLOSE_SECONDS = 2.0   # then the connections have this long to be told and closed
STOP_SECONDS = DRAIN_SECONDS + CLOSE_SECONDS + 1.0
ACK_GRACE = 0.1       # s between the last event done and the closing: its acknowledgement is queued by then


def stopping_error() -> CommandError:
    return ServerStopping("The server is restarting: nothing was changed. Send it again once "
                                           "reconnected.")


class InFlight:
    """Counts the Socket.IO events being handled; once the process is
    stopping, refuses new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.stopping = False

    def check(self) -> None:
        if self.stopping:
            raise stopping_error()

    @contextmanager
    def admit(self) -> Iterator[None]:
        with self._lock:
            self.check()
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1

    def stop(self) -> None:
        with self._lock:
            self.stopping = True

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._count == 0


def on_stop(app: Flask) -> list[Callable[[], Any]]:
    """The app's stop hooks, called once when the process stops gracefully."""
    return app.extensions.setdefault("on_stop", [])


def close_connections(socketio: Any, message: str) -> list:
    """Tell this process's clients that it is stopping, then close their
    connections as a broken transport would: Socket.IO clients reconnect
    after that (after Socket.IO's own goodbye they would not). What was
    queued for a client (acknowledgements, this message) is written first."""
    server = socketio.server
    # ignore_queue: only this process's clients; the others carry on.
    server.emit("server_stopping", {"message": message}, namespace="/", ignore_queue=True)
    sockets = list(server.eio.sockets.values())
    for eio_socket in sockets:
        try:
            eio_socket.close(wait=False, abort=True, reason=server.reason.SERVER_DISCONNECT)
        except Exception:  # noqa: BLE001 - one broken socket must not keep the others open
            log.debug("closing a connection failed", exc_info=True)
    return sockets


class GracefulStop:
    """One graceful stop of one process. ``stop_accepting`` closes the
    listening socket; ``requests_done`` says whether the WSGI server has no
    request left (WebSocket connections are requests too); ``abandon`` ends
    those still running when the time is up; ``finish`` ends the server's
    loop once the connections are closed."""

    MESSAGE = "The server is restarting. Reconnecting…"

    def __init__(self, app: Flask, stop_accepting: Callable[[], None], requests_done: Callable[[], bool] | None = None,
                 abandon: Callable[[], None] | None = None, finish: Callable[[], None] | None = None) -> None:
        self.app = app
        self.socketio = app.extensions["socketio"]
        self.realtime = app.extensions["realtime"]
        self.stop_accepting = stop_accepting
        self.requests_done = requests_done
        self.abandon = abandon  # ends the requests still running at the deadline
        self.finish = finish    # ends the server's loop
        self.started = False
        self.finished = threading.Event()

    def begin(self, *_signal_args: Any) -> None:
        """Start the stop in the background (safe to call from a signal handler)."""
        if self.started:
            return
        self.started = True
        self.socketio.start_background_task(self.run)

    def wait(self, timeout: float = STOP_SECONDS) -> bool:
        """Until the stop is done (at once if none began: e.g. Ctrl-C)."""
        return not self.started or self.finished.wait(timeout)

    def _wait_until(self, condition: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() >= deadline:
                return False
            self.socketio.sleep(0.05)
        return True

    def run(self) -> None:
        started = time.monotonic()
        try:
            log.info("Stopping: no new connections or events; finishing the events in flight")
            self.realtime.in_flight.stop()
            try:
                self.stop_accepting()
            except Exception:  # noqa: BLE001 - stopping goes on
                log.warning("could not close the listening socket", exc_info=True)
            if not self._wait_until(lambda: self.realtime.in_flight.idle, DRAIN_SECONDS):
                log.warning("Stopping: events still in flight after %.0f s", DRAIN_SECONDS)
            self.socketio.sleep(ACK_GRACE)
            closed = close_connections(self.socketio, self.MESSAGE)
            # What was queued for each connection is taken by its writer
            # before the server's loop ends (eventlet's closes what it
            # thinks idle, WebSockets included): all but the closing mark,
            # which the writer may leave behind.
            self._wait_until(lambda: all(s.queue.qsize() <= 1 for s in closed), CLOSE_SECONDS)
            self.socketio.sleep(ACK_GRACE)
            self._end_loop()  # idle keep-alive connections are closed with the server's loop
            if self.requests_done is not None and not self._wait_until(self.requests_done, CLOSE_SECONDS):
                # Mostly browsers' idle keep-alive connections (gevent keeps no count of them).
                log.info("Stopping: connections still open after %.0f s; ending them", CLOSE_SECONDS)
                if self.abandon is not None:
                    self.abandon()
            for hook in on_stop(self.app):
                try:
                    hook()
                except Exception:  # noqa: BLE001 - the other hooks still run
                    log.warning("a stop hook failed", exc_info=True)
            log.info("Stopped: %d connections told and closed in %.1f s", len(closed), time.monotonic() - started)
        finally:
            self.finished.set()
            self._end_loop()  # whatever happened: the process must end

    def _end_loop(self) -> None:
        finish, self.finish = self.finish, None
        if finish is not None:
            finish()
