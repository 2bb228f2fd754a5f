"""The speaker queue on the real server (``python run.py --demo``, eventlet,
in a subprocess; see ``tests/server.py``), driven by Socket.IO clients over
WebSocket exactly as the pages drive it."""
from __future__ import annotations

import pytest
from concurrency import all_at_once
from conftest import seed_dialogue
from server import Client, LiveServer

from moderation.core.auth import SYSTEM

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("queue-live")) as live:
        yield live


@pytest.fixture
def clients():
    opened: list[Client] = []

    def open_client(*args, **kwargs) -> Client:
        client = Client(*args, **kwargs)
        opened.append(client)
        return client.connect()

    yield open_client
    for client in opened:
        client.disconnect()


def queue_at(client: Client, version: int) -> dict:
    """The queue section as ``client`` saw it at ``version``."""
    change = client.wait_for_version(version)
    assert "queue" in change["sections"], f"the change at {version} did not carry the queue"
    return change["sections"]["queue"]


def own_entry(queue: dict, participant_id: int) -> dict:
    return next(e for e in queue["waiting"] if e["participant_id"] == participant_id)


def assert_every_change_in_order(client: Client, commands: list[int]) -> None:
    """Every change meant for this client once and in version order, with no
    gap (each ``prev_version`` is the version of the change before it, see
    docs/protocol.md), and one for each of ``commands`` (the versions of
    commands that showed every role something)."""
    client.wait_for_version(max(commands))
    changes = client.changes
    versions = [c["version"] for c in changes]
    assert versions == sorted(set(versions)), f"out of order or repeated: {versions}"
    previous = client.snapshots[0]["version"]
    assert changes[0]["prev_version"] <= previous
    for before, change in zip(changes, changes[1:], strict=False):
        assert change["prev_version"] == before["version"], f"a change was missed before {change['version']}"
    missing = sorted(set(commands) - set(versions))
    assert not missing, f"changes never received: {missing} (received {versions})"


def test_participants_ask_the_moderator_calls_the_display_shows(server, clients):
    dialogue_id = server.dialogue_id
    moderator = clients(server, server.token("moderator"), dialogue_id)
    room = clients(server, server.token("participant"), dialogue_id)
    online = clients(server, server.token("participant_online"), dialogue_id)
    display = clients(server, server.token("display"), dialogue_id)
    me_room = room.snapshots[0]["sections"]["me"]["participant"]
    me_online = online.snapshots[0]["sections"]["me"]["participant"]
    assert (me_room["channel"], me_online["channel"]) == ("room", "online")
    assert room.snapshots[0]["sections"]["queue"]["waiting"] == []

    # The moderator moves through the agenda to the panel discussion.
    agenda = moderator.snapshots[0]["sections"]["agenda"]
    panel = next(item for item in agenda["items"] if "speakers" in item["shows"])
    assert panel["type"] == "panel_discussion"
    current, commands = agenda["current_item_id"], []
    while current != panel["id"]:
        ack = moderator.command("agenda.advance", {"from_item_id": current} if current else {})
        current = ack["result"]["current_item_id"]
        commands.append(ack["version"])
    queue = queue_at(room, ack["version"])
    assert queue["item_id"] == panel["id"] and queue["current"] is None

    # Both participants ask for the floor; meanwhile a placard goes up in the room.
    acks = [room.command("queue.request_floor", {"intervention_type": "statement", "note": "Victim identification"}),
            moderator.command("queue.add_speaker", {
                "name": "Delegate with a placard", "organization": "Permanent Mission of Austria",
                "category": "state_party", "channel": "room"}),
            online.command("queue.request_floor", {"intervention_type": "question"})]
    asked_room, placard, asked_online = (a["result"]["entry_id"] for a in acks)
    commands += [a["version"] for a in acks]
    asked = acks[-1]["version"]

    # Each sees their own position and an estimated wait.
    mine = own_entry(queue_at(room, asked), me_room["id"])
    assert (mine["id"], mine["position"], mine["estimated_wait_seconds"]) == (asked_room, 1, 0)
    theirs = own_entry(queue_at(online, asked), me_online["id"])
    assert (theirs["id"], theirs["position"]) == (asked_online, 2)
    assert theirs["estimated_wait_seconds"] == queue_at(online, asked)["speaking_seconds_by_type"]["statement"]
    # Room, online, room: the online question comes before the earlier placard.
    assert [e["id"] for e in queue_at(room, asked)["waiting"]] == [asked_room, asked_online, placard]
    for participant in (room, online):
        assert all("queue_staff" not in c["sections"] and "statistics" not in c["sections"]
                   for c in participant.changes)
    staff = moderator.wait_for_version(asked)["sections"]
    assert staff["queue_staff"]["entries"][str(asked_room)]["note"] == "Victim identification"

    # The moderator accepts the proposal twice.
    called, channels, last = [], [], asked
    for _ in range(2):
        proposal = queue_at(moderator, last)["proposed_id"]
        ack = moderator.command("queue.call_next", {"expected_entry_id": proposal})
        assert ack["result"]["speaking_id"] == proposal
        on_screen = queue_at(display, ack["version"])["current"]
        assert on_screen["id"] == proposal and on_screen["ends_at"] > on_screen["run_started_at"]
        assert on_screen["allotted_seconds"] == 180
        called.append(on_screen["name"])
        channels.append(on_screen["channel"])
        last = ack["version"]
        commands.append(last)
    assert called == [me_room["name"], me_online["name"]]
    assert channels == ["room", "online"]
    assert [e["id"] for e in queue_at(display, last)["waiting"]] == [placard]
    assert queue_at(room, last)["current"]["id"] == asked_online

    # A stale "next" (the proposal moved on) is refused and changes nothing.
    refused = moderator.call("queue.call_next", {"expected_entry_id": asked_online})
    assert refused["ok"] is False and refused["error"]["code"] == "conflict"
    # Participants cannot run the list.
    refused = room.call("queue.call_next", {})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"

    for client in (room, online, display, moderator):
        assert_every_change_in_order(client, commands)
    fresh = online.fresh_snapshot()
    assert fresh["sections"]["queue"]["current"]["id"] == asked_online


