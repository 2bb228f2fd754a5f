"""Reconnect storm: N connected participants, the server is restarted; how
long until every client is back at the current version?

    python bench/reconnect.py                       # 1,000 participants, kill -9
    python bench/reconnect.py --restart stop        # SIGINT (a clean stop), then start
    python bench/reconnect.py --repeat 3 --json /tmp/reconnect.json
    ...
    back=1000/1000 p50_s=4.1 p99_s=7.9 max_s=8.3 within_10s=1000

What one run does:

1. A fresh instance folder (SQLite; ``--database postgres`` for a fresh
   PostgreSQL database, dropped after the run) gets the demo dialogue and N
   registered participants; ``run.py --demo`` starts on it (eventlet). The
   demo moderator (python-socketio ``AsyncClient``, reconnecting) starts the
   first agenda item and puts three speakers on the list.
2. ``--workers`` client processes connect the N participants with their own
   links: python-socketio ``AsyncClient``s that reconnect like the browser
   client (first retry after about 1 s, doubling up to 5 s, give or take
   0.5 s; each attempt waits up to 20 s for the server's answer, as
   socket.io-client's ``timeout`` does).
3. When every client is connected and the dialogue has been quiet for 2 s, the
   current version V is read (the moderator's ``snapshot``). Then the server
   is killed (``kill -9``; or stopped with SIGINT, ``--restart stop``) and
   started again at once with the same command, port and instance folder
   (without ``--demo``, so that the links stay valid).
4. A client is *back* when, after the restart, it has reconnected and
   received its ``snapshot`` with a version of at least V. The time is taken
   from the moment the server was killed. The run waits until every client
   is back or ``--window`` seconds (default 60) have passed.
5. Then the moderator (reconnected as well) calls the next speaker, and every
   client must receive that ``change`` within 10 s (``live_after``: they are
   back in their rooms, not only connected).

Figures: ``back`` (clients back / N), ``p50_s`` ``p99_s`` ``max_s`` (time
until back), ``within_10s`` (the target: all), ``stop_s`` (until the old
process had ended; with ``--restart stop`` it is killed if SIGINT has not
ended it within 10 s), ``server_ready_s`` (kill until ``/healthz`` answers
again), ``reconnects_refused`` (connection attempts refused while the server
was down or starting), ``live_after``, ``server_cpu_s`` (the new process's CPU
until every client was back, start-up included), and the load average. Every wait is bounded; the script stops by itself, ends the
processes it started and removes its work folder (and database). Requires
the ``bench`` extra.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CONNECT_ATTEMPTS,
    CONNECT_CONCURRENCY,
    POSTGRES_ADMIN_URL,
    STOP_TIMEOUT,
    LineProcess,
    RealServer,
    add_run_options,
    cpu_seconds,
    last_resort,
    percentile,
    raise_open_files_limit,
    run_as_child,
    run_in_workdir,
    run_prepare,
    say,
    server_env,
    token_of,
)

TARGET_S = 10.0
CHECK_TIMEOUT = 10.0
BROWSER_CONNECT_TIMEOUT = 20  # s: socket.io-client's default ``timeout`` for one connection attempt


def browser_like_client(**options):
    """A python-socketio ``AsyncClient`` that reconnects as the browser client
    does: the same delays (python-socketio's defaults are socket.io-client's),
    and every attempt, reconnections included, waits up to 20 s for the
    server's answer (python-socketio's own default is 1 s, after which a busy
    server's answer is thrown away and the attempt is made again 5 s later)."""
    import socketio

    class BrowserLikeClient(socketio.AsyncClient):
        async def connect(self, *args, wait_timeout=BROWSER_CONNECT_TIMEOUT, **kwargs):
            return await super().connect(*args, wait_timeout=wait_timeout, **kwargs)

    return BrowserLikeClient(reconnection=True, handle_sigint=False, **options)


