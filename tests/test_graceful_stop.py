"""SIGTERM stops a server process gracefully, in every async mode: it
refuses what arrives from then on (``server_stopping``), finishes and
acknowledges the commands in flight, tells its clients, and ends within a few
seconds; its clients reconnect (here, as a load balancer would send them, to
the other process of the deployment) and nothing is lost or stored twice."""
from __future__ import annotations

import http.client
import threading
import time
import uuid

import pytest
from conftest import reset_postgres
from server import Client, LiveServer, disconnect_all, wait_until
from sqlalchemy import create_engine, select, text

from moderation.core.shutdown import CLOSE_SECONDS, STOP_SECONDS
from moderation.models import Dialogue

pytestmark = pytest.mark.server


def fail_over(client: Client, other: LiveServer) -> None:
    """Once told that its server stops, the client's next connection goes to
    ``other`` (what a load balancer does for a browser)."""
    record = client._recorder("server_stopping")  # noqa: SLF001 - one handler per event: keep recording it

    def on_stopping(data=None):
        client.sio.connection_url = other.base_url
        record(data)
    client.sio.on("server_stopping", on_stopping)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_sigterm_finishes_the_command_in_flight_and_clients_move_to_the_other_process(
        mode, tmp_path, postgres_server_url, redis_url):
    reset_postgres(postgres_server_url)
    stopping = LiveServer(tmp_path / "a", async_mode=mode, database_url=postgres_server_url, message_queue=redis_url)
    other = LiveServer(tmp_path / "b", demo=False, database_url=postgres_server_url, message_queue=redis_url)
    engine = create_engine(postgres_server_url)
    clients: list[Client] = []
    try:
        stopping.start()
        other.start()
        dialogue_id = stopping.dialogue_id
        moderator = Client(stopping, stopping.token("moderator"), dialogue_id)
        participant = Client(stopping, stopping.token("participant_online"), dialogue_id)
        watcher = Client(other, stopping.token("display"), dialogue_id)
        clients += [moderator, participant, watcher]
        for client in (moderator, participant):
            fail_over(client, other)
        for client in clients:
            client.connect()

        # The agenda row is locked, so the moderator's command waits in the
        # server, inside its transaction, when SIGTERM arrives.
        blocker = engine.connect()
        blocker.begin()
        blocker.execute(select(Dialogue.id).where(Dialogue.id == dialogue_id).with_for_update())
        advance_key, acks = uuid.uuid4().hex, {}
        sender = threading.Thread(target=lambda: acks.update(advance=moderator.call(
            "agenda.advance", key=advance_key, timeout=30)))
        sender.start()
        with engine.connect() as probe:
            wait_until(lambda: probe.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar(), 10, "the command to wait for the lock")
        signalled = time.monotonic()
        stopping.process.terminate()
        wait_until(lambda: "Stopping:" in stopping.stderr, 10, "the server to begin stopping")

        # What arrives now is refused, and says so.
        ask_key = uuid.uuid4().hex
        refused = participant.call("queue.request_floor", {"intervention_type": "question"}, key=ask_key)
        assert refused["ok"] is False and refused["error"]["code"] == "server_stopping", refused

        # The command in flight is committed and acknowledged before the end.
        blocker.rollback()
        blocker.close()
        sender.join(30)
        advanced = acks["advance"]
        assert advanced["ok"] is True, advanced
        stopping.process.wait(STOP_SECONDS + 5)
        took = time.monotonic() - signalled
        assert stopping.process.returncode == 0, stopping.stderr
        assert took < STOP_SECONDS + 3, f"the stop took {took:.1f} s"
        for client in (moderator, participant):
            assert client.of("server_stopping"), "told that the server stops"

        # Both reconnect, to the other process, and find the acknowledged change.
        for client in (moderator, participant):
            # (python-socketio takes the connection as made a moment after the snapshot)
            client.wait_for(lambda c=client: len(c.snapshots) >= 2 and c.connected, 15,
                            "the snapshot from the other process")
            assert client.snapshots[-1]["version"] >= advanced["version"]
        assert watcher.wait_for_version(advanced["version"])["sections"]["agenda"]["current_item_id"] == \
            advanced["result"]["current_item_id"]
        # The refused write is sent again and stored; the acknowledged one is not stored twice.
        again = participant.command("queue.request_floor", {"intervention_type": "question"}, key=ask_key)
        assert again["replayed"] is False
        replay = moderator.command("agenda.advance", key=advance_key)
        assert replay["replayed"] is True and replay["version"] == advanced["version"]
        with engine.connect() as connection:
            assert connection.execute(select(Dialogue.version).where(Dialogue.id == dialogue_id)).scalar() \
                >= again["version"]
        logs = stopping.stderr
        assert "Traceback" not in logs, logs
        assert "Stopped: 2 connections told and closed" in logs, logs
    finally:
        disconnect_all(clients)
        stopping.close()
        other.close()
        engine.dispose()


@pytest.mark.parametrize("mode", ["eventlet", "gevent", "threading"])
def test_an_idle_server_stops_at_once_on_sigterm(mode, tmp_path):
    with LiveServer(tmp_path, async_mode=mode) as server:
        client = Client(server, server.token("display"), server.dialogue_id, reconnection=False).connect()
        browser = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)  # kept alive, idle
        browser.request("GET", "/healthz")
        assert browser.getresponse().read()
        signalled = time.monotonic()
        server.process.terminate()
        server.process.wait(STOP_SECONDS)
        took = time.monotonic() - signalled
        assert server.process.returncode == 0
        # An idle keep-alive connection may be given up to CLOSE_SECONDS (gevent, gunicorn).
        assert took < CLOSE_SECONDS + 1.5, f"an idle server took {took:.1f} s to stop"
        client.wait_for(lambda: client.of("server_stopping") and client.disconnects, 5, "the goodbye")
        client.disconnect()
        browser.close()
