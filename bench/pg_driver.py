"""Does the PostgreSQL driver block the event loop? A ping's latency while a
slow query runs, under eventlet (the server's default async mode).

    python bench/pg_driver.py                       # 3 repeats, pg_sleep(2)
    python bench/pg_driver.py --url postgresql://postgres@127.0.0.1:5432/test --repeat 5

Each case runs in its own child process, patched as the case says:

- ``psycopg2``: the server's own wiring. The child imports ``run.py`` (which
  calls ``eventlet.monkey_patch()`` first, as the server does) and builds the
  engine with ``moderation.core.db.Database``, so that a plain ``postgresql://`` URL
  goes through the same code as in the server.
- ``psycopg2-unpatched``: the same, but ``eventlet.monkey_patch(psycopg=False)``
  (what the server would do without eventlet's psycopg2 wait callback).
- ``psycopg3``: the server's wiring, engine on ``postgresql+psycopg://``
  (psycopg 3, its default wait function).
- ``psycopg3-wait_select``: psycopg 3 with ``PSYCOPG_WAIT_FUNC=wait_select``
  (its pure-Python wait on ``select.select``, which eventlet patches).

In the child, one green thread runs ``SELECT pg_sleep(2)`` through the
SQLAlchemy engine while

- another green thread answers a TCP echo: this process (the parent, not
  patched) sends one byte every 10 ms and times the echo, like a client's
  ping to the server;
- a third green thread sleeps 10 ms in a loop and notes how late it wakes up
  (the event loop's own timer).

Then four green threads run ``SELECT pg_sleep(0.5)`` at once: a cooperative
driver finishes all four in about 0.5 s, a blocking one in 2 s.

Output: one row per case (medians over ``--repeat`` runs), the load average
of each run, and the last line ``psycopg2_ping_max_ms=<ms>
psycopg3_ping_max_ms=<ms>``. Every wait is bounded; the script stops by
itself. psycopg 3 comes with the ``bench`` extra.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HOST, ROOT, percentile  # noqa: E402

CASES = {
    # name: (SQLAlchemy URL scheme, eventlet psycopg patch, extra environment)
    "psycopg2": ("postgresql", True, {}),
    "psycopg2-unpatched": ("postgresql", False, {}),
    "psycopg3": ("postgresql+psycopg", True, {}),
    "psycopg3-wait_select": ("postgresql+psycopg", True, {"PSYCOPG_WAIT_FUNC": "wait_select"}),
}
PING_INTERVAL = 0.01
PING_TIMEOUT = 15.0
CHILD_TIMEOUT = 60.0


# -- the child: one case, eventlet-patched ------------------------------------------------------
def child(case: str, url: str, slow_s: float) -> None:
    scheme, patch_psycopg, _env = CASES[case]
    sys.path.insert(0, str(ROOT))
    from moderation.server import import_eventlet, patch  # the standard library only, before patching
    if patch_psycopg:
        patch("eventlet")  # the server's wiring: monkey-patch first, then import the package
    else:
        import_eventlet().monkey_patch(psycopg=False)
    import eventlet
    from sqlalchemy import text

    from moderation.core.db import Database, make_engine

    if scheme == "postgresql":
        engine = Database(url).engine  # the server's URL handling: postgresql:// -> psycopg2
    else:
        engine = make_engine(scheme + "://" + url.split("://", 1)[1])
    wait_function = "n/a"
    if engine.dialect.driver == "psycopg2":
        import psycopg2.extensions

        callback = psycopg2.extensions.get_wait_callback()
        wait_function = f"{callback.__module__}.{callback.__name__}" if callback else "none (blocking libpq calls)"
    else:
        import psycopg.waiting

        wait_function = f"psycopg.waiting.{psycopg.waiting.wait.__name__}"

    def query(seconds: float) -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})

    for _ in range(4):  # four pooled connections, opened before anything is measured
        eventlet.spawn(query, 0)
    eventlet.sleep(0)
    [query(0) for _ in range(2)]

    listener = eventlet.listen((HOST, 0))
    port = listener.getsockname()[1]

    def echo() -> None:
        connection, _ = listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = connection.recv(64)
            if not data:
                return
            connection.sendall(data)

    lateness: list[tuple[float, float]] = []
    running = [True]

    def timer() -> None:
        while running[0]:
            started = time.perf_counter()
            eventlet.sleep(PING_INTERVAL)
            lateness.append((time.time(), (time.perf_counter() - started - PING_INTERVAL) * 1000))

    eventlet.spawn(echo)
    eventlet.spawn(timer)
    print(f"PORT {port}", flush=True)
    eventlet.sleep(1.0)  # the baseline: no query running

    started = time.time()
    eventlet.spawn(query, slow_s).wait()
    ended = time.time()
    eventlet.sleep(0.5)

    concurrent_started = time.time()
    pool = [eventlet.spawn(query, 0.5) for _ in range(4)]
    for green in pool:
        green.wait()
    concurrent_s = time.time() - concurrent_started
    running[0] = False
    eventlet.sleep(0.05)
    engine.dispose()
    print("RESULT " + json.dumps({"case": case, "driver": engine.dialect.driver, "wait_function": wait_function,
                                  "query": [started, ended], "lateness": lateness,
                                  "concurrent_s": concurrent_s}), flush=True)


# -- the parent: start a case, ping it, read its result ---------------------------------------------
def pinger(port: int, pings: list[tuple[float, float]], stop: threading.Event) -> None:
    """One byte every 10 ms over one TCP connection; (sent at, round trip ms)."""
    with socket.create_connection((HOST, port), timeout=PING_TIMEOUT) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop.is_set():
            sent_wall, sent = time.time(), time.perf_counter()
            try:
                connection.sendall(b"p")
                if not connection.recv(64):
                    return
            except OSError:
                return
            pings.append((sent_wall, (time.perf_counter() - sent) * 1000))
            stop.wait(PING_INTERVAL)


def run_case(case: str, args) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **CASES[case][2])
    env = {k: v for k, v in env.items() if not k.startswith("MODERATION_")}
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", case, "--url", args.url,
                                "--slow", str(args.slow)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, cwd=ROOT, env=env, text=True, start_new_session=True)
    pings: list[tuple[float, float]] = []
    stop = threading.Event()
    thread = None
    result = None
    # A child that hangs (a query that never ends) is killed at the deadline,
    # which ends its output and so the loop below.
    killer = threading.Timer(CHILD_TIMEOUT, process.kill)
    killer.daemon = True
    killer.start()
    try:
        for line in process.stdout:
            if line.startswith("PORT "):
                thread = threading.Thread(target=pinger, args=(int(line.split()[1]), pings, stop), daemon=True)
                thread.start()
            elif line.startswith("RESULT "):
                result = json.loads(line[7:])
                break
    finally:
        killer.cancel()
        stop.set()
        if thread is not None:
            thread.join(PING_TIMEOUT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if result is None:
        raise RuntimeError(f"case {case} gave no result:\n{process.stderr.read()[-3000:]}")
    start, end = result["query"]
    during = [rtt for sent, rtt in pings if start <= sent <= end]
    answered = sum(1 for sent, rtt in pings if start <= sent and sent + rtt / 1000 <= end)
    before = [rtt for sent, rtt in pings if start - 0.9 <= sent < start]
    late = [ms for at, ms in result["lateness"] if start <= at <= end + 0.5]
    return {"case": case, "driver": result["driver"], "wait_function": result["wait_function"],
            "query_s": end - start, "baseline_p99_ms": percentile(before, 99),
            "ping_p50_ms": percentile(during, 50), "ping_p99_ms": percentile(during, 99),
            "ping_max_ms": max(during, default=float("nan")), "pings_answered": answered,
            "timer_late_max_ms": max(late, default=float("nan")), "concurrent_4x0.5s_s": result["concurrent_s"]}


COLUMNS = [("case", "{}"), ("query_s", "{:.2f}"), ("baseline_p99_ms", "{:.1f}"), ("ping_p50_ms", "{:.1f}"),
           ("ping_p99_ms", "{:.1f}"), ("ping_max_ms", "{:.1f}"), ("pings_answered", "{:.0f}"),
           ("timer_late_max_ms", "{:.1f}"), ("concurrent_4x0.5s_s", "{:.2f}")]


def table(rows: list[dict]) -> str:
    cells = [[name for name, _ in COLUMNS]] + [[fmt.format(row[name]) for name, fmt in COLUMNS] for row in rows]
    widths = [max(len(r[c]) for r in cells) for c in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=False)) for r in cells)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Ping latency under eventlet while a slow PostgreSQL query runs, "
                                                 "per driver.")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL to run pg_sleep on (nothing is written)")
    parser.add_argument("--slow", type=float, default=2.0, help="the slow query's pg_sleep seconds (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every case (default 3)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures as JSON")
    parser.add_argument("--child", choices=tuple(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.url, args.slow)
        return 0
    cases = [c for c in args.cases.split(",") if c]
    runs: dict[str, list[dict]] = {c: [] for c in cases}
    for run in range(args.repeat):
        load_before = os.getloadavg()[0]
        rows = [run_case(case, args) for case in cases]
        for row in rows:
            runs[row["case"]].append(row)
        print(f"run {run + 1}/{args.repeat} (load average 1 min before/after: {load_before:.1f}/"
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        print(table(rows), flush=True)
    medians = []
    for case, rows in runs.items():
        row = {"case": case}
        for name, _ in COLUMNS[1:]:
            row[name] = percentile([r[name] for r in rows], 50)
        medians.append(row)
    print(f"medians over {args.repeat} runs:")
    print(table(medians))
    for case, rows in runs.items():
        print(f"  {case}: driver {rows[0]['driver']}, wait function {rows[0]['wait_function']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "medians": medians}, indent=1), encoding="utf-8")
    by_case = {row["case"]: row for row in medians}
    print(" ".join(f"{c}_ping_max_ms={by_case[c]['ping_max_ms']:.1f}" for c in ("psycopg2", "psycopg3")
                   if c in by_case), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
