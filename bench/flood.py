"""A client flooding the server: how much slower are the others served?

    python bench/flood.py                        # 50 participants, 3 repeats
    python bench/flood.py --participants 100 --rounds 30 --repeat 5
    python bench/flood.py --event queue.request_floor
    ...
    p50_ratio=1.12 p99_ratio=1.35 participants=50 lost=0

What one run does:

1. A fresh instance folder (SQLite, the embedded default) gets the demo
   dialogue and N + R registered participants (``participant.register``
   through the command layer, in a child process, before the server starts);
   ``run.py --demo`` starts on it as an operator would start it (eventlet).
2. The demo moderator and N participants connect with their own links
   (python-socketio ``AsyncClient``s in this process); the moderator starts
   the first agenda item.
3. A flooding client runs in a child process: a raw python-socketio
   ``Client`` with a participant's link (a fresh one of the R extra links
   for each flood block: the server refuses a link whose connection it
   closed for flooding for 30 s). While told to flood, it emits ``--event``
   (default ``snapshot``, the dearest read a participant may ask for) as
   fast as its connection takes them, without waiting for answers; when the
   server disconnects it, it tries to connect again at once, over and over
   (the worst case: a client that does not give up).
4. Blocks of ``--rounds`` rounds alternate: without the flood, then with it
   (started half a second before the block's first round), ``--repeat``
   times (R), so that both phases get the same (shared, noisy) machine. In a
   round the moderator emits ``agenda.adjust_time`` (+30 s, then -30 s) and
   waits for its acknowledgement; every participant records when the
   ``change`` with the acknowledged version arrives.

Figures per phase (medians over the repeats): ``p50_ms`` / ``p99_ms`` /
``max_ms`` of the participants' delivery latency (from the moderator's emit
until that participant has the change; every participant, every round) and
``ack_p50_ms`` / ``ack_p99_ms`` of the moderator's acknowledgements. For the
flood: events sent per second, how many the server answered (served /
refused), how often it disconnected the flooder, and the server's CPU time
per second. The last line is

    p50_ratio=<flood p50 / quiet p50> p99_ratio=<flood p99 / quiet p99> participants=<N> lost=<n>

(``lost``: deliveries that did not arrive within ``--round-timeout``). Every
wait is bounded; the script stops by itself and ends the processes it
started. Requires the ``bench`` extra (aiohttp).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CONNECT_CONCURRENCY,
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

LEAD_IN = 0.5  # s of flooding before a flood block's first round


# -- the flooding client (a child process) ---------------------------------------------------------
def flooder_main(args) -> None:
    """Obey ``GO`` (flood; say FLOODING), ``STOP`` (stop; say ``STATS <json>``)
    and ``QUIT`` on stdin."""
    import socketio

    tokens = args.token.split(",")
    auth = {"dialogue_id": int(args.dialogue), "token": tokens[0]}
    stats: dict[str, Any] = {"sent": 0, "connects": 0, "refused_connects": 0, "cut": 0, "answers": {},
                             "seconds": 0.0}
    lock = threading.Lock()
    flooding, idle = threading.Event(), threading.Event()
    idle.set()

    def answered(ack=None):
        code = "ok" if isinstance(ack, dict) and ack.get("ok") else \
            str(((ack or {}).get("error") or {}).get("code", "?")) if isinstance(ack, dict) else "?"
        with lock:
            stats["answers"][code] = stats["answers"].get(code, 0) + 1

    def flood_once() -> None:
        client = socketio.Client(reconnection=False)
        try:
            client.connect(args.url, auth=auth, transports=["websocket"], wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            stats["refused_connects"] += 1
            time.sleep(0.05)
            return
        stats["connects"] += 1
        while flooding.is_set() and client.connected:
            if client.eio.queue.qsize() > 500:  # the socket is full: let the writer catch up
                time.sleep(0.0005)
                continue
            try:
                client.emit(args.event, {"payload": {}} if "." in args.event else {}, callback=answered)
            except socketio.exceptions.SocketIOError:
                break
            stats["sent"] += 1
        if client.connected:
            client.disconnect()
        else:
            stats["cut"] += 1
        client.shutdown()

    def loop() -> None:
        while True:
            flooding.wait()
            idle.clear()
            began = time.monotonic()
            while flooding.is_set():
                flood_once()
            stats["seconds"] += time.monotonic() - began
            idle.set()

    threading.Thread(target=loop, daemon=True).start()
    for line in sys.stdin:
        command = line.strip()
        if command == "GO":
            auth["token"] = tokens[stats.setdefault("blocks", 0) % len(tokens)]  # a fresh link each time
            stats["blocks"] += 1
            flooding.set()
            print("FLOODING", flush=True)
        elif command == "STOP":
            flooding.clear()
            idle.wait(30)
            with lock:
                print("STATS " + json.dumps(stats), flush=True)
                stats.update(sent=0, connects=0, refused_connects=0, cut=0, answers={}, seconds=0.0)
        elif command == "QUIT":
            break
    print("DONE", flush=True)


class Flooder(LineProcess):
    def __init__(self, args, url: str, dialogue_id: int, tokens: list[str], workdir: Path):
        argv = [sys.executable, str(Path(__file__).resolve()), "--flooder", "--url", url, "--dialogue",
                str(dialogue_id), "--token", ",".join(tokens), "--event", args.event]
        if args.flooder_nice:
            argv = ["nice", "-n", str(args.flooder_nice)] + argv
        super().__init__(argv, workdir / "flooder.log")

    def ask(self, command: str, answer: str, timeout: float = 60.0) -> str:
        self.send(command)
        line = self.read_line(time.monotonic() + timeout)
        if not line.startswith(answer):
            raise RuntimeError(f"the flooder said {line!r} instead of {answer}:\n"
                               + Path(self.log.name).read_text(errors="replace")[-3000:])
        return line


# -- the measured clients (this process) ----------------------------------------------------------------
class Room:
    """The moderator and N participants, each a python-socketio AsyncClient;
    every participant notes when each version's ``change`` arrives."""

    def __init__(self, url: str, dialogue_id: int):
        self.url, self.dialogue_id = url, dialogue_id
        self.session = None
        self.moderator = None
        self.participants: list[Any] = []
        self.arrivals: list[dict[int, float]] = []
        self.waiters: dict[int, asyncio.Future] = {}

    async def open(self, moderator_token: str, tokens: list[str], connect_timeout: float) -> None:
        import aiohttp
        import socketio

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.moderator = socketio.AsyncClient(reconnection=True, handle_sigint=False, http_session=self.session)
        await self.moderator.connect(self.url, auth={"dialogue_id": self.dialogue_id, "token": moderator_token},
                                     transports=["websocket"], wait_timeout=30)
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def join(index: int, token: str):
            client = socketio.AsyncClient(reconnection=True, handle_sigint=False, http_session=self.session)
            seen = self.arrivals[index]

            @client.on("change")
            async def _change(message):
                now = time.perf_counter()
                version = message.get("version") if isinstance(message, dict) else None
                if isinstance(version, int) and version not in seen:
                    seen[version] = now

            async with gate:
                await client.connect(self.url, auth={"dialogue_id": self.dialogue_id, "token": token},
                                     transports=["websocket"], wait_timeout=30)
            return client

        self.arrivals = [{} for _ in tokens]
        self.participants = await asyncio.wait_for(
            asyncio.gather(*(join(i, token) for i, token in enumerate(tokens))), connect_timeout)

    async def command(self, event: str, payload: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        import uuid

        ack = await self.moderator.call(event, {"payload": payload, "idempotency_key": uuid.uuid4().hex},
                                        timeout=timeout)
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise RuntimeError(f"{event} was refused: {ack}")
        return ack

    async def round(self, seconds: int, timeout: float) -> dict[str, Any]:
        """One moderator change; every participant's delivery latency (ms)."""
        import socketio

        started, wall = time.perf_counter(), time.time()
        try:
            ack = await self.command("agenda.adjust_time", {"seconds": seconds}, timeout)
        except socketio.exceptions.SocketIOError:  # no answer in time, or the moderator's connection dropped
            deadline = time.perf_counter() + timeout
            while not self.moderator.connected and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            return {"ack_ms": math.nan, "latencies": [], "version": None, "emitted_at": wall,
                    "lost": len(self.arrivals)}
        acked = time.perf_counter()
        version = ack["version"]
        deadline = acked + timeout
        while time.perf_counter() < deadline and any(version not in seen for seen in self.arrivals):
            await asyncio.sleep(0.002)
        latencies = [(seen[version] - started) * 1000 for seen in self.arrivals if version in seen]
        return {"ack_ms": (acked - started) * 1000, "latencies": latencies, "version": version, "emitted_at": wall,
                "lost": len(self.arrivals) - len(latencies)}

    async def close(self) -> None:
        clients = [c for c in [self.moderator, *self.participants] if c is not None]
        for client in clients:
            client.reconnection = False
        if clients:
            await asyncio.wait([asyncio.ensure_future(c.disconnect()) for c in clients], timeout=15)
        if self.session is not None:
            await self.session.close()


# -- one run ----------------------------------------------------------------------------------------------
async def block(room: Room, args, server_pid: int) -> dict[str, Any]:
    rounds = []
    cpu_before, began = cpu_seconds(server_pid), time.monotonic()
    for i in range(args.rounds):
        rounds.append(await room.round(30 if i % 2 == 0 else -30, args.round_timeout))
        await asyncio.sleep(args.gap)
    elapsed = time.monotonic() - began
    latencies = [ms for r in rounds for ms in r["latencies"]]
    acks = [r["ack_ms"] for r in rounds if not math.isnan(r["ack_ms"])]
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies, default=math.nan), "ack_p50_ms": percentile(acks, 50),
            "ack_p99_ms": percentile(acks, 99), "lost": sum(r["lost"] for r in rounds),
            "server_cpu_per_s": (cpu_seconds(server_pid) - cpu_before) / elapsed,
            "rounds": [{"version": r["version"], "emitted_at": r["emitted_at"], "ack_ms": round(r["ack_ms"], 1),
                        "max_ms": round(max(r["latencies"], default=math.nan), 1)} for r in rounds]}


