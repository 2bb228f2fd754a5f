"""The server's PostgreSQL driver does not block the event loop.

Under eventlet (the default async mode) a query that waits in libpq must let
the other green threads run, or every connection of the process stalls for
as long as the slowest query. ``run.py`` monkey-patches with eventlet's
defaults, which install eventlet's wait callback in psycopg2, and plain
``postgresql://`` URLs use psycopg2 (``moderation.core.db.normalize_url``).

This runs ``bench/pg_driver.py`` for the server's wiring and, as the control
that shows the measurement can see a blocked loop, for psycopg2 without the
wait callback: a ping answered by a green thread while ``pg_sleep`` runs in
another.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, require

ROOT = Path(__file__).resolve().parent.parent
SLOW_S = 1.5

pytestmark = [pytest.mark.postgres, pytest.mark.server]


def test_a_slow_query_does_not_block_the_event_loop(tmp_path):
    require("PostgreSQL", bool(POSTGRES_URL), "set MODERATION_TEST_POSTGRES_URL")
    out = tmp_path / "pg_driver.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "pg_driver.py"), "--url", POSTGRES_URL,
                    "--cases", "psycopg2,psycopg2-unpatched", "--repeat", "1", "--slow", str(SLOW_S),
                    "--json", str(out)], cwd=ROOT, check=True, timeout=120, capture_output=True)
    runs = json.loads(out.read_text(encoding="utf-8"))["runs"]
    server, unpatched = runs["psycopg2"][0], runs["psycopg2-unpatched"][0]

    assert server["wait_function"] == "eventlet.support.psycopg2_patcher.eventlet_wait_callback"
    assert server["query_s"] >= SLOW_S
    # Pings go on every 10 ms while the query runs: a blocked loop answers none.
    assert server["pings_answered"] >= 20
    assert server["ping_max_ms"] < SLOW_S * 1000 / 2
    assert server["concurrent_4x0.5s_s"] < 1.5  # four queries at once, not one after the other

    assert unpatched["pings_answered"] <= 1
    assert unpatched["ping_max_ms"] >= SLOW_S * 1000 * 0.9
