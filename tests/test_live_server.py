"""The real server (``python run.py``, eventlet) in a subprocess, driven by
real Socket.IO clients over WebSocket.

One server is shared by the tests of this module; each test that changes
state works on a dialogue of its own (seeded the way the ``moderation`` CLI
would, against the server's database), except the first, which runs the demo
dialogue the server seeded at start.
"""
from __future__ import annotations

import json
import sqlite3
import time

import pytest
import socketio
import websocket
from conftest import reset_postgres, seed_dialogue
from server import Client, LiveServer, ServerExited, disconnect_all, run_cli, token_of
from sqlalchemy import select

from moderation.core.auth import credential_for_token
from moderation.core.config import SETTINGS
from moderation.models import Participant

pytestmark = pytest.mark.server

MAX_PAYLOAD_BYTES = next(s.default for s in SETTINGS if s.name == "MAX_PAYLOAD_BYTES")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("live")) as live:
        yield live


@pytest.fixture
def seeded(server):
    """A dialogue of this test's own on the shared server: four items, links
    for moderator/rapporteur/display, participant0 (room), participant1
    (online) and a moderator API token (see ``conftest.seed_dialogue``)."""
    return seed_dialogue(server.app().extensions["moderation"])


@pytest.fixture
def clients():
    """Clients opened by a test, disconnected after it."""
    opened: list[Client] = []

    def open_client(*args, **kwargs) -> Client:
        client = Client(*args, **kwargs)
        opened.append(client)
        return client.connect()

    yield open_client
    disconnect_all(opened)


def wait_for_attendance(server: LiveServer, *participants: Client, timeout: float = 15) -> None:
    """A participant's first connection is recorded by the server a moment
    later (``attendance.record_connections``: a write that takes a version
    but is sent to no screen). Wait for it, so that the versions a test
    counts are its own."""
    ids = [client.snapshots[0]["sections"]["me"]["participant"]["id"] for client in participants]
    deadline = time.monotonic() + timeout
    while True:
        with server.app().extensions["db"].session() as session:
            recorded = session.scalars(select(Participant.connected_at).where(Participant.id.in_(ids))).all()
        if len(recorded) == len(ids) and all(recorded):
            return
        assert time.monotonic() < deadline, "the server did not record the participants' connections"
        time.sleep(0.1)


def comparable(agenda: dict) -> dict:
    """The agenda section without ``estimated_end``, which is computed from
    the clock when no item runs and so differs between two reads."""
    return {key: value for key, value in agenda.items() if key != "estimated_end"}


# -- ordered delivery ------------------------------------------------------------------
def test_every_participant_receives_every_change_in_order(server, clients):
    dialogue_id = server.dialogue_id
    moderator = clients(server, server.token("moderator"), dialogue_id)
    room = clients(server, server.token("participant"), dialogue_id)
    online = clients(server, server.token("participant_online"), dialogue_id)
    assert room.snapshots[0]["sections"]["me"]["participant"]["channel"] == "room"
    assert online.snapshots[0]["sections"]["me"]["participant"]["channel"] == "online"
    wait_for_attendance(server, room, online)
    start = moderator.fresh_snapshot()["version"]

    acks, current = [], None
    steps = ["advance", "pause_item", "resume_item", "advance", "adjust_time", "advance", "pause_item",
             "resume_item", "advance", "end_item"]
    for step in steps:
        payload = {"from_item_id": current} if step == "advance" else {}
        if step == "adjust_time":
            payload = {"seconds": 120}
        ack = moderator.command(f"agenda.{step}", payload)
        acks.append(ack["version"])
        current = ack["result"].get("current_item_id", current)
    assert acks == list(range(start + 1, start + len(steps) + 1))

    last = acks[-1]
    for client in (room, online, moderator):
        client.wait_for_version(last)
        changes = [c for c in client.changes if c["version"] > start]
        assert [c["version"] for c in changes] == acks, "every change once, in order, no gaps"
        # Each change names the one before it, so a client can tell it missed nothing.
        assert changes[0]["prev_version"] < changes[0]["version"]
        assert [c["prev_version"] for c in changes[1:]] == acks[:-1]
        assert all(c["dialogue_id"] == dialogue_id and "agenda" in c["sections"] for c in changes)
    for participant in (room, online):
        assert all("participants" not in c["sections"] for c in participant.changes), "staff only"
        fresh = participant.fresh_snapshot()
        assert fresh["version"] == last
        assert comparable(participant.changes[-1]["sections"]["agenda"]) == comparable(fresh["sections"]["agenda"])
        items = fresh["sections"]["agenda"]["items"]
        assert [item["status"] for item in items] == ["done"] * 4
        assert fresh["sections"]["agenda"]["current_item_id"] is None
    assert comparable(room.changes[-1]["sections"]["agenda"]) == comparable(online.changes[-1]["sections"]["agenda"])


