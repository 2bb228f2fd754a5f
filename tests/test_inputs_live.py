"""Inputs on the real server (``python run.py``, eventlet, SQLite) with real
Socket.IO clients over WebSocket: a participant whose connection drops in
the middle of a submission reconnects, sends the same idempotency key again
and gets the answer, and the input is stored exactly once; the moderator sees
it arrive as a record; other participants get only the throttled hint.

One server for the module (``tests/server.py``); each test seeds a dialogue
of its own against the server's database, the way the CLI would.
"""
from __future__ import annotations

import socket
import time
import uuid

import pytest
from concurrency import all_at_once
from conftest import seed_dialogue
from server import Client, LiveServer, disconnect_all
from slow_acks import SlowAcks
from sqlalchemy import func, select

from moderation.models import IdempotencyRecord, Input

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """The server's acknowledgements, slowed down where a test says so."""
    return SlowAcks(tmp_path_factory.mktemp("inputs-live-slow"))


@pytest.fixture(scope="module")
def server(tmp_path_factory, slow):
    with LiveServer(tmp_path_factory.mktemp("inputs-live"), env=slow.env) as live:
        slow.prove(live)
        yield live


@pytest.fixture
def seeded(server):
    """A dialogue of this test's own (the moderator starts its agenda)."""
    return seed_dialogue(server.app().extensions["moderation"])


@pytest.fixture
def clients():
    opened: list[Client] = []

    def open_client(server, token, dialogue_id, **kwargs) -> Client:
        client = Client(server, token, dialogue_id, **kwargs)
        client.sio.on("inputs_hint", client._recorder("inputs_hint"))
        opened.append(client)
        return client.connect()

    yield open_client
    disconnect_all(opened)


def stored(server, text: str) -> int:
    with server.app().extensions["db"].session() as s:
        return s.scalar(select(func.count()).select_from(Input).where(Input.text == text))


def records_for(client: Client, input_id: int) -> list[dict]:
    return [r for c in client.changes for r in c.get("records", {}).get("inputs", []) if r["id"] == input_id]


def cut(client: Client) -> None:
    """End the connection as a network failure would: the socket is shut
    down under the client, which then reconnects by itself."""
    client.sio.eio.ws.sock.shutdown(socket.SHUT_RDWR)


def listed(client: Client, text: str) -> list[dict]:
    page = client.sio.call("inputs.list", {"per_page": 200}, timeout=10)
    assert page["ok"], page
    return [item for item in page["items"] if item["text"] == text]


def test_a_submission_whose_answer_is_lost_is_stored_once_after_the_retry(server, slow, seeded, clients):
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    participant = clients(server, tokens["participant0"], dialogue_id)
    moderator.command("agenda.advance")

    key, text = f"drop-{uuid.uuid4().hex}", "Shelters for survivors need stable funding."
    data = {"payload": {"text": text, "kind": "suggestion"}, "idempotency_key": key}
    answers: list[dict] = []
    slow.set({"inputs.submit": 5})  # the server answers late ...
    try:
        participant.sio.emit("inputs.submit", data, callback=answers.append)
        # ... the server stored it (the moderator sees it arrive) ...
        change = moderator.wait_for(lambda: next((c for c in moderator.changes
                                                  if any(r["text"] == text for r in c["records"].get("inputs", []))),
                                                 None), 10, "the moderator's record of the input")
        cut(participant)  # ... and the connection ends before the answer can come back
    finally:
        slow.set({})
    [record] = [r for r in change["records"]["inputs"] if r["text"] == text]
    input_id = record["id"]
    assert (record["kind"], record["status"], record["author"]) == ("suggestion", "published", "Amina Okafor")
    # ... the participant reconnects by itself, with a fresh snapshot ...
    participant.wait_for(lambda: len(participant.snapshots) >= 2 and participant.connected, 15, "the reconnection")
    assert answers == [], "the answer was not supposed to arrive over the cut connection"
    # ... and sends the same submission with the same key again.
    ack = participant.call("inputs.submit", data["payload"], key=key)
    assert ack["ok"] and ack["replayed"] is True, ack
    assert ack["result"] == {"input_id": input_id, "status": "published"}

    assert stored(server, text) == 1
    assert len(listed(moderator, text)) == 1 and len(listed(participant, text)) == 1
    with server.app().extensions["db"].session() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord).where(
            IdempotencyRecord.key == key)) == 1
    status, page = server.get_json(f"/api/v1/dialogues/{dialogue_id}/inputs?per_page=200",
                                   headers={"Authorization": f"Bearer {tokens['api_moderator']}"})
    assert status == 200 and [i["id"] for i in page["items"] if i["text"] == text] == [input_id]
    # The retry changed nothing, so nothing new was broadcast for it: the
    # next change (changes leave in order) comes with no record of it.
    later = moderator.command("agenda.pause_item")["version"]
    moderator.wait_for_version(later)
    assert len(records_for(moderator, input_id)) == 1


