"""Input burst: N participants each submit one input within a 10-second window.

    python bench/inputs.py                     # 1,000 participants, 10 s
    python bench/inputs.py --participants 2000 --window 10 --workers 2
    python bench/inputs.py --database postgres  # a fresh PostgreSQL database, dropped after the run
    ...
    lost=0 duplicates=0 p99_ms=84.2

What one run does:

1. A fresh instance folder (SQLite, the embedded default; or, with
   ``--database postgres``, a fresh PostgreSQL database created for the run
   and dropped after it) gets the demo dialogue and N registered participants (``participant.register`` through
   the command layer, in a child process, before the server starts).
2. ``python run.py --demo --demo-json FILE`` starts as an operator would
   start it (eventlet), on 127.0.0.1 only. The demo moderator (python-socketio
   ``AsyncClient``) starts the first agenda item, so inputs are accepted, and
   stays connected: it receives every input as a record.
3. ``--workers`` client processes connect the N participants with their own
   links (python-socketio ``AsyncClient`` over aiohttp, one shared HTTP
   session per process). When every client is connected, the workers are
   given one common start time; each participant submits one input
   (``inputs.submit`` with its own idempotency key) at a random moment within
   the window and waits for the acknowledgement. A submission that is not
   acknowledged within ``--ack-timeout`` (or is refused as "unavailable" or
   "slow down") is sent again with the same key, up to ``--retries`` times.
4. When every client is done, the server gets time to store what it had
   received but not yet answered (until the number of stored inputs stays
   put, at most a minute); then it is stopped and the database is read:
   every participant's input must be stored exactly once.

Figures:

- ``acknowledged``: submissions answered ``ok`` (first attempt or a retry);
- ``stored``: participants whose input is in the database;
- ``duplicates``: extra rows for the same text, plus idempotency keys stored
  twice (both must be 0);
- ``lost``: inputs acknowledged but not stored, plus inputs never acknowledged
  and not stored after the retries;
- ``p50_ms`` / ``p99_ms``: acknowledgement latency, from the first emit of a
  submission to its acknowledgement, measured in the client process;
- ``moderator_saw``: inputs the moderator received as records (all of them,
  unless the server dropped its connection: ``moderator_dropped``);
- ``retried`` / ``replayed``: submissions sent again after a timeout, and
  retries answered from the stored record (no second copy).

The last line is ``lost=<n> duplicates=<n> p99_ms=<ms>``. Every wait is
bounded and the script stops by itself (``--timeout``). Requires the
``bench`` extra (aiohttp).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import random
import resource
import signal
import sqlite3
import sys
import time
import uuid
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
)

TEXT = ("Bench input {i} ({key}): States parties should fund shelters and legal aid for survivors, "
        "and train labour inspectors to identify victims in supply chains.")


# -- 3. the participants (worker processes) -------------------------------------------------------------
async def worker_main(args) -> None:
    """Connect this worker's participants, say READY, wait for ``GO <epoch>``
    on stdin, submit, write the results file, say DONE."""
    import aiohttp
    import socketio

    people = json.loads(Path(args.people).read_text(encoding="utf-8"))
    first, last = (int(x) for x in args.slice.split(":"))
    mine = list(range(first, last))
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    clients: dict[int, Any] = {}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(i: int) -> None:
        client = socketio.AsyncClient(http_session=session, reconnection=True, reconnection_delay=0.5,
                                      reconnection_delay_max=2, handle_sigint=False)
        auth = {"dialogue_id": people["dialogue_id"], "token": people["participants"][i]["token"]}
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                async with gate:
                    await client.connect(args.url, auth=auth, transports=["websocket"], wait_timeout=30)
                clients[i] = client
                return
            except Exception as exc:  # noqa: BLE001 - reported below after the last attempt
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise RuntimeError(f"participant {i}: {type(exc).__name__} {exc}") from None
                await asyncio.sleep(0.5 * (attempt + 1))

    await asyncio.wait_for(asyncio.gather(*(connect(i) for i in mine)), args.connect_timeout)
    print(f"READY {len(clients)}", flush=True)
    line = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline),
                                  args.connect_timeout + 60)
    go_wall = float(line.split()[1])
    # One clock for the whole worker: the wall-clock start time, converted once.
    go = time.perf_counter() + (go_wall - time.time())
    rng = random.Random(f"{args.seed}-{first}")
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)

    async def submit(i: int, at: float) -> dict[str, Any]:
        key = f"bench-{args.run_id}-{i}"
        text = TEXT.format(i=i, key=key)
        data = {"payload": {"text": text, "kind": ("comment", "suggestion", "question")[i % 3],
                            "named": i % 5 != 0}, "idempotency_key": key}
        outcome: dict[str, Any] = {"i": i, "key": key, "text": text, "acked": False, "attempts": 0,
                                   "errors": []}
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        began = time.perf_counter()
        client = clients[i]
        for attempt in range(args.retries + 1):
            outcome["attempts"] = attempt + 1
            try:
                while not client.connected:  # reconnecting after a drop
                    if time.perf_counter() - began > args.ack_timeout * (args.retries + 1):
                        raise TimeoutError("not reconnected")
                    await asyncio.sleep(0.1)
                sent = time.perf_counter()
                ack = await client.call("inputs.submit", data, timeout=args.ack_timeout)
            except Exception as exc:  # noqa: BLE001 - a timeout or a drop: send again with the same key
                outcome["errors"].append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if isinstance(ack, dict) and ack.get("ok"):
                now = time.perf_counter()
                outcome.update(acked=True, input_id=ack["result"]["input_id"], replayed=ack.get("replayed", False),
                               latency_ms=(now - began) * 1000, attempt_ms=(now - sent) * 1000,
                               at_s=sent - go)
                return outcome
            error = (ack or {}).get("error", {}) if isinstance(ack, dict) else {"code": "bad_ack"}
            outcome["errors"].append(f"{error.get('code')}: {error.get('message', '')}"[:200])
            if error.get("code") == "rate_limited":
                await asyncio.sleep(float((error.get("details") or {}).get("retry_after", 1.0)))
            elif error.get("code") not in ("unavailable", "internal"):
                return outcome  # a refusal: retrying would not change it
        return outcome

    moments = {i: go + rng.uniform(0, args.window) for i in mine}
    results = await asyncio.gather(*(submit(i, moments[i]) for i in mine))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    Path(args.results).write_text(json.dumps({
        "results": results,
        "cpu_s": (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
    }), encoding="utf-8")
    await asyncio.wait([asyncio.ensure_future(c.disconnect()) for c in clients.values()], timeout=15)
    await session.close()
    clients.clear()
    gc.collect()  # close what aiohttp still holds while the loop runs
    await asyncio.sleep(0.1)
    print("DONE", flush=True)


class Worker(LineProcess):
    """One client process of this script (``--worker``)."""

    def __init__(self, args, index: int, url: str, people: Path, first: int, last: int, workdir: Path,
                 run_id: str):
        self.results = workdir / f"worker-{index}.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--url", url, "--people", str(people),
                "--slice", f"{first}:{last}", "--results", str(self.results), "--run-id", run_id,
                "--window", str(args.window), "--ack-timeout", str(args.ack_timeout),
                "--retries", str(args.retries), "--seed", str(args.seed),
                "--connect-timeout", str(args.connect_timeout)]
        super().__init__(argv, workdir / f"worker-{index}.log")


# -- the moderator -------------------------------------------------------------------------------------
class Moderator:
    """The demo moderator: starts the agenda and notes every input record."""

    def __init__(self):
        self.seen: set[int] = set()
        self.client = None
        self.session = None
        self.dropped = 0  # the server ended the moderator's connection during the run
        self.stopping = False

    async def start(self, url: str, dialogue_id: int, token: str) -> None:
        import aiohttp
        import socketio

        self.session = aiohttp.ClientSession()
        self.client = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=self.session)

        @self.client.on("change")
        async def _change(message):
            for record in (message.get("records") or {}).get("inputs", []):
                self.seen.add(record["id"])

        @self.client.on("disconnect")
        async def _gone(reason=None):
            if not self.stopping:
                self.dropped += 1

        await self.client.connect(url, auth={"dialogue_id": dialogue_id, "token": token}, transports=["websocket"],
                                  wait_timeout=30)
        ack = await self.client.call("agenda.advance", {"payload": {}, "idempotency_key": f"bench-{uuid.uuid4().hex}"},
                                     timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"agenda.advance failed: {ack}")

    async def stop(self) -> None:
        self.stopping = True
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.disconnect(), STOP_TIMEOUT)
            except Exception:  # noqa: BLE001 - the run is over
                pass
        if self.session is not None:
            await self.session.close()
            self.client = None
            gc.collect()
            await asyncio.sleep(0.1)


# -- 4. what the database holds ----------------------------------------------------------------------------
def open_database(instance: Path, database_url: str | None, read_only: bool = False):
    """A DB-API connection to the server's database (SQLite file in the
    instance folder, or PostgreSQL) and its parameter placeholder."""
    if database_url is None:
        path = instance / "moderation.sqlite3"
        if read_only:
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30), "?"
        return sqlite3.connect(path, timeout=30), "?"
    import psycopg2

    connection = psycopg2.connect(database_url, connect_timeout=10)
    connection.autocommit = True
    return connection, "%s"


def fetch_all(instance: Path, database_url: str | None, sql: str, params: tuple, read_only: bool = False) -> list:
    connection, mark = open_database(instance, database_url, read_only)
    try:
        cursor = connection.cursor()
        cursor.execute(sql.replace("?", mark), params)
        return cursor.fetchall()
    finally:
        connection.close()


def read_database(instance: Path, dialogue_id: int, run_id: str, database_url: str | None = None) -> dict[str, Any]:
    rows = fetch_all(instance, database_url,
                     "SELECT id, text FROM inputs WHERE dialogue_id = ? AND source = 'participant'", (dialogue_id,))
    keys = fetch_all(instance, database_url,
                     "SELECT key, COUNT(*) FROM idempotency_records WHERE key LIKE ? GROUP BY key",
                     (f"bench-{run_id}-%",))
    by_text: dict[str, list[int]] = {}
    for input_id, text in rows:
        by_text.setdefault(text, []).append(input_id)
    return {"by_text": by_text, "keys": dict(keys)}


def wait_until_stored(instance: Path, dialogue_id: int, quiet: float = 2.0, limit: float = 60.0,
                      database_url: str | None = None) -> None:
    """Until the number of stored inputs has not changed for ``quiet`` s (at most ``limit`` s)."""
    deadline, last, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = fetch_all(instance, database_url, "SELECT COUNT(*) FROM inputs WHERE dialogue_id = ?",
                          (dialogue_id,), read_only=True)[0][0]
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)


# -- the run --------------------------------------------------------------------------------------------------
async def run(args, workdir: Path) -> dict[str, Any]:
    instance = workdir / "instance"
    people_path = workdir / "people.json"
    say(f"registering {args.participants} participants ...")
    people = run_prepare(Path(__file__).resolve(), args.root, instance, args.participants, people_path,
                         args.prepare_timeout, args.database_url)
    env = server_env(instance, args.database_url)
    if args.assist_backend:
        env["MODERATION_ASSIST_BACKEND"] = args.assist_backend
    server = RealServer(args.root, env, workdir, "server")
    moderator = Moderator()
    workers: list[Worker] = []
    run_id = uuid.uuid4().hex[:8]
    try:
        demo = server.wait_demo()
        if demo["dialogue_id"] != people["dialogue_id"]:
            raise RuntimeError("the server seeded another demo dialogue than the one prepared")
        moderator_token = demo["links"]["moderator"].rstrip("/").rsplit("/", 1)[1]
        await moderator.start(server.url, people["dialogue_id"], moderator_token)
        say(f"connecting {args.participants} participants in {args.workers} client processes ...")
        n, w = args.participants, args.workers
        bounds = [(k * n // w, (k + 1) * n // w) for k in range(w)]
        workers = [Worker(args, k, server.url, people_path, a, b, workdir, run_id) for k, (a, b) in enumerate(bounds)]
        deadline = time.monotonic() + args.connect_timeout + 30
        for worker in workers:
            line = await asyncio.get_running_loop().run_in_executor(None, worker.read_line, deadline)
            if not line.startswith("READY"):
                raise RuntimeError(f"a client process did not connect its participants: {line!r}\n"
                                   + (workdir / f"worker-{workers.index(worker)}.log").read_text()[-3000:])
        server_cpu_before = cpu_seconds(server.process.pid)
        go = time.time() + 1.0
        say(f"submitting within {args.window:g} s ...")
        for worker in workers:
            worker.send(f"GO {go}")
        deadline = time.monotonic() + 1.0 + args.window + args.ack_timeout * (args.retries + 2) + 60
        for worker in workers:
            line = await asyncio.get_running_loop().run_in_executor(None, worker.read_line, deadline)
            if line != "DONE":
                raise RuntimeError(f"a client process did not finish: {line!r}\n"
                                   + (workdir / f"worker-{workers.index(worker)}.log").read_text()[-3000:])
        server_cpu = cpu_seconds(server.process.pid) - server_cpu_before
        # Submissions the server received but had not answered when a client
        # gave up are still being stored: wait until the count stays put.
        await asyncio.get_running_loop().run_in_executor(None, lambda: wait_until_stored(
            instance, people["dialogue_id"], database_url=args.database_url))
        await asyncio.sleep(0.5)  # the last records on their way to the moderator
        seen = len(moderator.seen)
        moderator_dropped = moderator.dropped
    finally:
        await moderator.stop()
        for worker in workers:
            worker.stop()
        server.stop()
    results, client_cpu = [], 0.0
    for worker in workers:
        data = json.loads(worker.results.read_text(encoding="utf-8"))
        results += data["results"]
        client_cpu += data["cpu_s"]
    stored = read_database(instance, people["dialogue_id"], run_id, args.database_url)
    return {"results": results, "stored": stored, "server_cpu_s": server_cpu, "client_cpu_s": client_cpu,
            "moderator_saw": seen, "moderator_dropped": moderator_dropped}


def summarize(args, data: dict[str, Any]) -> dict[str, Any]:
    results, by_text, keys = data["results"], data["stored"]["by_text"], data["stored"]["keys"]
    ours = {r["text"] for r in results}
    acked = [r for r in results if r["acked"]]
    latencies = [r["latency_ms"] for r in acked]
    stored = sum(1 for r in results if by_text.get(r["text"]))
    duplicates = sum(len(by_text.get(t, [])) - 1 for t in ours if by_text.get(t)) + \
        sum(count - 1 for count in keys.values())
    acked_not_stored = sum(1 for r in acked if not by_text.get(r["text"]))
    unacked_not_stored = sum(1 for r in results if not r["acked"] and not by_text.get(r["text"]))
    wrong_id = sum(1 for r in acked if by_text.get(r["text"]) and r["input_id"] not in by_text[r["text"]])
    errors: dict[str, int] = {}
    for r in results:
        for e in r["errors"]:
            errors[e.split(":")[0]] = errors.get(e.split(":")[0], 0) + 1
    return {
        "participants": args.participants, "window_s": args.window, "workers": args.workers,
        "acknowledged": len(acked), "stored": stored, "duplicates": duplicates,
        "lost": acked_not_stored + unacked_not_stored, "acked_not_stored": acked_not_stored,
        "unacked_not_stored": unacked_not_stored, "wrong_input_id": wrong_id,
        "retried": sum(1 for r in results if r["attempts"] > 1),
        "replayed": sum(1 for r in acked if r.get("replayed")), "errors": errors,
        "unexpected_rows": sum(len(ids) for text, ids in by_text.items() if text not in ours),
        "moderator_saw": data["moderator_saw"], "moderator_dropped": data["moderator_dropped"],
        "p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99), "max_ms": max(latencies, default=math.nan),
        "server_cpu_s": data["server_cpu_s"], "client_cpu_s": data["client_cpu_s"],
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="N participants submit one input each within a burst window "
                                                 "to the real server; every input must be stored exactly once.")
    parser.add_argument("--participants", type=int, default=1000, help="participants (default 1000)")
    parser.add_argument("--window", type=float, default=10.0, help="burst window in s (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--ack-timeout", type=float, default=10.0,
                        help="s to wait for one acknowledgement before sending again (default 10)")
    parser.add_argument("--retries", type=int, default=3, help="resends with the same key (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the submission moments")
    parser.add_argument("--assist-backend", default=None,
                        help="the assistant's backend (default: the product's, minilm where installed: every "
                             "input is encoded while the burst runs; tfidf stores nothing)")
    parser.add_argument("--connect-timeout", type=float, default=None,
                        help="s to connect every participant (default 60 + 0.1 s per participant)")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (default: the embedded file in a fresh instance folder), postgres (a fresh "
                             f"database on {POSTGRES_ADMIN_URL}, dropped after the run) or postgresql://... "
                             "of a server to create the fresh database on")
    add_run_options(parser, prepare_timeout=600.0, timeout=1200.0, keep="keep the work folder (logs, database)")
    # internal: the client processes
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--people", "--slice", "--results", "--run-id"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.connect_timeout is None:
        args.connect_timeout = 60 + 0.1 * args.participants
    if args.participants < 1 or args.workers < 1 or args.window <= 0 or args.retries < 0:
        parser.error("--participants and --workers must be at least 1, --window above 0, --retries at least 0")
    args.workers = min(args.workers, args.participants)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # A client's writer notes its own shutdown at ERROR level ("packet queue is empty").
    logging.getLogger("engineio.client").setLevel(logging.CRITICAL)
    if run_as_child(args, args.participants, worker_main):
        return 0
    raise_open_files_limit(512)
    signal.signal(signal.SIGALRM, last_resort)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    data = run_in_workdir(args, "inputs", run)
    figures = summarize(args, data)
    figures["run_s"] = time.monotonic() - started
    print(f"participants={figures['participants']} window_s={figures['window_s']:g} "
          f"workers={figures['workers']} database={'sqlite' if args.database == 'sqlite' else 'postgres'}")
    print(f"acknowledged={figures['acknowledged']} stored={figures['stored']} duplicates={figures['duplicates']} "
          f"lost={figures['lost']} (acknowledged but not stored={figures['acked_not_stored']}, "
          f"never acknowledged and not stored={figures['unacked_not_stored']})")
    print(f"retried={figures['retried']} replayed={figures['replayed']} wrong_input_id={figures['wrong_input_id']} "
          f"unexpected_rows={figures['unexpected_rows']} moderator_saw={figures['moderator_saw']} "
          f"moderator_dropped={figures['moderator_dropped']} "
          f"errors={figures['errors'] or 0}")
    print(f"ack latency: p50_ms={figures['p50_ms']:.1f} p90_ms={figures['p90_ms']:.1f} "
          f"p99_ms={figures['p99_ms']:.1f} max_ms={figures['max_ms']:.1f}")
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"cpu during the burst: server_s={figures['server_cpu_s']:.1f} clients_s={figures['client_cpu_s']:.1f} "
          f"(cores: {os.cpu_count()}, load average before/after: {load_before:.1f}/{os.getloadavg()[0]:.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"lost={figures['lost']} duplicates={figures['duplicates']} p99_ms={figures['p99_ms']:.1f}")
    return 0 if figures["lost"] == 0 and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