def test_a_participant_who_drops_gets_a_snapshot_at_the_current_version(server, seeded, clients):
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    room = clients(server, tokens["participant0"], dialogue_id)
    online = clients(server, tokens["participant1"], dialogue_id)
    wait_for_attendance(server, room, online)
    first = moderator.command("agenda.advance")["version"]
    online.wait_for_version(first)

    online.disconnect()
    assert not online.connected
    acks = [moderator.command(name)["version"]
            for name in ("agenda.advance", "agenda.pause_item", "agenda.resume_item", "agenda.advance")]
    room.wait_for_version(acks[-1])
    assert all(c["version"] < acks[0] for c in online.changes), "nothing arrives while away"

    online.clear()
    online.connect()
    snapshot = online.snapshots[0]
    assert snapshot["version"] == acks[-1]
    assert comparable(snapshot["sections"]["agenda"]) == \
        comparable(moderator.fresh_snapshot()["sections"]["agenda"])
    assert snapshot["sections"]["agenda"]["current_item_id"] == seeded["item_ids"][2]

    # Back in its room: the next change arrives as usual.
    following = moderator.command("agenda.advance")["version"]
    assert online.wait_for_version(following)["sections"]["agenda"]["current_item_id"] == seeded["item_ids"][3]


def test_an_acknowledged_write_is_in_a_new_clients_snapshot(server, seeded, clients):
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    moderator.command("agenda.advance")
    ack = moderator.command("agenda.adjust_time", {"seconds": 300})
    planned = ack["result"]["planned_seconds"]

    display = clients(server, tokens["display"], dialogue_id)
    snapshot = display.snapshots[0]
    assert snapshot["role"] == "display"
    assert snapshot["version"] == ack["version"]
    item = next(i for i in snapshot["sections"]["agenda"]["items"] if i["id"] == ack["result"]["item_id"])
    assert item["planned_seconds"] == planned == (20 + 5) * 60
    assert item["status"] == "running"

    status, body = server.get_json(f"/api/v1/dialogues/{dialogue_id}/snapshot",
                                   headers={"Authorization": f"Bearer {tokens['api_moderator']}"})
    assert status == 200 and body["snapshot"]["version"] == ack["version"]


# -- access ------------------------------------------------------------------------------
def test_revoking_a_link_ends_its_open_connection(server, seeded, clients):
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    cli = run_cli("token", "--dialogue", str(dialogue_id), "--role", "secretariat", env=server.env)
    assert cli.returncode == 0, cli.stderr
    secretariat = cli.stdout.strip()
    with server.app().extensions["db"].session() as session:
        credential_id = credential_for_token(session, tokens["participant0"]).id

    room = clients(server, tokens["participant0"], dialogue_id)
    online = clients(server, tokens["participant1"], dialogue_id)
    wait_for_attendance(server, room, online)
    status, body = server.request("POST", f"/api/v1/dialogues/{dialogue_id}/credentials/revoke",
                                  {"credential_id": credential_id},
                                  headers={"Authorization": f"Bearer {secretariat}"})
    assert status == 200 and body["ok"], body

    ended = room.wait_for(lambda: room.of("session_ended"), what="session_ended")
    assert "revoked" in ended[0]["reason"]
    room.wait_for(lambda: room.disconnects and not room.connected, what="the server to disconnect")
    assert online.fresh_snapshot()["version"] == body["version"], "the other participant is still served"
    assert online.connected and not online.of("session_ended")
    # It does not come back: the server said goodbye, so the client's engine
    # closes and no reconnection is under way (or, if one were, it is refused).
    room.wait_for(lambda: room.sio.eio.state == "disconnected", what="the connection to close")
    if room.sio._reconnect_task is not None:
        room.wait_for(lambda: room.of("connect_error"), what="the reconnection to be refused")
    assert not room.connected, "a revoked client must not reconnect"

    again = Client(server, tokens["participant0"], dialogue_id, reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        again.connect(timeout=5)
    assert again.of("connect_error")[0]["data"]["code"] == "link_revoked"
    status, _ = server.request("GET", f"/l/{tokens['participant0']}")
    assert status == 401


def engineio_url(server: LiveServer) -> str:
    return f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"


def test_a_foreign_origin_is_refused_and_the_same_origin_accepted(server, seeded):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(engineio_url(server), origin="http://evil.example", timeout=5)
    assert refused.value.status_code == 400
    status, _ = server.get_json("/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"})
    assert status == 400
    # A whole Socket.IO client with a valid token, from a foreign page (over
    # long-polling, where the Origin header is exactly the one given).
    foreign = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        foreign.connect(server.base_url, transports=["polling"], headers={"Origin": "http://evil.example"},
                        auth={"dialogue_id": seeded["dialogue_id"], "token": seeded["tokens"]["moderator"]},
                        wait_timeout=5)
    assert not foreign.connected
    same = socketio.Client(reconnection=False)
    same.connect(server.base_url, transports=["polling"], headers={"Origin": server.base_url},
                 auth={"dialogue_id": seeded["dialogue_id"], "token": seeded["tokens"]["moderator"]}, wait_timeout=5)
    assert same.connected
    same.disconnect()

    connection = websocket.create_connection(engineio_url(server), origin=server.base_url, timeout=5)
    try:
        opened = connection.recv()
        assert opened.startswith("0") and json.loads(opened[1:])["maxPayload"] == MAX_PAYLOAD_BYTES
        auth = {"dialogue_id": seeded["dialogue_id"], "token": seeded["tokens"]["participant0"]}
        connection.send("40" + json.dumps(auth))
        # The CONNECT acceptance and the snapshot emitted by the connect
        # handler (python-socketio sends the latter first).
        packets = sorted([connection.recv(), connection.recv()])
        assert packets[0].startswith("40{") and packets[1].startswith("42[")
        name, snapshot = json.loads(packets[1][2:])
        assert name == "snapshot" and snapshot["dialogue_id"] == seeded["dialogue_id"]
    finally:
        connection.close()