def test_a_submission_cut_at_once_is_stored_once_whatever_reached_the_server(server, seeded, clients):
    """The connection is cut right after the emit: the frame may or may not
    have left. Either way the retry is answered and one input is stored."""
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    participant = clients(server, tokens["participant1"], dialogue_id)
    moderator.command("agenda.advance")
    outcomes = []
    for attempt in range(3):
        key, text = f"cut-{attempt}-{uuid.uuid4().hex}", f"Attempt {attempt}: labour inspections in supply chains"
        payload = {"text": text}
        before = len(participant.snapshots)
        participant.sio.emit("inputs.submit", {"payload": payload, "idempotency_key": key})
        cut(participant)
        participant.wait_for(lambda before=before: len(participant.snapshots) > before and participant.connected, 15,
                             "the reconnection")
        ack = None
        for _ in range(20):  # the reconnection may still be settling
            try:
                ack = participant.call("inputs.submit", payload, key=key, timeout=5)
                break
            except Exception:  # noqa: BLE001 - not connected yet: try again, as a client would
                time.sleep(0.2)
        assert ack and ack["ok"], ack
        outcomes.append(ack["replayed"])
        assert stored(server, text) == 1, attempt
        assert len(listed(moderator, text)) == 1
        moderator.wait_for(lambda ack=ack: records_for(moderator, ack["result"]["input_id"]), 10, "the moderator's record")
    assert len(outcomes) == 3


def test_other_participants_get_a_hint_and_a_page_not_a_change(server, seeded, clients):
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    author = clients(server, tokens["participant0"], dialogue_id)
    other = clients(server, tokens["participant1"], dialogue_id)
    display = clients(server, tokens["display"], dialogue_id)
    started = moderator.command("agenda.advance")["version"]
    for client in (other, display, author):
        client.wait_for_version(started)
        client.clear()
    ack = author.command("inputs.submit", {"text": "Ask the panel about victim identification",
                                           "kind": "question", "named": False})
    version, input_id = ack["version"], ack["result"]["input_id"]
    for client in (other, display, author):
        hint = client.wait_for(lambda c=client: c.of("inputs_hint"), 5, "the inputs hint")[-1]
        assert hint == {"dialogue_id": dialogue_id, "version": version, "published": 1}
        # The server records first connections for attendance shortly after
        # a client connects; that change may land here. None may carry the input.
        assert [c for c in client.changes if set(c["sections"]) - {"attendance"} or c.get("records")] == []
    # The private message that carries the input (recording the author's
    # connection for attendance sends them their ``me`` privately too).
    [private] = author.wait_for(lambda: [m for m in author.of("private") if m["records"].get("my_inputs")], 5,
                                "the author's private message with the input")
    assert private["records"]["my_inputs"][0]["id"] == input_id
    [item] = listed(other, "Ask the panel about victim identification")
    assert (item["author"], item["organization"], item["kind"]) == ("A participant", "", "question")
    [record] = moderator.wait_for(lambda: records_for(moderator, input_id), 5, "the moderator's record")
    assert record["category"] == "ngo" and record["author"] == "A participant"


def test_many_retries_in_parallel_store_once(server, seeded, clients):
    """Three connections of the same participant (three tabs) send the same
    submission with the same key at the same moment."""
    dialogue_id, tokens = seeded["dialogue_id"], seeded["tokens"]
    moderator = clients(server, tokens["moderator"], dialogue_id)
    tabs = [clients(server, tokens["participant0"], dialogue_id) for _ in range(3)]
    moderator.command("agenda.advance")
    key, text = f"tabs-{uuid.uuid4().hex}", "Three tabs, one input"
    acks = all_at_once([lambda tab=tab: tab.call("inputs.submit", {"text": text}, key=key) for tab in tabs],
                       timeout=20)
    assert len(acks) == 3 and all(a["ok"] for a in acks), acks
    assert len({a["result"]["input_id"] for a in acks}) == 1
    assert sorted(a["replayed"] for a in acks) == [False, True, True]
    assert stored(server, text) == 1
