"""A real server in a subprocess, and Socket.IO clients that talk to it.

``LiveServer`` starts ``python run.py`` exactly as an operator would, in its
own instance folder, waits until ``/healthz`` answers, and stops it again. It
can also be killed hard (``kill9``) and restarted on the same instance folder
and database, for tests of what clients see when the server goes away.

Nothing here imports eventlet or gevent: the async library lives in the
subprocess only (pytest runs with ``filterwarnings = error``, and the package
must not depend on eventlet).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "run.py"
START_TIMEOUT = 30.0


class ServerExited(RuntimeError):
    """The server process ended before it answered ``/healthz``."""

    def __init__(self, returncode: int, stderr: str):
        super().__init__(f"the server exited with status {returncode} before it was ready.\n"
                         f"--- server stderr ---\n{stderr[-6000:]}")
        self.returncode = returncode
        self.stderr = stderr


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def token_of(link: str) -> str:
    """The token in an access link ``http://host/l/<token>``."""
    return link.rstrip("/").rsplit("/", 1)[1]


def server_env(instance: Path, database_url: str | None = None, message_queue: str | None = None,
               **extra: str) -> dict[str, str]:
    """The environment for a server or CLI subprocess: this process's, without
    any ``MODERATION_*`` setting that might leak in, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env["MODERATION_INSTANCE_PATH"] = str(instance)
    env["PYTHONUNBUFFERED"] = "1"
    env["MODERATION_ASSIST_BACKEND"] = "tfidf"  # as in conftest.make_app; a test may choose another
    if database_url:
        env["MODERATION_DATABASE_URL"] = database_url
    if message_queue:
        env["MODERATION_MESSAGE_QUEUE"] = message_queue
        # This test run's own channel: Redis channels are shared by every
        # database number, and other runs may use the same Redis.
        env["MODERATION_MESSAGE_QUEUE_CHANNEL"] = f"moderation-test-{os.getpid()}"
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the ``moderation`` command in a subprocess (as an operator would)."""
    return subprocess.run([sys.executable, "-m", "moderation.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


class LiveServer:
    """``python run.py --port P [--demo --demo-json FILE] --async-mode M``.

    ``directory`` holds the instance folder (SQLite file, secret key), the
    demo JSON and the server's output. ``database_url`` and ``message_queue``
    become ``MODERATION_DATABASE_URL`` / ``MODERATION_MESSAGE_QUEUE``.
    """

    def __init__(self, directory: Path | str, *, async_mode: str = "eventlet", demo: bool = True,
                 database_url: str | None = None, message_queue: str | None = None,
                 env: dict[str, str] | None = None, port: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.instance = self.directory / "instance"
        self.async_mode = async_mode
        self.with_demo = demo
        self.database_url = database_url
        self.message_queue = message_queue
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.demo_path = self.directory / "demo.json"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._app = None
        self._demo: dict | None = None
        self._stdout = self._stderr = None

    # -- addresses ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def demo(self) -> dict:
        """The demo links and ids the server wrote at its (first) start."""
        if self._demo is None:
            self._demo = json.loads(self.demo_path.read_text(encoding="utf-8"))
        return self._demo

    @property
    def dialogue_id(self) -> int:
        return self.demo["dialogue_id"]

    def token(self, role: str) -> str:
        """The token of the demo link for ``role`` (``participant``,
        ``participant_online``, ``moderator``, ...)."""
        return token_of(self.demo["links"][role])

    @property
    def env(self) -> dict[str, str]:
        return server_env(self.instance, self.database_url, self.message_queue, **self.extra_env)

    @property
    def stderr(self) -> str:
        return self._read(f"stderr-{self.starts}.log")

    @property
    def stdout(self) -> str:
        return self._read(f"stdout-{self.starts}.log")

    def _read(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # -- life cycle ---------------------------------------------------------------
    def command(self, demo: bool) -> list[str]:
        args = [sys.executable, str(RUN_PY), "--port", str(self.port), "--async-mode", self.async_mode]
        if demo:
            args += ["--demo", "--demo-json", str(self.demo_path)]
        return args

    def start(self, timeout: float = START_TIMEOUT, *, demo: bool | None = None) -> LiveServer:
        """Start the process and wait for ``/healthz`` to answer 200.

        Raises ``ServerExited`` (with the server's stderr) when the process
        ends first, ``TimeoutError`` when it never becomes healthy."""
        assert not self.running, "already running"
        demo = self.with_demo if demo is None else demo
        self.starts += 1
        self._close_logs()
        self._stdout = open(self.directory / f"stdout-{self.starts}.log", "wb")
        self._stderr = open(self.directory / f"stderr-{self.starts}.log", "wb")
        self.process = subprocess.Popen(self.command(demo), cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=self._stdout, stderr=self._stderr)
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            returncode = self.process.poll()
            if returncode is not None:
                self._close_logs()
                raise ServerExited(returncode, self.stderr)
            try:
                status, _ = self.get_json("/healthz", timeout=2)
                if status == 200 and (not demo or self.demo_path.exists()):
                    if demo:
                        self._demo = None  # read the links of this start
                    return self
                last_error = f"/healthz answered {status}"
            except (OSError, ValueError) as exc:
                last_error = repr(exc)
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the server did not become healthy within {timeout:.0f} s ({last_error}).\n"
                           f"--- server stderr ---\n{self.stderr[-6000:]}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10) -> int | None:
        """Terminate (SIGTERM), then kill if it does not end in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._close_logs()
        return self.process.returncode

    def kill9(self) -> None:
        """End the server abruptly (SIGKILL): no goodbye to any client."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._close_logs()

    def restart(self, timeout: float = START_TIMEOUT) -> LiveServer:
        """Start again on the same port, instance folder and database. The
        demo is not seeded again, so the links of the first start stay valid."""
        self.stop()
        return self.start(timeout, demo=False)

    def _close_logs(self) -> None:
        for handle in (self._stdout, self._stderr):
            if handle is not None:
                handle.close()
        self._stdout = self._stderr = None

    def close(self) -> None:
        self.stop()
        if self._app is not None:
            self._app.extensions["db"].dispose()
            self._app = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- talking to it ------------------------------------------------------------
    def get_json(self, path: str, *, headers: dict | None = None, timeout: float = 10) -> tuple[int, Any]:
        return self.request("GET", path, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, *, headers: dict | None = None,
                timeout: float = 10) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode("utf-8", errors="replace")

    def app(self):
        """An app in this (the test) process on the server's database and
        instance folder, in threading mode: for seeding data and looking
        things up as the ``moderation`` CLI would. Its commands are not
        broadcast to the server's clients (there is no message queue between
        them unless ``message_queue`` is set)."""
        if self._app is None:
            from moderation import create_app
            config = {"ASYNC_MODE": "threading", "INSTANCE_PATH": str(self.instance)}
            if self.database_url:
                config["DATABASE_URL"] = self.database_url
            self._app = create_app(config)
        return self._app


OPEN_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


def disconnect_all(clients) -> None:
    """Disconnect several clients at once: a WebSocket close handshake can
    take seconds (the threading server answers the close frame late)."""
    threads = [threading.Thread(target=client.disconnect) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)


def shut_down_leftover_clients() -> int:
    """Stop every client still connected or trying to reconnect: one left
    behind by a test keeps a thread that logs and draws random numbers
    (reconnection jitter) while later tests run."""
    leftover = [client for client in list(OPEN_CLIENTS) if client.sio.connected or client.sio._reconnect_task]
    disconnect_all(leftover)
    return len(leftover)


class Client:
    """A python-socketio client (WebSocket transport) that records what the
    server sends, with waits that fail clearly instead of hanging."""

    def __init__(self, server: LiveServer | str, token: str | None, dialogue_id: int, *,
                 role: str | None = None, reconnection: bool = True, headers: dict | None = None):
        import socketio

        self.url = server.base_url if isinstance(server, LiveServer) else server
        self.auth: dict[str, Any] = {"dialogue_id": dialogue_id}
        if token is not None:
            self.auth["token"] = token
        if role is not None:
            self.auth["role"] = role
        self.headers = headers or {}
        self.sio = socketio.Client(reconnection=reconnection, reconnection_delay=0.2,
                                   reconnection_delay_max=1, randomization_factor=0.1)
        OPEN_CLIENTS.add(self)
        self.events: list[tuple[str, Any]] = []
        self.disconnects: list[Any] = []
        self._cond = threading.Condition()
        for name in ("snapshot", "change", "private", "session_ended", "connect_error", "server_stopping", "presence"):
            self.sio.on(name, self._recorder(name))
        self.sio.on("disconnect", self._on_disconnect)

    def _recorder(self, name: str) -> Callable:
        def record(data=None):
            with self._cond:
                self.events.append((name, data))
                self._cond.notify_all()
        return record

    def _on_disconnect(self, reason=None):
        with self._cond:
            self.disconnects.append(reason)
            self._cond.notify_all()

    # -- connection ---------------------------------------------------------------
    def connect(self, timeout: float = 10) -> Client:
        self.sio.connect(self.url, transports=["websocket"], auth=self.auth, headers=self.headers,
                         wait_timeout=timeout)
        self.wait_for(lambda: self.snapshots, timeout, "the snapshot sent on connect")
        return self

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def disconnect(self) -> None:
        """Disconnect, or stop trying to reconnect."""
        self.sio.shutdown()

    def __enter__(self) -> Client:
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.disconnect()

    # -- what arrived -------------------------------------------------------------
    def of(self, name: str) -> list[Any]:
        with self._cond:
            return [data for event, data in self.events if event == name]

    @property
    def snapshots(self) -> list[dict]:
        return self.of("snapshot")

    @property
    def changes(self) -> list[dict]:
        return self.of("change")

    def clear(self) -> None:
        with self._cond:
            self.events.clear()

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10, what: str = "a condition"):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                         f"received: {[e for e, _ in self.events]}")
                self._cond.wait(min(remaining, 0.2))

    def wait_for_version(self, version: int, timeout: float = 10) -> dict:
        """The first change message at ``version``."""
        return self.wait_for(lambda: next((c for c in self.changes if c["version"] == version), None),
                             timeout, f"a change at version {version}")

    # -- commands -----------------------------------------------------------------
    def call(self, event: str, payload: dict | None = None, *, key: str | None = None,
             timeout: float = 10) -> dict:
        """Emit a command event and return its acknowledgement."""
        data = {"payload": dict(payload or {}), "idempotency_key": key or uuid.uuid4().hex}
        return self.sio.call(event, data, timeout=timeout)

    def command(self, event: str, payload: dict | None = None, *, key: str | None = None, **kwargs) -> dict:
        """Like ``call``, but the command must succeed (sent again with the
        same key when the server asks to slow down, as the pages do)."""
        key = key or uuid.uuid4().hex
        ack = polite(lambda: self.call(event, payload, key=key, **kwargs))
        assert ack.get("ok"), f"{event} was refused: {ack}"
        return ack

    def fresh_snapshot(self, timeout: float = 10) -> dict:
        ack = polite(lambda: self.sio.call("snapshot", {}, timeout=timeout))
        assert ack.get("ok"), ack
        return ack["snapshot"]


def polite(send: Callable[[], dict], attempts: int = 20) -> dict:
    """Send, and while the answer is ``rate_limited`` wait as long as it says
    and send again: a test that checks the state after every step asks for
    more than a page would (the server weighs a snapshot as 10 events)."""
    for _ in range(attempts):
        ack = send()
        error = ack.get("error") or {}
        if ack.get("ok") or error.get("code") != "rate_limited":
            return ack
        time.sleep((error.get("details") or {}).get("retry_after", 0.5) + 0.05)
    return ack


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it is true (its value is returned), failing
    clearly after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)
    return value