def test_an_oversized_message_is_refused_and_the_server_keeps_serving(server, seeded, clients):
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    room = clients(server, tokens["participant0"], dialogue_id)
    wait_for_attendance(server, room)
    # An extra key is ignored at this size...
    small = moderator.sio.call("agenda.advance", {"payload": {}, "note": "x" * 1000}, timeout=10)
    assert small["ok"], small
    room.wait_for_version(small["version"])

    # ...but the same event beyond MAX_PAYLOAD_BYTES never reaches a handler.
    moderator.sio.emit("agenda.advance", {"payload": {}, "note": "x" * (MAX_PAYLOAD_BYTES + 1000)})
    moderator.wait_for(lambda: moderator.disconnects, what="the server to drop the oversized message")
    assert server.running
    assert room.connected
    assert room.fresh_snapshot()["version"] == small["version"], "the oversized command must not run"

    # The sender reconnects by itself and the server serves everyone as before.
    moderator.wait_for(lambda: len(moderator.snapshots) >= 2 and moderator.connected, what="a reconnect")
    status, health = server.get_json("/healthz")
    assert status == 200 and health["status"] == "ok"
    after = moderator.command("agenda.advance")["version"]
    assert after == small["version"] + 1
    room.wait_for_version(after)
    newcomer = clients(server, tokens["display"], dialogue_id)
    assert newcomer.snapshots[0]["version"] == after


# -- starting ----------------------------------------------------------------------------
def test_the_server_refuses_a_database_behind_the_code_until_upgraded(tmp_path):
    database = tmp_path / "behind.sqlite3"
    sqlite3.connect(database).close()  # a database without any table
    url = f"sqlite:///{database}"
    live = LiveServer(tmp_path / "server", demo=False, database_url=url)
    with pytest.raises(ServerExited) as exited:
        live.start()
    assert exited.value.returncode != 0
    assert "moderation db upgrade" in exited.value.stderr

    upgrade = run_cli("db", "upgrade", env=live.env)
    assert upgrade.returncode == 0, upgrade.stderr
    try:
        live.start()
        status, health = live.get_json("/healthz")
        assert status == 200 and health["database"]["schema_current"] is True
    finally:
        live.close()


def test_restart_keeps_the_data_and_the_links(live_server, clients):
    """The harness's restart (for fault tests) keeps instance folder, database
    and demo links."""
    dialogue_id = live_server.dialogue_id
    moderator = clients(live_server, live_server.token("moderator"), dialogue_id)
    version = moderator.command("agenda.advance")["version"]
    moderator.disconnect()
    live_server.kill9()
    assert not live_server.running
    live_server.restart()
    again = clients(live_server, live_server.token("moderator"), dialogue_id)
    assert again.snapshots[0]["version"] == version


# -- several processes -------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.redis
def test_two_servers_share_changes_through_postgres_and_redis(tmp_path, postgres_server_url, redis_url,
                                                                clients):
    reset_postgres(postgres_server_url)
    first = LiveServer(tmp_path / "a", database_url=postgres_server_url, message_queue=redis_url)
    second = LiveServer(tmp_path / "b", demo=False, database_url=postgres_server_url, message_queue=redis_url)
    try:
        first.start()
        second.start()
        dialogue_id = first.dialogue_id
        moderator = clients(first, first.token("moderator"), dialogue_id)
        participant = clients(second, first.token("participant"), dialogue_id)
        ack = moderator.command("agenda.advance")
        change = participant.wait_for_version(ack["version"])
        assert change["sections"]["agenda"]["current_item_id"] == ack["result"]["current_item_id"]
        fresh = participant.fresh_snapshot()  # the servers may have recorded attendance since: >=
        assert fresh["version"] >= ack["version"]
        assert fresh["sections"]["agenda"]["current_item_id"] == ack["result"]["current_item_id"]
        status, health = second.get_json("/healthz")
        assert status == 200 and health["message_queue"]["status"] == "ok"
    finally:
        first.close()
        second.close()


def test_token_of_takes_the_last_path_part():
    assert token_of("http://127.0.0.1:5000/l/abc-DEF_1") == "abc-DEF_1"
