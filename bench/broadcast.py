"""Broadcast latency: how long until every participant has the new queue.

N participants are connected to the real server; the moderator calls the next
speaker again and again. A round lasts from the moment the moderator emits
``queue.call_next`` until the last participant has received the ``change``
message with the new version (whose ``queue.current`` is the new speaker).
In the same run, a bare Flask-SocketIO server (``bench/bare_server.py``, same
async mode and server options) broadcasts messages of the same byte size to
the same number of clients, measured the same way. The last line compares the
two p99s:

    python bench/broadcast.py --clients 1000
    ...
    p99_ratio=1.21 clients=1000 lost=0

Both servers run in their own fresh subprocess on 127.0.0.1 and are stopped at
the end; every wait is bounded, so the script stops by itself.

The participants are cheap clients on purpose (the machine's cores are shared
by the server and the clients): each speaks the Engine.IO 4 / Socket.IO 5
protocol over one aiohttp WebSocket, notes the arrival time first, and reads
only the version from the head of a message. One rotating client per round has
its message parsed in full and checked (version, and ``queue.current`` is the
speaker the moderator's ack names); every other client's message must have the
same length. The moderator and the baseline's controller use python-socketio's
AsyncClient. Requires the ``bench`` extra (aiohttp).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BARE_PY,
    BENCH,
    CONNECT_ATTEMPTS,
    CONNECT_CONCURRENCY,
    HOST,
    POSTGRES_ADMIN_URL,
    STOP_TIMEOUT,
    RealServer,
    ServerProcess,
    add_run_options,
    cpu_seconds,
    free_port,
    last_resort,
    own_cpu_seconds,
    percentile,
    raise_open_files_limit,
    redis_database_is_empty,
    run_as_child,
    run_in_workdir,
    run_prepare,
    say,
    server_env,
    token_of,
)

GC_WRAPPER = BENCH / "gc_wrapper.py"
HANDSHAKE_TIMEOUT = 30.0
CHANGE_PREFIX = '42["change",'
REDIS_URL = "redis://127.0.0.1:6379/13"


def server_argv_prefix(args) -> list[str]:
    """How to start a server script: directly, or under ``gc_wrapper.py``."""
    if args.gc_threshold or args.gc_trace:
        return [sys.executable, str(GC_WRAPPER)] + (["--threshold", args.gc_threshold] if args.gc_threshold else [])
    return [sys.executable]


def full_collections(log: str, start: float, end: float) -> list[float]:
    """Durations (ms) of the full collections ``gc_wrapper.py`` logged
    between two wall-clock times."""
    found = []
    for took, at in re.findall(r"GC gen2 (\d+) ms \S+ \S+ at=([\d.]+)", log):
        if start <= float(at) <= end:
            found.append(float(took))
    return found


# -- the participants ------------------------------------------------------------------------
class Participants:
    """N cheap Socket.IO clients in one event loop, and what they received.

    Client i connects to ``urls[i % len(urls)]`` (the server processes in
    turn). ``arrivals[i]`` maps a version to (arrival time, message length) for client
    i. ``counts`` counts the clients that have a version, so that the round
    ends as soon as the last one has it."""

    def __init__(self, urls: list[str], auths: list[dict[str, Any]]):
        self.urls = urls
        self.auths = auths
        self.n = len(auths)
        self.arrivals: list[dict[int, tuple[float, int]]] = [{} for _ in auths]
        self.highest = [-1] * self.n
        self.counts: dict[int, int] = {}
        self.target: int | None = None
        self.complete = asyncio.Event()
        self.sample_index = -1
        self.sample: dict[int, str] = {}
        self.duplicates = 0
        self.out_of_order = 0
        self.ended = 0  # connections closed by the server during the run
        self.connected = 0
        self.errors: list[str] = []
        self.sockets: list[Any] = []
        self.tasks: list[asyncio.Task] = []
        self.session = None

    async def connect_all(self, timeout: float) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=False))
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        ready = [asyncio.get_running_loop().create_future() for _ in range(self.n)]
        self.tasks = [asyncio.create_task(self._client(i, gate, ready[i])) for i in range(self.n)]
        done, pending = await asyncio.wait(ready, timeout=timeout)
        failed = [f for f in done if f.exception() is not None]
        if pending or failed:
            reasons = {str(f.exception())[:200] for f in failed}
            raise RuntimeError(f"{len(pending) + len(failed)} of {self.n} clients did not connect "
                               f"within {timeout:.0f} s: {sorted(reasons)[:3]}")

    async def _client(self, i: int, gate: asyncio.Semaphore, ready: asyncio.Future) -> None:
        import aiohttp

        ws = None
        try:
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    async with gate:
                        ws = await asyncio.wait_for(self._handshake(i), HANDSHAKE_TIMEOUT)
                    break
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise RuntimeError(f"client {i}: {type(exc).__name__} {exc}") from None
                    await asyncio.sleep(0.5 * (attempt + 1))
            self.sockets.append(ws)
            self.connected += 1
            ready.set_result(True)
        except Exception as exc:  # reported by connect_all
            if not ready.done():
                ready.set_exception(exc)
            return
        await self._read(i, ws)

    async def _handshake(self, i: int):
        import aiohttp

        ws = await self.session.ws_connect(self.urls[i % len(self.urls)], autoping=True, max_msg_size=0, compress=0,
                                           timeout=aiohttp.ClientWSTimeout(ws_close=5))
        try:
            opening = await ws.receive()
            if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
                raise RuntimeError(f"client {i}: unexpected Engine.IO opening {str(opening.data)[:80]!r}")
            await ws.send_str("40" + json.dumps(self.auths[i], separators=(",", ":")))
            while True:
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"client {i}: connection closed during the handshake ({msg.type})")
                text = msg.data
                if text == "2":
                    await ws.send_str("3")
                elif text.startswith("44"):
                    raise RuntimeError(f"client {i}: connection refused: {text[2:200]}")
                elif text.startswith('42["snapshot"'):
                    return ws
        except BaseException:
            await ws.close()
            raise

    async def _read(self, i: int, ws) -> None:
        """The hot path: note the time first, then as little as possible."""
        import aiohttp

        arrivals = self.arrivals[i]
        clock = time.perf_counter
        TEXT = aiohttp.WSMsgType.TEXT
        try:
            while True:
                msg = await ws.receive()
                now = clock()
                if msg.type is not TEXT:
                    break
                text = msg.data
                if text.startswith(CHANGE_PREFIX):
                    start = text.find('"version":', 12, 200) + 10
                    version = int(text[start:text.index(",", start)])
                    if version in arrivals:
                        self.duplicates += 1
                        continue
                    arrivals[version] = (now, len(text))
                    if version < self.highest[i]:
                        self.out_of_order += 1
                    else:
                        self.highest[i] = version
                    if i == self.sample_index:
                        self.sample[version] = text
                    count = self.counts[version] = self.counts.get(version, 0) + 1
                    if count == self.n and version == self.target:
                        self.complete.set()
                elif text == "2":
                    await ws.send_str("3")
                elif text.startswith('42["session_ended"') or text.startswith("41"):
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors.append(f"client {i}: {type(exc).__name__} {exc}")
        self.ended += 1

    async def wait_for(self, version: int, timeout: float) -> bool:
        """Until every client has ``version`` (True) or the timeout (False)."""
        self.target = version
        self.complete.clear()
        if self.counts.get(version, 0) >= self.n:
            return True
        try:
            await asyncio.wait_for(self.complete.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.sockets:
            await asyncio.wait([asyncio.ensure_future(ws.close()) for ws in self.sockets], timeout=15)
        if self.session is not None:
            await self.session.close()


# -- rounds ----------------------------------------------------------------------------------
class Result:
    def __init__(self, name: str, clients: int):
        self.name = name
        self.clients = clients
        self.rounds: list[float] = []  # round latency (s), measured rounds only
        self.acks: list[float] = []  # time until the commanding client's ack (s)
        self.per_client: list[float] = []  # every client's delivery latency (s), measured rounds
        self.sizes: list[int] = []  # frame bytes per round, warm-up included
        self.lost = 0
        self.bad = 0  # sampled message with the wrong content, or a length that differs
        self.timeouts = 0
        self.out_of_order = 0
        self.duplicates = 0
        self.server_cpu = math.nan  # s per measured round
        self.client_cpu_total = 0.0  # s, this process, measured rounds
        self.errors: list[str] = []
        self.details: list[dict[str, float]] = []  # per measured round, for --json
        self.full_gcs: list[float] | None = None  # with --gc-trace: ms of each full collection

    def summary(self) -> dict[str, Any]:
        ms = 1000.0
        return {
            "server": self.name, "clients": self.clients, "rounds": len(self.rounds),
            "bytes_median": int(percentile(self.sizes, 50)) if self.sizes else 0,
            "p50_ms": percentile(self.rounds, 50) * ms, "p99_ms": percentile(self.rounds, 99) * ms,
            "max_ms": max(self.rounds, default=math.nan) * ms,
            "client_p50_ms": percentile(self.per_client, 50) * ms,
            "client_p99_ms": percentile(self.per_client, 99) * ms,
            "ack_p50_ms": percentile(self.acks, 50) * ms,
            "lost": self.lost, "bad": self.bad, "timeouts": self.timeouts,
            "out_of_order": self.out_of_order, "duplicates": self.duplicates,
            "server_cpu_ms_per_round": self.server_cpu * ms,
            "client_cpu_ms_per_round": self.client_cpu_total / max(len(self.rounds), 1) * ms,
        }


class Target:
    """One server (one or more processes), its connected clients and its
    figures. ``command(i)`` emits round i's command and returns (version,
    expected) from the ack; ``check(message, version, expected)`` validates
    one parsed message."""

    name = ""

    def __init__(self, args, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.result = Result(self.name, args.clients)
        self.servers: list[ServerProcess] = []
        self.participants: Participants | None = None
        self.commander = None
        self._cpu_start = math.nan
        self._window = [math.nan, math.nan]  # wall-clock time of the measured rounds

    async def start(self) -> None:
        raise NotImplementedError

    def server_cpu(self) -> float:
        """CPU seconds of all this target's server processes so far."""
        return sum(cpu_seconds(server.pid) for server in self.servers)

    async def command(self, i: int) -> tuple[int, Any]:
        raise NotImplementedError

    def check(self, message: dict[str, Any], version: int, expected: Any) -> bool:
        return message.get("version") == version

    def start_measuring(self) -> None:
        self._cpu_start = self.server_cpu()
        self._window[0] = time.time()

    def stop_measuring(self, rounds: int) -> None:
        self.result.server_cpu = (self.server_cpu() - self._cpu_start) / max(rounds, 1)
        self._window[1] = time.time()
        self.result.out_of_order = self.participants.out_of_order
        self.result.duplicates = self.participants.duplicates
        self.result.errors.extend(self.participants.errors[:5])
        if self.participants.ended:
            self.result.errors.append(f"{self.participants.ended} client connections ended during the run")

    async def round(self, i: int, measured: bool) -> None:
        result, participants = self.result, self.participants
        n = participants.n
        participants.sample_index = i % n
        participants.sample.clear()
        participants.target = None
        own_cpu = own_cpu_seconds()
        t0 = time.perf_counter()
        version, expected = await self.command(i)
        t_ack = time.perf_counter()
        if not await participants.wait_for(version, self.args.round_timeout):
            result.timeouts += 1
        got = [a[version] for a in participants.arrivals if version in a]
        result.lost += n - len(got)
        text = participants.sample.get(version)
        if text is None or not self.check(json.loads(text[len(CHANGE_PREFIX):-1]), version, expected):
            result.bad += 1
        if text is not None:
            result.sizes.append(len(text.encode()))
            result.bad += sum(1 for _, length in got if length != len(text))
        if measured and got:
            last = max(t for t, _ in got) - t0
            result.acks.append(t_ack - t0)
            result.rounds.append(last)
            result.per_client.extend(t - t0 for t, _ in got)
            result.details.append({"ack_ms": round((t_ack - t0) * 1000, 1),
                                   "first_ms": round((min(t for t, _ in got) - t0) * 1000, 1),
                                   "last_ms": round(last * 1000, 1), "bytes": len(text or "")})
        if measured:
            result.client_cpu_total += own_cpu_seconds() - own_cpu

    async def stop(self) -> None:
        if self.commander is not None:
            try:
                await asyncio.wait_for(self.commander.disconnect(), STOP_TIMEOUT)
            except (TimeoutError, Exception):
                pass
        if self.participants is not None:
            await self.participants.close()
        for server in self.servers:
            server.stop()
            if self.args.gc_trace or self.args.gc_threshold:
                self.result.full_gcs = (self.result.full_gcs or []) + full_collections(server.log_tail(10**7),
                                                                                       *self._window)

    async def connect_participants(self, ports: list[int], auths: list[dict[str, Any]]) -> None:
        say(f"[{self.name}] connecting {len(auths)} clients to {len(ports)} process(es) ...")
        self.participants = Participants([f"ws://{HOST}:{port}/socket.io/?EIO=4&transport=websocket"
                                          for port in ports], auths)
        await self.participants.connect_all(self.args.connect_timeout)


