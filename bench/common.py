"""What the benchmarks share: small helpers, the prepared database (the demo
dialogue and N registered participants), server subprocesses that are stopped
alone and by id, and a fresh PostgreSQL database per run.

Nothing here imports eventlet: the servers run in their own subprocesses.
"""
from __future__ import annotations

import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BARE_PY = BENCH / "bare_server.py"
HOST = "127.0.0.1"  # traffic goes to this machine only

CONNECT_CONCURRENCY = 40  # eventlet listens with a backlog of 50
CONNECT_ATTEMPTS = 3
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


# -- small helpers ---------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def raise_open_files_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, wanted))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < wanted:
        sys.exit(f"error: the open-files limit is {soft}, {wanted} are needed (raise `ulimit -Hn`)")


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return math.nan


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS in /proc/<pid>/status), MB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return math.nan


def server_env(instance: Path, database_url: str | None = None, message_queue: str | None = None) -> dict[str, str]:
    """This process's environment without any ``MODERATION_*`` setting that
    might leak in, plus the instance folder (and the given settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env["MODERATION_INSTANCE_PATH"] = str(instance)
    env["PYTHONUNBUFFERED"] = "1"
    if database_url:
        env["MODERATION_DATABASE_URL"] = database_url
    if message_queue:
        env["MODERATION_MESSAGE_QUEUE"] = message_queue
    return env


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


# -- the database: the demo dialogue and N participants -------------------------------------
def prepare(root: str, instance: str, participants: int, out: str) -> None:
    """Seed the demo dialogue and register ``participants`` participants in the
    instance's database; run in a child process, before the server starts
    (``MODERATION_DATABASE_URL`` in the environment chooses the database).

    The registrations go through the command layer (validation, tokens,
    audit) without building change messages: nobody is connected yet, and the
    participants section rebuilt after each of 2,000 registrations would make
    the setup quadratic. Writes ``{"dialogue_id", "participants": [{"participant_id",
    "credential_id", "token"}, ...]}`` to ``out``."""
    sys.path.insert(0, root)
    from moderation import create_app
    from moderation.core.auth import SYSTEM
    from moderation.core.execution import execute
    from moderation.demo import seed_demo

    app = create_app({"INSTANCE_PATH": instance, "ASYNC_MODE": "threading", "AUTO_UPGRADE": True,
                      "LOG_LEVEL": "WARNING"})
    service = app.extensions["moderation"]
    dialogue_id = seed_demo(app, f"http://{HOST}")["dialogue_id"]
    people = []
    for i in range(participants):
        # Half in the room: one per organization (one in-person place each).
        payload = {"dialogue_id": dialogue_id, "name": f"Bench Participant {i + 1}",
                   "channel": "room" if i % 2 == 0 else "online",
                   "organization": {"name": f"Bench Organization {i // 2 + 1}",
                                    "category": ("ngo", "academia", "private_sector", "ngo_ecosoc")[i % 4]}}
        result = execute(service.db.sessions, service.plugins, SYSTEM, "participant.register", payload).result
        people.append({"participant_id": result["participant_id"], "credential_id": result["credential_id"],
                       "token": result["token"]})
    service.db.engine.dispose()
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"dialogue_id": dialogue_id, "participants": people}, handle)


def run_prepare(script: Path, root: Path, instance: Path, participants: int, out: Path, timeout: float,
                database_url: str | None = None, count_option: str = "--participants") -> dict[str, Any]:
    """Run ``script --prepare`` (which calls :func:`prepare`) in a child
    process and return what it wrote."""
    subprocess.run([sys.executable, str(script), "--prepare", str(instance), "--root", str(root),
                    count_option, str(participants), "--out", str(out)],
                   cwd=root, env=server_env(instance, database_url), check=True, timeout=timeout)
    return json.loads(out.read_text(encoding="utf-8"))


# -- server subprocesses -------------------------------------------------------------------
RUNNING: list[ServerProcess] = []
CHILDREN: list[int] = []  # process groups this run started (servers, client processes)


class ServerProcess:
    """One server in its own subprocess (its own session, so that it can be
    stopped alone, by its id); output goes to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path = ROOT):
        self.name = name
        self.argv, self.env, self.cwd = argv, env, cwd
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = self._spawn()
        RUNNING.append(self)

    def _spawn(self) -> subprocess.Popen:
        process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=self._log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        CHILDREN.append(process.pid)
        return process

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, url: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name} server exited with status {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the {self.name} server did not answer {url} within {timeout:.0f} s:\n"
                           + self.log_tail())

    def log_tail(self, chars: int = 4000) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def _end(self, sig: int) -> tuple[float, bool]:
        """Send ``sig`` and wait (killing after ``STOP_TIMEOUT``); how long the
        process took to end, and whether it had to be killed."""
        started, killed = time.monotonic(), False
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
                killed = True
        if self.process.pid in CHILDREN:
            CHILDREN.remove(self.process.pid)
        return time.monotonic() - started, killed

    def restart(self, hard: bool = False, argv: list[str] | None = None) -> tuple[float, bool]:
        """Stop (SIGINT, or SIGKILL when ``hard``) and start the same command
        (or ``argv``) again; what stopping took (see ``_end``)."""
        stopped = self._end(signal.SIGKILL if hard else signal.SIGINT)
        if argv is not None:
            self.argv = argv
        self.process = self._spawn()
        return stopped

    def stop(self) -> None:
        self._end(signal.SIGINT)
        self._log.close()
        if self in RUNNING:
            RUNNING.remove(self)