# -- the client processes -----------------------------------------------------------------------
async def worker_main(args) -> None:  # noqa: C901 - one worker's whole script, read top to bottom
    """Connect this worker's participants, say READY; then obey ``WATCH <V>``
    (say WATCHING; later ALLBACK once every client is back), ``CHECK <V>``
    (say ``SEEN <n>``) and ``REPORT`` (write the results, say DONE)."""
    import aiohttp

    people = json.loads(Path(args.people).read_text(encoding="utf-8"))
    first, last = (int(x) for x in args.slice.split(":"))
    mine = range(first, last)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    clients: dict[int, Any] = {}
    log: dict[int, dict[str, Any]] = {i: {"disconnects": [], "connects": [], "snapshots": [], "back": None,
                                          "highest_change": -1} for i in mine}
    watch = {"version": None, "back": 0, "announced": False}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    def make(i: int):
        client = browser_like_client(http_session=session)
        entry = log[i]

        @client.on("snapshot")
        async def _snapshot(message):
            now = time.time()
            version = message.get("version", -1) if isinstance(message, dict) else -1
            entry["snapshots"].append((now, version))
            if watch["version"] is not None and entry["back"] is None and version >= watch["version"]:
                entry["back"] = now
                watch["back"] += 1
                if watch["back"] == len(mine) and not watch["announced"]:
                    watch["announced"] = True
                    print("ALLBACK", flush=True)

        @client.on("change")
        async def _change(message):
            version = message.get("version", -1) if isinstance(message, dict) else -1
            entry["highest_change"] = max(entry["highest_change"], version)

        @client.on("connect")
        async def _connect():
            entry["connects"].append(time.time())

        @client.on("disconnect")
        async def _disconnect(reason=None):
            entry["disconnects"].append(time.time())

        @client.on("connect_error")
        async def _refused(data=None):
            entry.setdefault("refused", 0)
            entry["refused"] += 1

        return client

    async def connect(i: int) -> None:
        client = make(i)
        auth = {"dialogue_id": people["dialogue_id"], "token": people["participants"][i]["token"]}
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                async with gate:
                    await client.connect(args.url, auth=auth, transports=["websocket"])
                clients[i] = client
                return
            except Exception as exc:  # noqa: BLE001 - reported after the last attempt
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise RuntimeError(f"participant {i}: {type(exc).__name__} {exc}") from None
                await asyncio.sleep(0.5 * (attempt + 1))

    await asyncio.wait_for(asyncio.gather(*(connect(i) for i in mine)), args.connect_timeout)
    print(f"READY {len(clients)}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), args.timeout)
        if not line:
            break
        command, *rest = line.split()
        if command == "WATCH":
            watch["version"] = int(rest[0])
            print("WATCHING", flush=True)
        elif command == "CHECK":
            version, deadline = int(rest[0]), time.monotonic() + CHECK_TIMEOUT
            while time.monotonic() < deadline and any(e["highest_change"] < version for e in log.values()):
                await asyncio.sleep(0.05)
            print(f"SEEN {sum(1 for e in log.values() if e['highest_change'] >= version)}", flush=True)
        elif command == "REPORT":
            Path(args.results).write_text(json.dumps({str(i): e for i, e in log.items()}), encoding="utf-8")
            break
    for client in clients.values():
        client.reconnection = False
    await asyncio.wait([asyncio.ensure_future(c.disconnect()) for c in clients.values()], timeout=15)
    await session.close()
    print("DONE", flush=True)


class Worker(LineProcess):
    """One client process of this script (``--worker``)."""

    def __init__(self, args, index: int, url: str, people: Path, first: int, last: int, workdir: Path):
        self.results = workdir / f"worker-{index}.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--url", url, "--people", str(people),
                "--slice", f"{first}:{last}", "--results", str(self.results),
                "--connect-timeout", str(args.connect_timeout), "--timeout", str(args.timeout)]
        super().__init__(argv, workdir / f"worker-{index}.log")