async def controller(url: str, auth: dict[str, Any]):
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, auth=auth, transports=["websocket"], wait_timeout=HANDSHAKE_TIMEOUT)
    return client


async def call(client, event: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send a command; when the connection's event rate limit refuses it
    (setting up the list sends many at once), wait as told and send it again."""
    for _ in range(20):
        ack = await client.call(event, data, timeout=timeout)
        error = ack.get("error") if isinstance(ack, dict) else None
        if not (isinstance(error, dict) and error.get("code") == "rate_limited"):
            break
        await asyncio.sleep(max(0.2, float((error.get("details") or {}).get("retry_after", 1.0))))
    if not isinstance(ack, dict) or not ack.get("ok"):
        raise RuntimeError(f"{event} failed: {ack}")
    return ack


class RealTarget(Target):
    """``run.py --demo`` on a fresh instance folder with N registered
    participants; the demo moderator starts the first item, fills the queue
    and then calls the next speaker once per round."""

    name = "real"

    async def start(self) -> None:
        args, workdir = self.args, self.workdir
        instance = workdir / "real-instance"
        say(f"[real] registering {args.clients} participants ...")
        people = run_prepare(Path(__file__).resolve(), args.root, instance, args.clients,
                             workdir / "participants.json", args.prepare_timeout, args.database_url,
                             count_option="--clients")
        env = server_env(instance, args.database_url, args.message_queue)
        prefix = server_argv_prefix(args)
        # The first process seeds the demo (and the schema); the others start on the same database.
        first = RealServer(args.root, env, workdir, "real", argv_prefix=prefix)
        self.servers.append(first)
        demo = first.wait_demo()
        for k in range(1, args.processes):
            other = RealServer(args.root, env, workdir, f"real{k + 1}", argv_prefix=prefix, demo=False)
            self.servers.append(other)
            other.wait_ready(other.url + "/healthz")
        dialogue_id = demo["dialogue_id"]
        if dialogue_id != people["dialogue_id"]:
            raise RuntimeError("the server seeded another demo dialogue than the one prepared")
        self.commander = await controller(first.url, {
            "dialogue_id": dialogue_id, "token": token_of(demo["links"]["moderator"])})
        total = args.warmup + args.rounds
        say(f"[real] starting an item and adding {total} speakers ...")
        await call(self.commander, "agenda.advance", {"payload": {}, "idempotency_key": "bench-advance"}, 30)
        for k in range(total):
            await call(self.commander, "queue.add_speaker", {"payload": {
                "name": f"Bench Speaker {k + 1}", "organization": f"Bench Delegation {k % 9 + 1}",
                "category": ("ngo", "academia", "state_party", "private_sector")[k % 4],
                "channel": "room" if k % 2 == 0 else "online"}, "idempotency_key": f"bench-add-{k}"}, 30)
        await self.connect_participants([server.port for server in self.servers],
                                        [{"dialogue_id": dialogue_id, "token": p["token"]}
                                         for p in people["participants"]])

    async def command(self, i: int) -> tuple[int, Any]:
        ack = await call(self.commander, "queue.call_next", {"payload": {}, "idempotency_key": f"bench-next-{i}"},
                         self.args.round_timeout)
        return ack["version"], ack["result"]["speaking_id"]

    def check(self, message: dict[str, Any], version: int, speaking_id: Any) -> bool:
        current = (message.get("sections", {}).get("queue") or {}).get("current") or {}
        return message.get("version") == version and current.get("id") == speaking_id


class BareTarget(Target):
    """``bench/bare_server.py``: one room, one ``change`` per ``go``, of the
    size the real server's message had in the same round."""

    name = "bare"

    def __init__(self, args, workdir: Path, sizes: list[int]):
        super().__init__(args, workdir)
        self.sizes = sizes

    async def start(self) -> None:
        ports = []
        for k in range(self.args.processes):
            port = free_port()
            argv = server_argv_prefix(self.args) + [str(BARE_PY), "--host", HOST, "--port", str(port)]
            if self.args.message_queue:
                argv += ["--message-queue", self.args.message_queue]
            name = "bare" if k == 0 else f"bare{k + 1}"
            server = ServerProcess(name, argv, server_env(self.workdir / "bare-instance"),
                                   self.workdir / f"{name}.log")
            self.servers.append(server)
            server.wait_ready(f"http://{HOST}:{port}/socket.io/?EIO=4&transport=polling")
            ports.append(port)
        self.commander = await controller(f"http://{HOST}:{ports[0]}", {})
        await self.connect_participants(ports, [{"room": "all"}] * self.args.clients)

    async def command(self, i: int) -> tuple[int, Any]:
        size = self.sizes[min(i, len(self.sizes) - 1)]
        ack = await call(self.commander, "go", {"bytes": size}, self.args.round_timeout)
        return ack["version"], None


async def run_rounds(targets: list[Target], *, rounds: int, warmup: int, gap: float) -> None:
    """Round i of each target in turn, so that both servers see the same
    (noisy) machine; nothing else happens during a round."""
    gc.collect()
    gc.freeze()  # fewer and shorter collections in the clients' loop
    try:
        for i in range(warmup + rounds):
            if i == warmup:
                for target in targets:
                    target.start_measuring()
            for target in targets:
                await target.round(i, measured=i >= warmup)
                await asyncio.sleep(gap)
            if (i + 1) % 10 == 0:
                print(f"  round {i + 1}/{warmup + rounds}", file=sys.stderr, flush=True)
        for target in targets:
            target.stop_measuring(rounds)
    finally:
        gc.unfreeze()


# -- output ---------------------------------------------------------------------------------
COLUMNS = [("server", "{}"), ("clients", "{}"), ("rounds", "{}"), ("bytes_median", "{}"), ("p50_ms", "{:.1f}"),
           ("p99_ms", "{:.1f}"), ("max_ms", "{:.1f}"), ("lost", "{}"), ("client_p50_ms", "{:.1f}"),
           ("client_p99_ms", "{:.1f}"), ("ack_p50_ms", "{:.1f}"), ("server_cpu_ms_per_round", "{:.0f}"),
           ("client_cpu_ms_per_round", "{:.0f}")]


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[name for name, _ in COLUMNS]] + [[fmt.format(row[name]) for name, fmt in COLUMNS] for row in rows]
    widths = [max(len(r[c]) for r in cells) for c in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=False)) for r in cells)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Broadcast latency of the speaker queue against a bare "
                                                 "Flask-SocketIO server.")
    parser.add_argument("--clients", type=int, default=1000, help="connected participants (default 1000)")
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="rounds before measuring (default 5)")
    parser.add_argument("--only", choices=("real", "bare"), help="measure one server only")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes per server (default 1); more than one runs the real server on "
                             "PostgreSQL and both servers on the Redis message queue, clients split across them")
    parser.add_argument("--database", default=None,
                        help="the real server's database: sqlite (default for one process), postgres (a fresh "
                             f"database on {POSTGRES_ADMIN_URL}, dropped after the run; default for several "
                             "processes) or postgresql://... of a server to create it on")
    parser.add_argument("--message-queue", default=None,
                        help=f"Redis URL for the Socket.IO message queue (default with several processes: "
                             f"{REDIS_URL}; the database number must hold no keys)")
    parser.add_argument("--payload-bytes", type=int, default=8000,
                        help="frame size for --only bare (otherwise the real run's sizes are used)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="independent runs (fresh servers each); the last line gives the median ratio")
    parser.add_argument("--gap", type=float, default=0.2, help="pause between rounds in s (default 0.2)")
    parser.add_argument("--round-timeout", type=float, default=30.0, help="s to wait for one round (default 30)")
    parser.add_argument("--connect-timeout", type=float, default=None,
                        help="s to connect every client (default 60 + 0.1 s per client)")
    add_run_options(parser, prepare_timeout=600.0, timeout=1800.0, keep="keep the work folder (server logs)")
    parser.add_argument("--gc-trace", action="store_true",
                        help="start both servers under bench/gc_wrapper.py and count their full garbage "
                             "collections during the measured rounds")
    parser.add_argument("--gc-threshold", metavar="A,B,C",
                        help="an experiment: both servers run with gc.set_threshold(A, B, C) (implies --gc-trace)")
    args = parser.parse_args(argv)
    if args.connect_timeout is None:
        args.connect_timeout = 60 + 0.1 * args.clients
    if args.clients < 1 or args.rounds < 1 or args.warmup < 0 or args.repeat < 1 or args.processes < 1:
        parser.error("--clients, --rounds, --repeat and --processes must be at least 1, --warmup at least 0")
    if args.database is None:
        args.database = "postgres" if args.processes > 1 else "sqlite"
    if args.processes > 1 and args.message_queue is None:
        args.message_queue = REDIS_URL
    if args.processes > 1 and args.database == "sqlite":
        parser.error("several processes need --database postgres")
    return args


async def run_once(args, workdir: Path) -> list[Result]:
    """Start the servers, connect the clients, run the rounds, stop it all."""
    sizes = [args.payload_bytes]  # the bare server's frame sizes, per round
    targets: list[Target] = []
    try:
        if args.only in (None, "real"):
            real = RealTarget(args, workdir)
            targets.append(real)
            await real.start()
        if args.only in (None, "bare"):
            bare = BareTarget(args, workdir, targets[0].result.sizes if targets else sizes)
            targets.append(bare)
            await bare.start()
        print(f"[{'+'.join(t.name for t in targets)}] {args.warmup} + {args.rounds} rounds ...",
              file=sys.stderr, flush=True)
        await run_rounds(targets, rounds=args.rounds, warmup=args.warmup, gap=args.gap)
    finally:
        for target in reversed(targets):
            await target.stop()
    return [t.result for t in targets]


def p99_ratio(rows: list[dict[str, Any]]) -> float:
    if len(rows) == 2 and rows[1]["p99_ms"] > 0:
        return rows[0]["p99_ms"] / rows[1]["p99_ms"]
    return math.nan


def median_rows(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Column by column, the median over the runs (lost and rounds: the sum)."""
    merged = []
    for index, first in enumerate(runs[0]):
        rows = [run[index] for run in runs]
        row = dict(first)
        for key, value in first.items():
            if key in ("lost", "rounds", "bad", "timeouts", "out_of_order", "duplicates"):
                row[key] = sum(r[key] for r in rows)
            elif isinstance(value, (int, float)) and key != "clients":
                row[key] = percentile([r[key] for r in rows], 50)
        row["server"] = f"{first['server']}(median)"
        merged.append(row)
    return merged


def main(argv=None) -> int:
    args = parse_args(argv)
    if run_as_child(args, args.clients):
        return 0
    raise_open_files_limit(args.clients + 512)
    signal.signal(signal.SIGALRM, last_resort)
    signal.signal(signal.SIGTERM, last_resort)
    if args.message_queue and not redis_database_is_empty(args.message_queue):
        sys.exit(f"error: the Redis database {args.message_queue} holds keys: choose an unused one")
    runs: list[list[dict[str, Any]]] = []
    failed = False
    lost = 0
    report: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                                       if k not in ("prepare", "out")}, "runs": []}
    for run in range(args.repeat):
        if args.repeat > 1:
            print(f"run {run + 1}/{args.repeat}", flush=True)
        load_before = os.getloadavg()[0]
        try:
            results = run_in_workdir(args, "broadcast", run_once, alarm_slack=120)
        except TimeoutError:
            print(f"error: the run did not finish within {args.timeout:.0f} s", file=sys.stderr)
            return 2
        rows = [r.summary() for r in results]
        runs.append(rows)
        load = (load_before, os.getloadavg()[0])
        print(f"load average (1 min) before/after: {load[0]:.1f}/{load[1]:.1f} on {os.cpu_count()} cores; "
              f"{args.processes} process(es) per server, database {args.database}"
              + (f", message queue {args.message_queue}" if args.message_queue else ""))
        print(table(rows))
        for r in results:
            for error in r.errors:
                print(f"[{r.name}] {error}")
            if r.bad or r.timeouts or r.out_of_order or r.duplicates:
                print(f"[{r.name}] bad={r.bad} timeouts={r.timeouts} out_of_order={r.out_of_order} "
                      f"duplicates={r.duplicates}")
            if r.full_gcs is not None:
                print(f"[{r.name}] full garbage collections during the measured rounds: {len(r.full_gcs)}"
                      + (f", {sum(r.full_gcs):.0f} ms in total, longest {max(r.full_gcs):.0f} ms"
                         if r.full_gcs else ""))
            failed = failed or bool(r.bad or r.timeouts)
            lost += r.lost
        report["runs"].append({"results": rows, "p99_ratio": p99_ratio(rows), "load_average": load,
                               "full_gcs_ms": {r.name: r.full_gcs for r in results},
                               "details": {r.name: r.details for r in results}})
    ratios = [p99_ratio(rows) for rows in runs]
    ratio = percentile([r for r in ratios if not math.isnan(r)], 50)
    if args.repeat > 1:
        print(f"medians over {args.repeat} runs (p99 ratios per run: {', '.join(f'{r:.2f}' for r in ratios)}):")
        print(table(median_rows(runs)))
    if args.json:
        report["p99_ratio"] = ratio
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
    shown = "n/a" if math.isnan(ratio) else f"{ratio:.2f}"
    print(f"p99_ratio={shown} clients={args.clients} lost={lost}", flush=True)
    return 0 if lost == 0 and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
