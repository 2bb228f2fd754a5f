"""Memory per connected client: the real server against the bare baseline.

    python bench/memory.py                      # 1,000 clients, 3 runs
    python bench/memory.py --clients 2000 --repeat 1
    ...
    real_mb_per_1000=41.2 bare_mb_per_1000=30.5 ratio=1.35

What one run does: the real server (``run.py --demo``, eventlet, a fresh
SQLite instance folder with N registered participants) and the bare
Flask-SocketIO server (``bench/bare_server.py``, same async mode and options)
start side by side. After both have settled (``--settle`` s, default 5), each
server's resident memory (``VmRSS`` in ``/proc/<pid>/status``) is read with 0
clients; then N clients connect to each (the cheap WebSocket clients of
``bench/broadcast.py``: participants with their own links on the real server,
one room on the bare one), and after the same settling time the memory is read
again. Memory per 1,000 clients is (RSS with N - RSS with 0) / N * 1000.

Output: one row per server and run (RSS with 0 and N clients, MB per 1,000
clients), the difference and the ratio real / bare, the load average, and the
last line ``real_mb_per_1000=<MB> bare_mb_per_1000=<MB> ratio=<real / bare>``
(medians over the runs). Every wait is bounded; the script stops by itself and
ends both servers. Requires the ``bench`` extra (aiohttp).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from broadcast import Participants  # noqa: E402
from common import (  # noqa: E402
    BARE_PY,
    HOST,
    RealServer,
    ServerProcess,
    add_run_options,
    free_port,
    last_resort,
    percentile,
    raise_open_files_limit,
    rss_mb,
    run_as_child,
    run_in_workdir,
    run_prepare,
    say,
    server_env,
)


async def run_once(args, workdir: Path) -> dict[str, dict[str, float]]:
    instance = workdir / "real-instance"
    say(f"registering {args.clients} participants ...")
    people = run_prepare(Path(__file__).resolve(), args.root, instance, args.clients, workdir / "people.json",
                         args.prepare_timeout, count_option="--clients")
    real = RealServer(args.root, server_env(instance), workdir, "real")
    port = free_port()
    bare = ServerProcess("bare", [sys.executable, str(BARE_PY), "--host", HOST, "--port", str(port)],
                         server_env(workdir / "bare-instance"), workdir / "bare.log")
    groups: list[Participants] = []
    try:
        demo = real.wait_demo()
        if demo["dialogue_id"] != people["dialogue_id"]:
            raise RuntimeError("the server seeded another demo dialogue than the one prepared")
        bare.wait_ready(f"http://{HOST}:{port}/socket.io/?EIO=4&transport=polling")
        await asyncio.sleep(args.settle)
        idle = {"real": rss_mb(real.pid), "bare": rss_mb(bare.pid)}
        say(f"connecting {args.clients} clients to each server ...")
        real_clients = Participants([f"ws://{HOST}:{real.port}/socket.io/?EIO=4&transport=websocket"],
                                    [{"dialogue_id": people["dialogue_id"], "token": p["token"]}
                                     for p in people["participants"]])
        groups.append(real_clients)
        await real_clients.connect_all(args.connect_timeout)
        bare_clients = Participants([f"ws://{HOST}:{port}/socket.io/?EIO=4&transport=websocket"],
                                    [{"room": "all"}] * args.clients)
        groups.append(bare_clients)
        await bare_clients.connect_all(args.connect_timeout)
        await asyncio.sleep(args.settle)
        loaded = {"real": rss_mb(real.pid), "bare": rss_mb(bare.pid)}
        connected = {"real": real_clients.connected - real_clients.ended,
                     "bare": bare_clients.connected - bare_clients.ended}
    finally:
        for group in groups:
            await group.close()
        real.stop()
        bare.stop()
    return {name: {"rss_0_mb": idle[name], "rss_n_mb": loaded[name], "connected": connected[name],
                   "mb_per_1000": (loaded[name] - idle[name]) / args.clients * 1000} for name in ("real", "bare")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Resident memory per connected client, real server and bare "
                                                 "baseline.")
    parser.add_argument("--clients", type=int, default=1000, help="connected clients per server (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="independent runs (default 3)")
    parser.add_argument("--settle", type=float, default=5.0, help="s to wait before each reading (default 5)")
    parser.add_argument("--connect-timeout", type=float, default=None,
                        help="s to connect every client (default 60 + 0.1 s per client)")
    add_run_options(parser, prepare_timeout=600.0, timeout=900.0, keep=None)
    args = parser.parse_args(argv)
    if args.connect_timeout is None:
        args.connect_timeout = 60 + 0.1 * args.clients
    if run_as_child(args, args.clients):
        return 0
    if args.clients < 1 or args.repeat < 1:
        parser.error("--clients and --repeat must be at least 1")
    raise_open_files_limit(2 * args.clients + 512)
    signal.signal(signal.SIGALRM, last_resort)
    signal.signal(signal.SIGTERM, last_resort)
    runs = []
    for run in range(args.repeat):
        load_before = os.getloadavg()[0]
        figures = run_in_workdir(args, "memory", run_once)
        runs.append(figures)
        real, bare = figures["real"], figures["bare"]
        print(f"run {run + 1}/{args.repeat} (load average before/after {load_before:.1f}/{os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores; {args.clients} clients each)")
        for name in ("real", "bare"):
            row = figures[name]
            print(f"  {name}: rss_0_mb={row['rss_0_mb']:.1f} rss_{args.clients}_mb={row['rss_n_mb']:.1f} "
                  f"connected={row['connected']} mb_per_1000={row['mb_per_1000']:.1f}")
        print(f"  difference_mb_per_1000={real['mb_per_1000'] - bare['mb_per_1000']:.1f} "
              f"ratio={real['mb_per_1000'] / bare['mb_per_1000']:.2f}", flush=True)
        time.sleep(1)
    median = {name: {key: percentile([r[name][key] for r in runs], 50) for key in ("rss_0_mb", "rss_n_mb",
                                                                                     "mb_per_1000")}
              for name in ("real", "bare")}
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "median": median}, indent=1), encoding="utf-8")
    real, bare = median["real"]["mb_per_1000"], median["bare"]["mb_per_1000"]
    if args.repeat > 1:
        print(f"medians over {args.repeat} runs: real rss_0_mb={median['real']['rss_0_mb']:.1f} "
              f"rss_n_mb={median['real']['rss_n_mb']:.1f}; bare rss_0_mb={median['bare']['rss_0_mb']:.1f} "
              f"rss_n_mb={median['bare']['rss_n_mb']:.1f}; difference_mb_per_1000={real - bare:.1f}")
    print(f"real_mb_per_1000={real:.1f} bare_mb_per_1000={bare:.1f} ratio={real / bare:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