async def run(args, workdir: Path) -> dict[str, Any]:
    instance = workdir / "instance"
    say(f"registering {args.participants + args.repeat} participants ...")
    people = run_prepare(Path(__file__).resolve(), args.root, instance, args.participants + args.repeat,
                         workdir / "people.json", args.prepare_timeout)
    server = RealServer(args.root, server_env(instance), workdir, "server")
    room = Room(server.url, people["dialogue_id"])
    flooder = None
    phases: dict[str, list[dict[str, Any]]] = {"quiet": [], "flood": []}
    floods: list[dict[str, Any]] = []
    try:
        demo = server.wait_demo()
        tokens = [p["token"] for p in people["participants"]]
        say(f"connecting {args.participants} participants ...")
        await room.open(token_of(demo["links"]["moderator"]), tokens[:args.participants], args.connect_timeout)
        await room.command("agenda.advance", {})
        flooder = Flooder(args, server.url, people["dialogue_id"], tokens[args.participants:], workdir)
        await asyncio.sleep(2.0)  # first connections are recorded for attendance shortly after
        for _ in range(args.warmup):
            await room.round(30, args.round_timeout)
            await room.round(-30, args.round_timeout)
        loop = asyncio.get_running_loop()
        for repeat in range(args.repeat):
            phases["quiet"].append(await block(room, args, server.pid))
            await loop.run_in_executor(None, flooder.ask, "GO", "FLOODING")
            await asyncio.sleep(LEAD_IN)
            phases["flood"].append(await block(room, args, server.pid))
            line = await loop.run_in_executor(None, flooder.ask, "STOP", "STATS")
            floods.append(json.loads(line.split(" ", 1)[1]))
            say(f"repeat {repeat + 1}/{args.repeat}: quiet p99 {phases['quiet'][-1]['p99_ms']:.1f} ms, "
                f"flood p99 {phases['flood'][-1]['p99_ms']:.1f} ms")
            await asyncio.sleep(1.0)  # the server settles before the next quiet block
    finally:
        if flooder is not None:
            try:
                flooder.send("QUIT")
            except OSError:
                pass
            flooder.stop()
        await room.close()
        server.stop()
    return {"phases": phases, "floods": floods}


