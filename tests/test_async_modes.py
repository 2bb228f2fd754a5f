"""The async mode is a setting: the same app runs under gevent and threading
as well as under eventlet (covered by test_live_server.py)."""
from __future__ import annotations

import sys

import pytest
from server import Client, LiveServer, disconnect_all

pytestmark = pytest.mark.server


@pytest.mark.parametrize("mode", ["gevent", "threading"])
def test_the_app_serves_a_session_under(mode, tmp_path):
    with LiveServer(tmp_path, async_mode=mode) as server:
        assert f"({mode})" in server.stdout
        status, health = server.get_json("/healthz")
        assert status == 200 and health["status"] == "ok", health

        dialogue_id = server.dialogue_id
        moderator = Client(server, server.token("moderator"), dialogue_id).connect()
        participant = Client(server, server.token("participant"), dialogue_id).connect()
        try:
            assert moderator.snapshots[0]["role"] == "moderator"
            assert participant.snapshots[0]["role"] == "participant"
            ack = moderator.command("agenda.advance")
            change = participant.wait_for_version(ack["version"])
            assert change["sections"]["agenda"]["current_item_id"] == ack["result"]["current_item_id"]
            assert change["version"] > participant.snapshots[0]["version"]
        finally:
            disconnect_all([moderator, participant])
        assert server.running
        assert "Traceback" not in server.stderr, server.stderr


def test_no_async_library_is_imported_into_the_test_process():
    """eventlet and gevent belong to run.py in the server process only."""
    assert "eventlet" not in sys.modules
    assert "gevent" not in sys.modules