def test_two_moderators_press_next_at_once_over_websocket(server, clients):
    """Two co-chairs' consoles send "next" for the same proposal at the same
    instant: one speaker is called, the other console gets a conflict."""
    service = server.app().extensions["moderation"]
    seeded = seed_dialogue(service)
    dialogue_id = seeded["dialogue_id"]
    co_chair = service.dispatch(SYSTEM, "access.issue_link", {"dialogue_id": dialogue_id, "role": "moderator",
                                                               "label": "co-chair"}).result["token"]
    chairs = [clients(server, seeded["tokens"]["moderator"], dialogue_id), clients(server, co_chair, dialogue_id)]
    room = clients(server, seeded["tokens"]["participant0"], dialogue_id)
    commands = [chairs[0].command("agenda.start_item", {"item_id": seeded["item_ids"][2]})["version"]]
    for round_ in range(5):
        for n in range(2):
            commands.append(chairs[0].command("queue.add_speaker", {
                "name": f"Speaker {round_}-{n}", "channel": "room" if n else "online"})["version"])
        proposal = chairs[1].fresh_snapshot()["sections"]["queue"]["proposed_id"]
        acks = all_at_once([lambda chair=chair, proposal=proposal: chair.call(
            "queue.call_next", {"expected_entry_id": proposal}) for chair in chairs], timeout=30)
        assert not any(isinstance(a, BaseException) for a in acks), acks
        assert sorted(bool(a["ok"]) for a in acks) == [False, True], acks
        winner = next(a for a in acks if a["ok"])
        loser = next(a for a in acks if not a["ok"])
        assert winner["result"]["speaking_id"] == proposal and loser["error"]["code"] == "conflict"
        seen = queue_at(room, winner["version"])
        assert seen["current"]["id"] == proposal
        assert proposal not in [e["id"] for e in seen["waiting"]]
        ended = chairs[0].command("queue.end_speaker", {})
        commands += [winner["version"], ended["version"]]
        for entry in queue_at(room, ended["version"])["waiting"]:
            commands.append(chairs[0].command("queue.remove", {"entry_id": entry["id"]})["version"])
    for client in (room, *chairs):
        assert_every_change_in_order(client, commands)