def median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def summarize(args, data: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {"participants": args.participants, "rounds": args.rounds, "repeat": args.repeat,
                               "event": args.event, "runs": data}
    for phase, blocks in data["phases"].items():
        figures[phase] = {key: median([b[key] for b in blocks]) for key in blocks[0] if key != "rounds"}
        figures[phase]["lost"] = sum(b["lost"] for b in blocks)
    floods = data["floods"]
    seconds = sum(f["seconds"] for f in floods) or math.nan
    answers: dict[str, int] = {}
    for flood in floods:
        for code, count in flood["answers"].items():
            answers[code] = answers.get(code, 0) + count
    figures["flooder"] = {"events_per_s": sum(f["sent"] for f in floods) / seconds, "sent": sum(f["sent"] for f in floods),
                          "answers": answers, "cut": sum(f["cut"] for f in floods),
                          "connects": sum(f["connects"] for f in floods),
                          "refused_connects": sum(f["refused_connects"] for f in floods), "seconds": seconds}
    figures["p50_ratio"] = figures["flood"]["p50_ms"] / figures["quiet"]["p50_ms"]
    figures["p99_ratio"] = figures["flood"]["p99_ms"] / figures["quiet"]["p99_ms"]
    figures["lost"] = figures["quiet"]["lost"] + figures["flood"]["lost"]
    return figures


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Latency of a room's participants without and with a client "
                                                 "flooding the server with events.")
    parser.add_argument("--participants", type=int, default=50, help="measured participants (default 50)")
    parser.add_argument("--rounds", type=int, default=20, help="moderator changes per block (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="quiet/flood block pairs (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured round pairs first (default 3)")
    parser.add_argument("--gap", type=float, default=0.2, help="s between rounds (default 0.2)")
    parser.add_argument("--event", default="snapshot",
                        help="what the flooder emits (default snapshot; e.g. queue.request_floor, inputs.list)")
    parser.add_argument("--flooder-nice", type=int, default=0,
                        help="run the flooder at this niceness (19: it takes only CPU time nobody else wants, "
                             "as a client on another machine would)")
    parser.add_argument("--round-timeout", type=float, default=10.0)
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    add_run_options(parser, prepare_timeout=300.0, timeout=600.0)
    # internal: the flooder child process
    parser.add_argument("--flooder", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--dialogue", "--token"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.participants, args.rounds, args.repeat) < 1 or args.warmup < 0:
        parser.error("--participants, --rounds and --repeat must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    for name in ("engineio.client", "socketio.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if args.flooder:
        flooder_main(args)
        return 0
    if run_as_child(args, args.participants):
        return 0
    raise_open_files_limit(args.participants + 256)
    signal.signal(signal.SIGALRM, last_resort)
    signal.signal(signal.SIGTERM, last_resort)
    load_before = os.getloadavg()[0]
    data = run_in_workdir(args, "flood", run)
    figures = summarize(args, data)
    figures["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    print(f"participants={args.participants} rounds={args.rounds} repeat={args.repeat} event={args.event} "
          f"(load average before/after {load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'phase':<7} {'p50_ms':>8} {'p99_ms':>8} {'max_ms':>8} {'ack_p50_ms':>10} {'ack_p99_ms':>10} "
          f"{'lost':>5} {'server_cpu_per_s':>16}")
    for phase in ("quiet", "flood"):
        f = figures[phase]
        print(f"{phase:<7} {f['p50_ms']:8.1f} {f['p99_ms']:8.1f} {f['max_ms']:8.1f} {f['ack_p50_ms']:10.1f} "
              f"{f['ack_p99_ms']:10.1f} {f['lost']:5d} {f['server_cpu_per_s']:16.2f}")
    fl = figures["flooder"]
    print(f"flooder: {fl['sent']} events in {fl['seconds']:.1f} s ({fl['events_per_s']:.0f}/s), answers "
          f"{fl['answers']}, disconnected by the server {fl['cut']} times ({fl['connects']} connections, "
          f"{fl['refused_connects']} refused)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"p50_ratio={figures['p50_ratio']:.2f} p99_ratio={figures['p99_ratio']:.2f} "
          f"participants={args.participants} lost={figures['lost']}")
    return 0 if figures["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