async def expect(workers: list[Worker], prefix: str, timeout: float) -> list[str]:
    """Every worker's next line, which must start with ``prefix``."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    lines = []
    for k, worker in enumerate(workers):
        line = await loop.run_in_executor(None, worker.read_line, deadline)
        while line == "ALLBACK" and prefix != "ALLBACK":  # late: the run went on without it
            line = await loop.run_in_executor(None, worker.read_line, deadline)
        if not line.startswith(prefix):
            raise RuntimeError(f"client process {k} said {line!r} instead of {prefix}:\n"
                               + Path(worker.log.name).read_text(errors="replace")[-3000:])
        lines.append(line)
    return lines


# -- the moderator -----------------------------------------------------------------------------------
class Moderator:
    """The demo moderator (reconnecting like the participants). It follows
    the dialogue's version from the ``snapshot`` it gets on each connect and
    the ``change`` messages of the staff room, so that it never has to ask."""

    def __init__(self):
        self.client = None
        self.session = None
        self.version = -1
        self.changed = time.monotonic()  # when the version last moved
        self.snapshots: list[float] = []  # when each snapshot arrived (connects)

    async def start(self, url: str, dialogue_id: int, token: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        self.client = browser_like_client(http_session=self.session)

        def seen(message) -> None:
            version = message.get("version", -1) if isinstance(message, dict) else -1
            if version > self.version:
                self.version, self.changed = version, time.monotonic()

        @self.client.on("snapshot")
        async def _snapshot(message):
            self.snapshots.append(time.time())
            seen(message)

        @self.client.on("change")
        async def _change(message):
            seen(message)

        await self.client.connect(url, auth={"dialogue_id": dialogue_id, "token": token}, transports=["websocket"])

    async def call(self, event: str, payload: dict[str, Any], key: str, timeout: float = 30) -> dict[str, Any]:
        ack = await self.client.call(event, {"payload": payload, "idempotency_key": key}, timeout=timeout)
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise RuntimeError(f"{event} failed: {ack}")
        return ack

    async def quiet_version(self, quiet: float = 2.0, limit: float = 60.0) -> int:
        """The version once it has not moved for ``quiet`` s (first
        connections are recorded for attendance in batches)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.monotonic() - self.changed < quiet:
            await asyncio.sleep(0.2)
        return self.version

    async def wait_reconnected(self, since: float, timeout: float) -> bool:
        """Until the moderator has had a snapshot after ``since`` (wall clock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.connected and any(t >= since for t in self.snapshots):
                return True
            await asyncio.sleep(0.2)
        return False

    async def stop(self) -> None:
        if self.client is not None:
            self.client.reconnection = False
            try:
                await asyncio.wait_for(self.client.disconnect(), STOP_TIMEOUT)
            except Exception:  # noqa: BLE001 - the run is over
                pass
        if self.session is not None:
            await self.session.close()


# -- one run ------------------------------------------------------------------------------------------------
async def run(args, workdir: Path) -> dict[str, Any]:
    instance = workdir / "instance"
    people_path = workdir / "people.json"
    say(f"registering {args.participants} participants ...")
    people = run_prepare(Path(__file__).resolve(), args.root, instance, args.participants, people_path,
                         args.prepare_timeout, args.database_url)
    server = RealServer(args.root, server_env(instance, args.database_url), workdir, "server")
    moderator = Moderator()
    workers: list[Worker] = []
    try:
        demo = server.wait_demo()
        dialogue_id = people["dialogue_id"]
        await moderator.start(server.url, dialogue_id, token_of(demo["links"]["moderator"]))
        await moderator.call("agenda.advance", {}, "bench-advance")
        for k in range(3):
            await moderator.call("queue.add_speaker", {"name": f"Bench Speaker {k + 1}",
                                                       "organization": "Bench Delegation", "category": "ngo",
                                                       "channel": "room"}, f"bench-add-{k}")
        say(f"connecting {args.participants} participants in {args.workers} client processes ...")
        n, w = args.participants, args.workers
        workers = [Worker(args, k, server.url, people_path, k * n // w, (k + 1) * n // w, workdir)
                   for k in range(w)]
        await expect(workers, "READY", args.connect_timeout + 30)
        version = await moderator.quiet_version()
        await expect_all(workers, f"WATCH {version}", "WATCHING")
        say(f"version {version}; restarting the server ({args.restart}) ...")
        killed = time.time()
        stop_s, stop_killed = server.restart(hard=args.restart == "kill",
                                             argv=[a for a in server.argv
                                                   if a not in ("--demo", "--demo-json", str(server.demo_json))])
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, server.wait_ready, server.url + "/healthz")
        ready = time.time()
        try:
            await expect(workers, "ALLBACK", args.window - (time.time() - killed))
            all_back = True
        except RuntimeError:
            all_back = False
        storm_cpu = cpu_seconds(server.pid)  # the new process: all of its CPU so far
        seen = -1  # not measured: the moderator did not get back or its command failed
        if await moderator.wait_reconnected(killed, 60):
            try:
                ack = await moderator.call("queue.call_next", {}, "bench-next-after-restart", timeout=60)
                seen = sum(int(line.split()[1]) for line in await expect_all(
                    workers, f"CHECK {ack['version']}", "SEEN", CHECK_TIMEOUT + 30))
            except Exception as exc:  # noqa: BLE001 - reported, the figures still count
                say(f"the moderator's command after the restart failed: {type(exc).__name__} {exc}")
        else:
            say("the moderator did not get back within 60 s")
        await expect_all(workers, "REPORT", "DONE")
    finally:
        await moderator.stop()
        for worker in workers:
            worker.stop()
        server.stop()
    log: dict[str, Any] = {}
    for worker in workers:
        log.update(json.loads(worker.results.read_text(encoding="utf-8")))
    return {"log": log, "version": version, "killed": killed, "ready": ready, "all_back": all_back,
            "live_after": seen, "server_cpu_s": storm_cpu,
            "stop_s": stop_s, "stop_killed": stop_killed}


async def expect_all(workers: list[Worker], command: str, answer: str, timeout: float = 60.0) -> list[str]:
    for worker in workers:
        worker.send(command)
    return await expect(workers, answer, timeout)


def summarize(args, data: dict[str, Any]) -> dict[str, Any]:
    killed, log = data["killed"], data["log"]
    back = [e["back"] - killed for e in log.values() if e["back"] is not None]
    after_ready = [b - (data["ready"] - killed) for b in back]
    noticed = sum(1 for e in log.values() if any(t >= killed - 1 for t in e["disconnects"]))
    refused = sum(e.get("refused", 0) for e in log.values())
    return {"participants": args.participants, "restart": args.restart, "database": args.database,
            "version": data["version"], "back": len(back), "noticed_disconnect": noticed,
            "p50_s": percentile(back, 50), "p99_s": percentile(back, 99), "max_s": max(back, default=math.nan),
            "first_s": min(back, default=math.nan), "within_10s": sum(1 for b in back if b <= TARGET_S),
            "after_ready_p50_s": percentile(after_ready, 50), "after_ready_max_s": max(after_ready, default=math.nan),
            "server_ready_s": data["ready"] - killed, "reconnects_refused": refused,
            "stop_s": data["stop_s"], "stop_killed": data["stop_killed"],
            "live_after": data["live_after"], "server_cpu_s": data["server_cpu_s"]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="N connected participants; the server is restarted; time until "
                                                 "every client is back at the current version.")
    parser.add_argument("--participants", type=int, default=1000, help="connected participants (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--restart", choices=("kill", "stop"), default="kill",
                        help="kill -9 (default) or SIGINT, then start again")
    parser.add_argument("--database", default="sqlite",
                        help=f"sqlite (default) or postgres (a fresh database on {POSTGRES_ADMIN_URL}, dropped "
                             "after the run) or postgresql://... to create it on")
    parser.add_argument("--window", type=float, default=60.0, help="s to wait for every client (default 60)")
    parser.add_argument("--repeat", type=int, default=1, help="independent runs (fresh servers each)")
    parser.add_argument("--connect-timeout", type=float, default=None,
                        help="s to connect every participant (default 60 + 0.1 s per participant)")
    add_run_options(parser, prepare_timeout=600.0, timeout=900.0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--people", "--slice", "--results"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.connect_timeout is None:
        args.connect_timeout = 60 + 0.1 * args.participants
    if args.participants < 1 or args.workers < 1 or args.repeat < 1:
        parser.error("--participants, --workers and --repeat must be at least 1")
    args.workers = min(args.workers, args.participants)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    logging.getLogger("socketio.client").setLevel(logging.CRITICAL)
    if run_as_child(args, args.participants, worker_main):
        return 0
    raise_open_files_limit(512)
    signal.signal(signal.SIGALRM, last_resort)
    signal.signal(signal.SIGTERM, last_resort)
    runs = []
    for run_number in range(args.repeat):
        load_before = os.getloadavg()[0]
        data = run_in_workdir(args, "reconnect", run)
        figures = summarize(args, data)
        figures["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
        runs.append(figures)
        print(f"run {run_number + 1}/{args.repeat}: participants={figures['participants']} "
              f"restart={figures['restart']} database={figures['database']} "
              f"load average before/after {load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  back={figures['back']}/{args.participants} first_s={figures['first_s']:.1f} "
              f"p50_s={figures['p50_s']:.1f} p99_s={figures['p99_s']:.1f} max_s={figures['max_s']:.1f} "
              f"within_10s={figures['within_10s']} stop_s={figures['stop_s']:.1f}"
              f"{' (killed after SIGINT)' if figures['stop_killed'] and args.restart == 'stop' else ''} "
              f"server_ready_s={figures['server_ready_s']:.1f} "
              f"after_ready_p50_s={figures['after_ready_p50_s']:.1f} after_ready_max_s={figures['after_ready_max_s']:.1f} "
              f"server_cpu_s={figures['server_cpu_s']:.1f} reconnects_refused={figures['reconnects_refused']} "
              f"noticed_disconnect={figures['noticed_disconnect']} live_after={figures['live_after']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1), encoding="utf-8")
    median = {k: percentile([r[k] for r in runs], 50) for k in ("p50_s", "p99_s", "max_s", "server_ready_s",
                                                                 "after_ready_max_s")}
    back = min(r["back"] for r in runs)
    within = min(r["within_10s"] for r in runs)
    if args.repeat > 1:
        print(f"medians over {args.repeat} runs: p50_s={median['p50_s']:.1f} p99_s={median['p99_s']:.1f} "
              f"max_s={median['max_s']:.1f} server_ready_s={median['server_ready_s']:.1f} "
              f"after_ready_max_s={median['after_ready_max_s']:.1f}")
    print(f"back={back}/{args.participants} p50_s={median['p50_s']:.1f} p99_s={median['p99_s']:.1f} "
          f"max_s={median['max_s']:.1f} within_10s={within}", flush=True)
    return 0 if back == args.participants and all(r["live_after"] == args.participants for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