class RealServer(ServerProcess):
    """``run.py --demo`` as an operator starts it, on 127.0.0.1 only."""

    def __init__(self, root: Path, env: dict[str, str], workdir: Path, name: str = "real",
                 argv_prefix: list[str] | None = None, demo: bool = True):
        self.port = free_port()
        self.demo_json = workdir / f"{name}-demo.json"
        argv = (argv_prefix or [sys.executable]) + [str(root / "run.py"), "--host", HOST, "--port", str(self.port)]
        if demo:  # seed the demo dialogue and write its links
            argv += ["--demo", "--demo-json", str(self.demo_json)]
        super().__init__(name, argv, env, workdir / f"{name}.log", cwd=root)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_demo(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Until ``/healthz`` answers and the demo links are written; the links."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.wait_ready(self.url + "/healthz", max(deadline - time.monotonic(), 0.1))
            try:
                return json.loads(self.demo_json.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                time.sleep(0.2)
        raise RuntimeError(f"the {self.name} server wrote no demo links within {timeout:.0f} s:\n{self.log_tail()}")


class LineProcess:
    """A client process of a benchmark, driven by lines: it answers on
    stdout (``READY``, ``DONE``, ...) and reads commands on stdin; stderr goes
    to a log file. Its own session, so that it can be ended alone."""

    def __init__(self, argv: list[str], log_path: Path):
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                        start_new_session=True)
        CHILDREN.append(self.process.pid)

    def read_line(self, deadline: float) -> str:
        """The next line, or "" if the process ended or ``deadline`` (monotonic) passed."""
        import select

        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                return self.process.stdout.readline().decode("utf-8", errors="replace").strip()
            if self.process.poll() is not None:
                break
        return ""

    def send(self, line: str) -> None:
        self.process.stdin.write((line + "\n").encode())
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self.log.close()


def kill_children() -> None:
    """The hard stop: kill every process group this run started."""
    for child in list(CHILDREN):
        try:
            os.killpg(child, signal.SIGKILL)
        except OSError:
            pass


def last_resort(signum, _frame) -> None:
    """The hard stop if the event loop itself is stuck: kill what we started, exit."""
    print(f"error: stopped by signal {signum} (time limit)", file=sys.stderr, flush=True)
    kill_children()
    os._exit(2)


# -- PostgreSQL: a fresh database per run, dropped afterwards -------------------------------------
class TemporaryDatabase:
    """``CREATE DATABASE bench_<random>`` on the server of ``admin_url``; the
    URL of the new database is ``.url``; ``drop()`` (or leaving the ``with``
    block) drops it, ending its connections first."""

    def __init__(self, admin_url: str = POSTGRES_ADMIN_URL, prefix: str = "bench"):
        self.admin_url = admin_url
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        parts = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))
        self._execute(f'CREATE DATABASE "{self.name}"')

    def _execute(self, statement: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.admin_url, connect_timeout=10)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def drop(self) -> None:
        if self.name:
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.name = ""

    def __enter__(self) -> TemporaryDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.drop()


def fresh_database(option: str) -> TemporaryDatabase | None:
    """What ``--database`` asks for: None for ``sqlite`` (the embedded file in
    the instance folder), else a fresh PostgreSQL database (``postgres``: on
    the local server; a ``postgresql://`` URL: on that server)."""
    if option == "sqlite":
        return None
    return TemporaryDatabase(POSTGRES_ADMIN_URL if option == "postgres" else option)


def add_run_options(parser, *, prepare_timeout: float, timeout: float,
                    keep: str | None = "keep the work folder (logs)") -> None:
    """The options of every benchmark that runs the real server, and the
    hidden ones of its ``--prepare`` child (see ``run_as_child``)."""
    import argparse

    parser.add_argument("--prepare-timeout", type=float, default=prepare_timeout)
    parser.add_argument("--timeout", type=float, default=timeout,
                        help=f"stop a run after this many s (default {timeout:g})")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose run.py is measured")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    if keep:
        parser.add_argument("--keep", action="store_true", help=keep)
    parser.add_argument("--prepare", metavar="INSTANCE", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)


def run_in_workdir(args, name: str, run, *, alarm_slack: float = 60.0) -> Any:
    """One run of a benchmark: the coroutine ``run(args, workdir)`` in a
    fresh work folder (kept with ``--keep``), on a fresh database when
    ``--database`` asks for one (``args.database_url``, dropped after),
    within ``--timeout``. If the event loop is stuck, SIGALRM ends everything
    ``alarm_slack`` s later (``last_resort``)."""
    import asyncio
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    database = None
    args.database_url = None
    signal.alarm(int(args.timeout + alarm_slack))
    try:
        database = fresh_database(getattr(args, "database", "sqlite"))
        if database is not None:
            args.database_url = database.url
        return asyncio.run(asyncio.wait_for(run(args, workdir), args.timeout))
    finally:
        signal.alarm(0)
        if database is not None:
            database.drop()
        if getattr(args, "keep", False):
            say(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_as_child(args, count: int, worker_main=None) -> bool:
    """The child roles of a benchmark script: ``--prepare`` (seed the
    database) and ``--worker`` (a client process running ``worker_main``).
    True if this process was one of them."""
    if args.prepare:
        prepare(str(args.root.resolve()), args.prepare, count, args.out)
        return True
    if getattr(args, "worker", False):
        import asyncio

        first, last = (int(x) for x in args.slice.split(":"))
        raise_open_files_limit(last - first + 256)
        asyncio.run(worker_main(args))
        return True
    return False


def redis_database_is_empty(url: str) -> bool:
    """True if the Redis database of ``url`` holds no keys (so that the run
    does not share it with someone else's)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        return client.dbsize() == 0
    finally:
        client.close()
