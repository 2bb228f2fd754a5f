"""The speaker queue through its commands (``moderation/features/queue``), on
SQLite and on PostgreSQL (the ``service``/``dialogue`` fixtures).

The seeded dialogue (``conftest.seed_dialogue``) has four items (briefing,
working-group update, panel discussion, input collection), a moderator,
rapporteur and display link, ``participant0`` (Amina Okafor, in the room, an
NGO) and ``participant1`` (Jonas Lindqvist, online, academia), and a
moderator API token. Time passing is simulated by moving an intervention's
stored start back (``Queue.age``), or, where a figure must be exact, by
setting the command layer's clock by hand (``tests/command_clock.py``);
nothing sleeps.
"""
from __future__ import annotations

import datetime as dt

import pytest
from command_clock import CommandClock, command_clock
from concurrency import all_at_once
from conftest import make_app, run, seed_dialogue
from sqlalchemy import select

from moderation.core.auth import ANONYMOUS, SYSTEM, Principal
from moderation.core.commands import REGISTRY
from moderation.core.errors import CommandError
from moderation.features import load_features
from moderation.features.queue.order import split
from moderation.models import AgendaItem, Dialogue, SpeakerEntry, utcnow
from moderation.plugins.hookspecs import QueuePolicy, hookimpl

TIMER_SLACK = 2.0  # seconds a test may take between a command and the check


class Queue:
    """The seeded dialogue's queue, driven through the service."""

    def __init__(self, service, seeded):
        self.service = service
        self.seeded = seeded
        self.id = seeded["dialogue_id"]
        self.principals = dict(seeded["principals"])
        self.participant_ids = {f"participant{i}": pid for i, pid in enumerate(seeded["participant_ids"])}

    # -- commands -----------------------------------------------------------------------
    def principal(self, who) -> Principal:
        return self.principals[who] if isinstance(who, str) else who

    def do(self, command: str, who="moderator", /, **payload):
        return run(self.service, command, {"dialogue_id": self.id, **payload}, self.principal(who))

    def refused(self, code: str, command: str, who="moderator", /, **payload) -> CommandError:
        """The command fails with ``code`` and changes nothing, not even the version."""
        before = self.state()
        with pytest.raises(CommandError) as info:
            self.do(command, who, **payload)
        assert info.value.code == code, f"{command}: expected {code}, got {info.value.code}: {info.value}"
        assert self.state() == before, f"{command} was refused but changed something"
        return info.value

    def start(self, index: int = 2) -> int:
        item_id = self.seeded["item_ids"][index]
        self.do("agenda.start_item", item_id=item_id)
        return item_id

    def request(self, who: str, kind: str = "statement", note: str = "") -> int:
        return self.do("queue.request_floor", who, intervention_type=kind, note=note)["entry_id"]

    def walk_in(self, name: str, channel: str = "room", **extra) -> int:
        return self.do("queue.add_speaker", name=name, channel=channel, **extra)["entry_id"]

    def register(self, key: str, name: str, channel: str, category: str = "ngo",
                 organization: str | None = None) -> int:
        result = run(self.service, "participant.register", {
            "dialogue_id": self.id, "name": name, "channel": channel,
            "organization": {"name": organization or f"{name} Organization", "category": category}})
        self.principals[key] = Principal(credential_id=result["credential_id"])
        self.participant_ids[key] = result["participant_id"]
        return result["participant_id"]

    # -- reading ------------------------------------------------------------------------
    def snapshot(self, who="moderator") -> dict:
        return self.service.snapshot(self.principal(who), self.id)

    def queue(self, who="moderator") -> dict:
        return self.snapshot(who)["sections"]["queue"]

    def staff(self) -> dict:
        return self.snapshot()["sections"]["queue_staff"]

    def statistics(self) -> dict:
        return self.snapshot()["sections"]["statistics"]

    def waiting(self) -> list[int]:
        return [e["id"] for e in self.queue()["waiting"]]

    def proposed(self) -> int | None:
        return self.queue()["proposed_id"]

    def version(self) -> int:
        with self.service.db.session() as s:
            return s.get(Dialogue, self.id).version

    def entry(self, entry_id: int) -> SpeakerEntry:
        with self.service.db.session() as s:
            entry = s.get(SpeakerEntry, entry_id)
            s.expunge(entry)
            return entry

    def entries(self, status: str | None = None) -> list[SpeakerEntry]:
        with self.service.db.session() as s:
            query = select(SpeakerEntry).where(SpeakerEntry.dialogue_id == self.id).order_by(SpeakerEntry.id)
            if status is not None:
                query = query.where(SpeakerEntry.status == status)
            found = list(s.scalars(query))
            s.expunge_all()
            return found

    def state(self):
        """Everything a queue command may change, for "nothing changed"."""
        columns = [c.key for c in SpeakerEntry.__table__.columns]
        with self.service.db.session() as s:
            dialogue = s.get(Dialogue, self.id)
            rows = [tuple(getattr(e, c) for c in columns) for e in s.scalars(
                select(SpeakerEntry).where(SpeakerEntry.dialogue_id == self.id).order_by(SpeakerEntry.id))]
            items = [(i.id, i.status, i.queue_closed) for i in s.scalars(
                select(AgendaItem).where(AgendaItem.dialogue_id == self.id).order_by(AgendaItem.id))]
            settings = (dialogue.version, dialogue.queue_policies, dialogue.speaking_seconds,
                        dialogue.speaking_seconds_by_type, dialogue.warning_seconds,
                        dialogue.points_of_order_when_closed)
        return rows, items, settings

    def age(self, entry_id: int, seconds: float) -> None:
        """Pretend the intervention began ``seconds`` earlier."""
        delta = dt.timedelta(seconds=seconds)
        with self.service.db.sessions.begin() as s:
            entry = s.get(SpeakerEntry, entry_id)
            entry.started_at -= delta
            if entry.run_started_at is not None:
                entry.run_started_at -= delta


@pytest.fixture
def q(service, dialogue):
    return Queue(service, dialogue)


def seconds_between(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


# -- permissions -------------------------------------------------------------------------------
CHAIR_COMMANDS = ["queue.add_speaker", "queue.call_next", "queue.call_speaker", "queue.end_speaker",
                  "queue.pause_speaker", "queue.resume_speaker", "queue.adjust_speaker_time", "queue.reorder",
                  "queue.move_to_top", "queue.remove", "queue.readd_last", "queue.use_automatic_order",
                  "queue.close", "queue.reopen", "queue.configure", "queue.undo"]
PARTICIPANT_COMMANDS = ["queue.request_floor", "queue.withdraw_request"]


def test_every_queue_command_is_covered_here():
    load_features()
    assert {n for n in REGISTRY if n.startswith("queue.")} == set(CHAIR_COMMANDS) | set(PARTICIPANT_COMMANDS)


def chair_payloads(speaking: int, waiting: list[int]) -> dict[str, dict]:
    """A payload for each chair command that the moderator could run now."""
    return {
        "queue.add_speaker": {"name": "Walk-in", "channel": "room"},
        "queue.call_next": {"expected_entry_id": waiting[0]},
        "queue.call_speaker": {"entry_id": waiting[-1]},
        "queue.end_speaker": {"entry_id": speaking},
        "queue.pause_speaker": {},
        "queue.resume_speaker": {},
        "queue.adjust_speaker_time": {"seconds": 30},
        "queue.reorder": {"entry_ids": list(reversed(waiting))},
        "queue.move_to_top": {"entry_id": waiting[-1]},
        "queue.remove": {"entry_id": waiting[-1]},
        "queue.readd_last": {},
        "queue.use_automatic_order": {},
        "queue.close": {},
        "queue.reopen": {},
        "queue.configure": {"speaking_seconds": 120},
        "queue.undo": {"undo_id": 1},
    }


@pytest.mark.parametrize("who", ["participant0", "rapporteur", "display"])
def test_only_the_chair_runs_the_list(q, who):
    q.start()
    first = q.walk_in("First Speaker")
    q.do("queue.call_next")
    waiting = [q.request("participant0"), q.request("participant1"), q.walk_in("Third", "online")]
    payloads = chair_payloads(first, q.waiting())
    for name in CHAIR_COMMANDS:
        error = q.refused("forbidden", name, who, **payloads[name])
        assert "role" in error.message
    # The moderator may do every one of them (so the refusals above were about the role).
    q.do("queue.pause_speaker")
    q.do("queue.resume_speaker")
    q.do("queue.adjust_speaker_time", seconds=30)
    q.do("queue.reorder", entry_ids=list(reversed(q.waiting())))
    q.do("queue.move_to_top", entry_id=q.waiting()[-1])
    q.do("queue.use_automatic_order")
    q.do("queue.close")
    q.do("queue.reopen")
    q.do("queue.configure", speaking_seconds=120)
    q.do("queue.add_speaker", name="Walk-in", channel="room")
    q.do("queue.remove", entry_id=q.waiting()[-1])
    q.do("queue.call_speaker", entry_id=q.waiting()[-1])
    q.do("queue.call_next", expected_entry_id=q.proposed())
    q.do("queue.end_speaker")
    q.do("queue.readd_last")
    assert len(q.entries("done")) == 3 and len(q.entries("removed")) == 1
    assert set(waiting) & {e.id for e in q.entries("done")}


@pytest.mark.parametrize("who", ["moderator", "rapporteur", "display"])
def test_only_participants_ask_for_the_floor(q, who):
    q.start()
    mine = q.request("participant0")
    q.refused("forbidden", "queue.request_floor", who)
    q.refused("forbidden", "queue.withdraw_request", who, entry_id=mine)


def test_the_secretariat_may_run_the_list_too(q):
    q.start()
    entry = q.walk_in("Secretariat Walk-in")
    assert run(q.service, "queue.call_next", {"dialogue_id": q.id}, SYSTEM)["speaking_id"] == entry


def test_nobody_signed_in_may_do_anything(q):
    q.start()
    q.refused("unauthenticated", "queue.request_floor", ANONYMOUS)
    q.refused("unauthenticated", "queue.call_next", ANONYMOUS)


def test_a_revoked_participant_link_is_refused(q):
    q.start()
    credential_id = q.principals["participant0"].credential_id
    q.do("access.revoke", SYSTEM, credential_id=credential_id)
    q.refused("link_revoked", "queue.request_floor", "participant0")
    assert q.queue()["waiting"] == []


def test_a_participant_of_another_dialogue_is_refused(q, service):
    other = seed_dialogue(service)
    q.start()
    q.refused("forbidden", "queue.request_floor", other["principals"]["participant0"])


# -- asking for the floor ------------------------------------------------------------------------
def test_a_participant_asks_for_the_floor_from_their_device(q):
    item = q.start()
    entry_id = q.request("participant0", "question", note="On victim identification at borders")
    entry = q.entry(entry_id)
    assert (entry.agenda_item_id, entry.participant_id, entry.name, entry.organization, entry.category,
            entry.channel, entry.intervention_type, entry.status, entry.added_by) == (
        item, q.participant_ids["participant0"], "Amina Okafor", "Amina Okafor Organization", "ngo", "room",
        "question", "waiting", "participant")
    view = q.queue("participant0")["waiting"][0]
    assert view["type"] == "question" and view["type_label"] == "Question to the panel"
    assert view["position"] == 1 and view["participant_id"] == q.participant_ids["participant0"]
    # The note is for the chair's table, not for the room.
    assert "note" not in view
    assert q.staff()["entries"][str(entry_id)]["note"] == "On victim identification at borders"


@pytest.mark.parametrize("kind", ["statement", "question", "point_of_order", "reply"])
def test_every_intervention_type_can_be_requested(q, kind):
    q.start()
    entry_id = q.request("participant1", kind)
    assert q.entry(entry_id).intervention_type == kind


def test_bad_requests_are_refused(q):
    q.start()
    q.refused("invalid_payload", "queue.request_floor", "participant0", intervention_type="speech")
    q.refused("invalid_payload", "queue.request_floor", "participant0", note="x" * 201)
    q.refused("invalid_payload", "queue.request_floor", "participant0", channel="room")
    assert len(q.entry(q.request("participant0", note="y" * 200)).note) == 200


def test_the_channel_comes_from_the_registration_and_can_be_switched(q):
    q.start()
    first = q.request("participant1")
    assert q.entry(first).channel == "online"
    q.do("queue.withdraw_request", "participant1")
    q.do("participant.set_channel", "participant1", channel="room")
    assert q.entry(q.request("participant1")).channel == "room"


def test_one_open_request_per_participant_and_item(q):
    q.start()
    first = q.request("participant0")
    error = q.refused("conflict", "queue.request_floor", "participant0", intervention_type="question")
    assert "withdraw" in error.message
    q.do("queue.withdraw_request", "participant0")
    assert q.entry(first).status == "withdrawn" and q.entry(first).ended_at is not None
    second = q.request("participant0", "question")
    assert second != first and q.waiting() == [second]
    # Called: still an open request (the floor), so no second one ...
    q.do("queue.call_next", expected_entry_id=second)
    q.refused("conflict", "queue.request_floor", "participant0")
    q.refused("conflict", "queue.withdraw_request", "participant0", entry_id=second)
    # ... until the intervention is over.
    q.do("queue.end_speaker")
    third = q.request("participant0")
    assert q.waiting() == [third]


def test_the_open_request_is_per_item(q):
    q.start(1)
    q.request("participant0")
    q.do("agenda.advance")
    assert q.queue()["waiting"] == []
    q.request("participant0")


def test_withdrawing(q):
    q.start()
    mine = q.request("participant0")
    theirs = q.request("participant1")
    q.refused("forbidden", "queue.withdraw_request", "participant0", entry_id=theirs)
    q.refused("not_found", "queue.withdraw_request", "participant0", entry_id=999_999)
    q.do("queue.withdraw_request", "participant0", entry_id=mine)
    q.refused("conflict", "queue.withdraw_request", "participant0", entry_id=mine)
    q.refused("not_found", "queue.withdraw_request", "participant0")
    assert q.waiting() == [theirs]


def test_no_request_when_no_item_is_running(q):
    error = q.refused("conflict", "queue.request_floor", "participant0")
    assert "No agenda item is running" in error.message
    q.refused("conflict", "queue.add_speaker", name="Walk-in", channel="room")
    q.refused("conflict", "queue.call_next")
    q.start(3)
    q.do("agenda.end_item")
    q.refused("conflict", "queue.request_floor", "participant0")


def test_a_closed_list_takes_points_of_order_only(q):
    item = q.start()
    assert q.do("queue.close") == {"item_id": item, "closed": True}
    assert q.queue("participant0")["closed"] is True
    error = q.refused("conflict", "queue.request_floor", "participant0")
    assert "closed" in error.message and "Points of order are still possible" in error.message
    q.refused("conflict", "queue.request_floor", "participant0", intervention_type="question")
    point = q.request("participant0", "point_of_order")
    assert q.waiting() == [point]
    # The moderator can still add someone on their behalf.
    q.walk_in("Late Placard")
    q.do("queue.configure", points_of_order_when_closed=False)
    assert q.queue()["points_of_order_when_closed"] is False
    error = q.refused("conflict", "queue.request_floor", "participant1", intervention_type="point_of_order")
    assert "Points of order" not in error.message
    q.do("queue.reopen")
    assert q.queue()["closed"] is False
    q.request("participant1")


# -- the moderator adds speakers ------------------------------------------------------------------
def test_add_a_registered_participant(q):
    q.start()
    pid = q.participant_ids["participant1"]
    entry_id = q.do("queue.add_speaker", participant_id=pid, intervention_type="question")["entry_id"]
    entry = q.entry(entry_id)
    assert (entry.participant_id, entry.name, entry.organization, entry.category, entry.channel,
            entry.added_by, entry.intervention_type) == (
        pid, "Jonas Lindqvist", "Jonas Lindqvist Organization", "academia", "online", "moderator", "question")
    # One open request per person, whoever put it there.
    q.refused("conflict", "queue.request_floor", "participant1")
    q.refused("conflict", "queue.add_speaker", participant_id=pid)
    # A placard in the room for someone registered online: the moderator says where.
    room_id = q.do("queue.add_speaker", participant_id=q.participant_ids["participant0"],
                   channel="online")["entry_id"]
    assert q.entry(room_id).channel == "online"


def test_add_a_walk_in_by_name(q):
    q.start()
    entry_id = q.walk_in("Maria Schmidt", "room", organization="Permanent Mission of Austria",
                         category="state_party", intervention_type="reply", note="Reply to the panel")
    entry = q.entry(entry_id)
    assert (entry.participant_id, entry.name, entry.organization, entry.category, entry.channel,
            entry.intervention_type, entry.note, entry.added_by) == (
        None, "Maria Schmidt", "Permanent Mission of Austria", "state_party", "room", "reply",
        "Reply to the panel", "moderator")
    assert q.queue()["waiting"][0]["category_label"]


def test_add_speaker_refuses_bad_input(q, service):
    q.start()
    q.refused("invalid_payload", "queue.add_speaker", name="No Channel")
    q.refused("invalid_payload", "queue.add_speaker", channel="room")
    q.refused("invalid_payload", "queue.add_speaker", name="", channel="room")
    q.refused("invalid_payload", "queue.add_speaker", name="X", channel="stage")
    q.refused("not_found", "queue.add_speaker", participant_id=999_999)
    other = seed_dialogue(service)
    q.refused("not_found", "queue.add_speaker", participant_id=other["participant_ids"][0])


def test_a_typed_organization_is_recognised_for_first_time(q):
    """A walk-in typing the name of a registered organization counts as that
    organization (first time or not); walk-ins without an organization each
    stand for themselves."""
    q.start()
    q.request("participant0")
    q.do("queue.call_next")
    q.do("queue.end_speaker")
    same = q.walk_in("Colleague of Amina", organization="amina okafor organization")
    alone1 = q.walk_in("Person One")
    alone2 = q.walk_in("Person Two")
    assert q.entry(same).organization_key == q.entry(q.entries("done")[0].id).organization_key
    badges = q.staff()["entries"]
    assert badges[str(same)]["first_time"] is False and badges[str(same)]["previous_interventions"] == 1
    q.do("queue.call_speaker", entry_id=alone1)
    q.do("queue.end_speaker")
    # Person One has spoken; Person Two has not, though neither typed an organization.
    assert q.staff()["entries"][str(alone2)]["first_time"] is True


# -- calling speakers ---------------------------------------------------------------------------------
def test_call_next_follows_the_proposal(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    assert q.proposed() == a
    result = q.do("queue.call_next", expected_entry_id=a)
    assert result == {"speaking_id": a, "ended_id": None}
    current = q.queue()["current"]
    assert current["id"] == a and current["name"] == "Amina Okafor"
    assert q.waiting() == [b] and q.proposed() == b
    assert q.entry(a).status == "speaking"


def test_a_stale_call_next_changes_nothing(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    q.do("queue.call_next", expected_entry_id=a)
    error = q.refused("conflict", "queue.call_next", expected_entry_id=a)
    assert "Jonas Lindqvist is proposed now" in error.message
    assert q.entry(a).status == "speaking" and q.entry(b).status == "waiting"
    q.do("queue.call_next", expected_entry_id=b)
    q.refused("conflict", "queue.call_next")
    q.refused("conflict", "queue.call_next", expected_entry_id=b)


def test_call_speaker_picks_someone_else(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    c = q.walk_in("Third Person", "online")
    assert q.proposed() == a
    assert q.do("queue.call_speaker", entry_id=c)["speaking_id"] == c
    assert q.queue()["current"]["id"] == c
    assert a in q.waiting() and b in q.waiting()
    q.refused("conflict", "queue.call_speaker", entry_id=c)
    q.refused("not_found", "queue.call_speaker", entry_id=999_999)


def test_starting_the_next_speaker_ends_the_current_one(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    q.do("queue.call_next")
    q.age(a, 75)
    answer = q.do("queue.call_next")
    assert (answer["speaking_id"], answer["ended_id"], answer["undo"]["command"]) == (b, a, "queue.call_next")
    first, second = q.entry(a), q.entry(b)
    assert first.status == "done" and first.run_started_at is None
    assert first.ended_at == second.started_at
    assert first.elapsed_seconds == pytest.approx(seconds_between(first.ended_at, first.started_at), abs=0.01)
    assert 75 <= first.elapsed_seconds < 75 + TIMER_SLACK
    assert [e.id for e in q.entries("speaking")] == [b]


def test_requests_of_an_earlier_item_are_not_on_the_list(q):
    q.start(1)
    old = q.request("participant0")
    q.do("agenda.advance")
    q.refused("conflict", "queue.call_speaker", entry_id=old)
    q.refused("conflict", "queue.move_to_top", entry_id=old)
    q.refused("conflict", "queue.remove", entry_id=old)


def test_the_proposal_alternates_room_and_online_by_default(q):
    q.register("participant2", "Chen Wei", "room", "academia")
    q.register("participant3", "Sarah Mensah", "online", "private_sector")
    q.start()
    room1 = q.request("participant0")
    room2 = q.request("participant2")
    online1 = q.request("participant1")
    online2 = q.request("participant3")
    assert q.waiting() == [room1, online1, room2, online2]
    called = []
    for _ in range(4):
        proposed = q.proposed()
        called.append(q.do("queue.call_next", expected_entry_id=proposed)["speaking_id"])
    assert called == [room1, online1, room2, online2]


def test_points_of_order_and_first_time_organizations_come_first(q):
    q.register("participant2", "Colleague", "room", "ngo", organization="Amina Okafor Organization")
    q.start()
    q.request("participant0")
    q.do("queue.call_next")
    q.do("queue.end_speaker")
    colleague = q.request("participant2")       # their organization has spoken
    newcomer = q.request("participant1")         # first time
    point = q.walk_in("Chair of the Group", "room", intervention_type="point_of_order")
    assert q.waiting() == [point, newcomer, colleague]
    badges = q.staff()["entries"]
    assert badges[str(colleague)]["first_time"] is False
    assert badges[str(newcomer)]["first_time"] is True


def test_first_time_is_per_dialogue_not_per_item(q):
    """"First time" means first time in this dialogue: an organization that
    spoke on an earlier item is neither badged first-time nor put ahead of
    one that has never spoken, on the next item's list."""
    q.start(1)
    q.request("participant0")
    q.do("queue.call_next")
    q.do("queue.end_speaker")                  # Amina's organization spoke on item 1
    q.do("agenda.advance")
    q.do("queue.configure", policies=["first_time_first"])
    again = q.request("participant0")         # asked first ...
    newcomer = q.request("participant1")      # ... but Jonas's organization never spoke
    assert q.waiting() == [newcomer, again]
    badges = q.staff()["entries"]
    assert (badges[str(again)]["first_time"], badges[str(again)]["previous_interventions"]) == (False, 1)
    assert (badges[str(newcomer)]["first_time"], badges[str(newcomer)]["previous_interventions"]) == (True, 0)
    # On the floor, the item-1 intervention is still the previous one.
    q.do("queue.call_speaker", entry_id=again)
    badges = q.staff()["entries"]
    assert (badges[str(again)]["first_time"], badges[str(again)]["previous_interventions"]) == (False, 1)


# -- speaking time ----------------------------------------------------------------------------------
def test_default_speaking_time_is_three_minutes(q):
    q.start()
    a = q.request("participant0")
    q.do("queue.call_next")
    current = q.queue()["current"]
    assert current["allotted_seconds"] == 180 == q.entry(a).allotted_seconds
    assert current["ends_at"] == pytest.approx(current["run_started_at"] + 180_000, abs=1)
    assert q.queue()["warning_seconds"] == 30


def at_ms(local: str) -> int:
    """Epoch milliseconds of a local (Vienna) time on the dialogue's day."""
    return int(CommandClock.moment(local).timestamp() * 1000)


def test_pause_resume_and_add_time(q):
    """A pause stops the speaker's clock: the end moves by the pause's length
    and the pause is not speaking time. The command clock plays the minutes
    (tests/command_clock.py), so every figure is exact and nothing sleeps."""
    with command_clock("10:00:00") as clock:
        q.start()
        a = q.request("participant0")
        q.do("queue.call_next")                 # 10:00:00, 180 s: would end at 10:03:00
        clock.at("10:01:00")
        q.do("queue.pause_speaker")
        paused = q.entry(a)
        assert paused.run_started_at is None and paused.status == "speaking"
        assert paused.elapsed_seconds == 60
        assert q.queue()["current"]["ends_at"] is None
        q.refused("conflict", "queue.pause_speaker")
        clock.at("10:01:30")                    # the pause: 30 s
        q.do("queue.resume_speaker", entry_id=a)
        assert q.entry(a).elapsed_seconds == 60
        # The end moves by the length of the pause: 10:03:00 + 30 s.
        assert q.queue()["current"]["ends_at"] == at_ms("10:03:30")
        q.refused("conflict", "queue.resume_speaker")
        assert q.do("queue.adjust_speaker_time", seconds=45)["allotted_seconds"] == 225
        assert q.queue()["current"]["ends_at"] == at_ms("10:04:15")
        assert q.do("queue.adjust_speaker_time", seconds=-600)["allotted_seconds"] == 10
        q.refused("invalid_payload", "queue.adjust_speaker_time", seconds=601)
        clock.at("10:02:00")
        q.do("queue.end_speaker", entry_id=a)
    done = q.entry(a)
    # Two minutes on the floor, of which 30 s paused: 90 s of speaking time.
    assert seconds_between(done.ended_at, done.started_at) == 120
    assert done.elapsed_seconds == 90
    assert q.queue()["current"] is None


def test_overtime_runs_below_zero(q):
    q.start()
    a = q.request("participant0")
    q.request("participant1")
    q.do("queue.call_next")
    q.age(a, 200)
    view = q.queue()
    assert view["current"]["ends_at"] < int(utcnow().timestamp() * 1000) - 19_000
    # Nobody waits a negative time.
    assert view["waiting"][0]["estimated_wait_seconds"] == 0


def test_timer_commands_need_a_current_speaker(q):
    q.start()
    q.request("participant0")
    for name, payload in (("queue.end_speaker", {}), ("queue.pause_speaker", {}), ("queue.resume_speaker", {}),
                          ("queue.adjust_speaker_time", {"seconds": 30})):
        q.refused("conflict", name, **payload)
    speaking = q.do("queue.call_next")["speaking_id"]
    q.refused("conflict", "queue.end_speaker", entry_id=speaking + 1000)


def test_speaking_time_per_intervention_type(q):
    q.start()
    result = q.do("queue.configure", speaking_seconds=240, speaking_seconds_by_type={"question": 60, "reply": 90})
    assert result == {"policies": ["points_of_order_first", "first_time_first", "alternate_channel"]}
    section = q.queue()
    assert section["speaking_seconds"] == 240
    assert section["speaking_seconds_by_type"] == {"statement": 240, "question": 60, "point_of_order": 240,
                                                   "reply": 90}
    question = q.request("participant0", "question")
    statement = q.request("participant1")
    # Settings changed after the request apply when the person is called.
    q.do("queue.configure", speaking_seconds_by_type={"question": 45})
    q.do("queue.call_next", expected_entry_id=question)
    assert q.queue()["current"]["allotted_seconds"] == 45
    q.do("queue.call_next", expected_entry_id=statement)
    assert q.queue()["current"]["allotted_seconds"] == 240
    q.refused("invalid_payload", "queue.configure", speaking_seconds_by_type={"speech": 60})
    q.refused("invalid_payload", "queue.configure", speaking_seconds=5)


def test_configure_policies(q):
    q.start()
    q.register("participant2", "Chen Wei", "room", "academia")
    a = q.request("participant0")
    b = q.request("participant2")
    c = q.request("participant1")
    assert q.waiting() == [a, c, b]
    q.do("queue.configure", policies=["first_come_first_served"])
    assert q.queue()["policies"] == ["first_come_first_served"]
    assert q.waiting() == [a, b, c]
    error = q.refused("invalid_payload", "queue.configure", policies=["alternate_channel", "loudest_first"])
    assert "first_come_first_served" in error.details[0]["message"]
    q.refused("invalid_payload", "queue.configure", policies=["alternate_channel", "alternate_channel"])
    q.refused("forbidden", "queue.configure", "participant0", policies=[])
    q.do("queue.configure", policies=[])
    assert q.queue()["policies"] == ["points_of_order_first", "first_time_first", "alternate_channel"]
    offered = {p["name"] for p in q.staff()["available_policies"]}
    assert offered == {"points_of_order_first", "first_time_first", "alternate_channel",
                       "alternate_stakeholders", "first_come_first_served"}


def test_alternate_stakeholders_policy(q):
    q.start()
    q.do("queue.configure", policies=["alternate_stakeholders"])
    ngo1 = q.walk_in("NGO One", organization="NGO One", category="ngo")
    ngo2 = q.walk_in("NGO Two", organization="NGO Two", category="ngo_ecosoc")
    state = q.walk_in("Delegate", organization="Mission", category="state_party")
    assert q.waiting() == [ngo1, state, ngo2]


# -- the moderator changes the order ------------------------------------------------------------------
def test_reorder_by_hand_survives_new_requests(q):
    q.register("participant2", "Chen Wei", "room", "academia")
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    c = q.walk_in("Walk-in Online", "online")
    assert q.waiting() == [a, b, c]
    q.do("queue.reorder", entry_ids=[c, a, b])
    assert q.waiting() == [c, a, b] and q.queue()["manual_order"] is True
    assert q.staff()["entries"][str(c)]["manual"] is True
    # A newcomer in the room would come first by alternation after an online
    # entry; the manual order is kept and the newcomer goes after it.
    d = q.request("participant2")
    assert q.waiting() == [c, a, b, d]
    # A point of order still goes to the top.
    point = q.walk_in("Point of Order", "room", intervention_type="point_of_order")
    assert q.waiting() == [point, c, a, b, d]


def test_reorder_needs_exactly_the_waiting_requests(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    c = q.walk_in("Walk-in", "online")
    for wrong in ([a, b], [a, b, c, c], [a, b, c, 999_999], [a, a, b], []):
        error = q.refused("conflict", "queue.reorder", entry_ids=wrong)
        assert "nothing was changed" in error.message
    q.do("queue.call_next")
    q.refused("conflict", "queue.reorder", entry_ids=[a, b, c])


def test_move_to_top(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    c = q.walk_in("Walk-in", "online")
    q.do("queue.move_to_top", entry_id=c)
    assert q.waiting()[0] == c
    q.do("queue.move_to_top", entry_id=b)
    assert q.waiting()[:2] == [b, c]
    d = q.walk_in("Another", "room")
    assert q.waiting() == [b, c, a, d]
    assert q.proposed() == b
    q.do("queue.call_next", expected_entry_id=b)
    q.refused("conflict", "queue.move_to_top", entry_id=b)


def test_remove(q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    q.do("queue.remove", entry_id=a)
    assert q.waiting() == [b]
    removed = q.entry(a)
    assert removed.status == "removed" and removed.ended_at is not None and removed.started_at is None
    q.refused("conflict", "queue.remove", entry_id=a)
    q.refused("not_found", "queue.remove", entry_id=999_999)
    # Removed by the chair: the participant may ask again.
    q.request("participant0")


def test_readd_last_puts_the_last_speaker_back_at_the_top(q):
    q.start()
    q.refused("conflict", "queue.readd_last")
    a = q.request("participant0", "question", note="follow-up")
    b = q.request("participant1")
    c = q.walk_in("Walk-in", "room")
    q.do("queue.call_next", expected_entry_id=a)
    q.refused("conflict", "queue.readd_last")  # Amina has the floor
    q.do("queue.end_speaker")
    again = q.do("queue.readd_last")["entry_id"]
    assert q.waiting()[0] == again and set(q.waiting()[1:]) == {b, c}
    copy, original = q.entry(again), q.entry(a)
    assert (copy.participant_id, copy.name, copy.organization, copy.category, copy.channel,
            copy.intervention_type, copy.status, copy.added_by) == (
        original.participant_id, original.name, original.organization, original.category, original.channel,
        original.intervention_type, "waiting", "moderator")
    q.refused("conflict", "queue.readd_last")  # already on the list again
    assert q.do("queue.call_next")["speaking_id"] == again


def test_readd_last_twice_for_a_walk_in_adds_them_once(q):
    q.start()
    walk_in = q.walk_in("Placard Holder", "room", organization="Some NGO")
    q.request("participant1")
    q.do("queue.call_speaker", entry_id=walk_in)
    q.do("queue.end_speaker")
    again = q.do("queue.readd_last")["entry_id"]
    q.refused("conflict", "queue.readd_last")
    assert sum(1 for e in q.queue()["waiting"] if e["name"] == "Placard Holder") == 1
    assert q.waiting()[0] == again


def test_the_last_speaker_belongs_to_the_current_item(q):
    """The last speaker is the last one on this item (docs/protocol.md,
    ``queue.readd_last``): once the next item begins, nobody has spoken on
    it, so there is no one to put back and alternation starts with the side
    of the earliest request, whoever closed the item before."""
    q.start(1)
    closed_item_1 = q.request("participant0")         # in the room
    q.do("queue.call_next")
    q.do("queue.end_speaker")
    assert q.queue()["last_speaker_id"] == closed_item_1
    q.do("agenda.advance")
    q.do("queue.configure", policies=["alternate_channel"])
    assert q.queue()["last_speaker_id"] is None
    error = q.refused("conflict", "queue.readd_last")
    assert "No one has spoken on this item yet" in error.message
    # The room asked first and starts, although the room spoke last on item 1.
    room = q.walk_in("Placard in the Room", "room")
    online = q.request("participant1")
    assert q.waiting() == [room, online]
    q.do("queue.call_next", expected_entry_id=room)
    q.do("queue.end_speaker")
    assert q.queue()["last_speaker_id"] == room
    again = q.do("queue.readd_last")["entry_id"]
    assert q.entry(again).name == "Placard in the Room"


def test_use_automatic_order_drops_the_manual_placements(q):
    q.register("participant2", "Chen Wei", "room", "academia")
    q.start()
    a = q.request("participant0")
    c = q.request("participant2")
    b = q.request("participant1")
    automatic = q.waiting()
    assert automatic == [a, b, c]
    q.do("queue.reorder", entry_ids=[c, b, a])
    assert q.waiting() == [c, b, a]
    q.do("queue.use_automatic_order")
    assert q.waiting() == automatic and q.queue()["manual_order"] is False
    assert not any(badge["manual"] for badge in q.staff()["entries"].values())


# -- the agenda -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["advance", "end_item", "start_item"])
def test_ending_the_item_ends_the_current_speaker(q, how):
    item = q.start(1)
    a = q.request("participant0")
    waiting = q.request("participant1")
    q.do("queue.call_next")
    q.age(a, 30)
    if how == "start_item":
        q.do("agenda.start_item", item_id=q.seeded["item_ids"][3])
    else:
        q.do(f"agenda.{how}")
    entry = q.entry(a)
    assert entry.status == "done" and entry.ended_at is not None and entry.run_started_at is None
    assert 30 <= entry.elapsed_seconds < 30 + TIMER_SLACK
    assert q.queue()["current"] is None and q.queue()["waiting"] == []
    assert q.entry(waiting).status == "waiting" and q.entry(waiting).agenda_item_id == item
    assert q.statistics()["items"][str(item)]["interventions"] == 1


# -- positions and waits ------------------------------------------------------------------------------------
def test_positions_and_estimated_waits(q):
    q.register("participant2", "Chen Wei", "room", "academia")
    q.start()
    q.do("queue.configure", policies=["first_come_first_served"], speaking_seconds_by_type={"question": 60})
    current = q.walk_in("Current Speaker")
    q.do("queue.call_next")
    q.age(current, 50)
    a = q.request("participant0", "question")
    b = q.request("participant1")
    c = q.request("participant2", "reply")
    ends_at = q.entry(current).run_started_at + dt.timedelta(seconds=180)
    for who, entry_id, position in (("participant0", a, 1), ("participant1", b, 2), ("participant2", c, 3)):
        section = q.queue(who)
        me = q.snapshot(who)["sections"]["me"]["participant"]["id"]
        mine = next(e for e in section["waiting"] if e["participant_id"] == me)
        assert mine["id"] == entry_id and mine["position"] == position
    waits = [e["estimated_wait_seconds"] for e in q.queue("participant0")["waiting"]]
    remaining = seconds_between(ends_at, utcnow())
    assert 128 - TIMER_SLACK <= waits[0] <= 130 + 1
    assert waits[0] == pytest.approx(remaining, abs=TIMER_SLACK)
    assert waits[1] == waits[0] + 60     # after a question (60 s)
    assert waits[2] == waits[1] + 180    # after a statement (the default)
    # Without a current speaker, the first waits nothing.
    q.do("queue.end_speaker")
    waits = [e["estimated_wait_seconds"] for e in q.queue()["waiting"]]
    assert waits == [0, 60, 240]


def test_estimated_waits_learn_from_the_dialogue(q):
    """Once a few statements are over, the typical (median) length replaces
    the allotted time in the estimate."""
    q.start()
    q.do("queue.configure", policies=["first_come_first_served"])
    for seconds in (60, 90, 120):
        entry = q.walk_in(f"Earlier {seconds}")
        q.do("queue.call_speaker", entry_id=entry)
        q.age(entry, seconds)
        q.do("queue.end_speaker")
    q.request("participant0")
    q.request("participant1")
    waits = [e["estimated_wait_seconds"] for e in q.queue()["waiting"]]
    assert waits[0] == 0
    assert waits[1] == pytest.approx(90, abs=TIMER_SLACK)


def test_estimated_waits_use_the_median_not_the_mean(q):
    """Statements of 60, 60 and 300 s: the typical one lasts 60 s (the
    median); the mean, 140 s, would let one long speech lengthen every
    estimate. The command clock makes the lengths exact."""
    with command_clock("10:00:00") as clock:
        q.start()
        q.do("queue.configure", policies=["first_come_first_served"])
        for begins, ends in (("10:00:00", "10:01:00"), ("10:01:00", "10:02:00"), ("10:02:00", "10:07:00")):
            entry = q.walk_in(f"Earlier speaker until {ends}")
            clock.at(begins)
            q.do("queue.call_speaker", entry_id=entry)
            clock.at(ends)
            q.do("queue.end_speaker")
        assert sorted(e.elapsed_seconds for e in q.entries("done")) == [60, 60, 300]
        q.request("participant0")
        q.request("participant1")
        q.walk_in("Third in Line")
        waits = [e["estimated_wait_seconds"] for e in q.queue()["waiting"]]
    assert waits == [0, 60, 120]


# -- the record and statistics ---------------------------------------------------------------------------------
def test_every_intervention_is_recorded(q):
    item = q.start()
    a = q.request("participant0", "question", note="Borders")
    q.do("queue.call_next")
    q.age(a, 42)
    q.do("queue.end_speaker")
    entry = q.entry(a)
    assert entry.dialogue_id == q.id and entry.agenda_item_id == item
    assert entry.participant_id == q.participant_ids["participant0"]
    assert (entry.name, entry.organization, entry.category, entry.channel, entry.intervention_type,
            entry.note, entry.status) == ("Amina Okafor", "Amina Okafor Organization", "ngo", "room",
                                          "question", "Borders", "done")
    assert entry.requested_at is not None and entry.started_at < entry.ended_at
    assert 42 <= entry.elapsed_seconds < 42 + TIMER_SLACK
    assert entry.elapsed_seconds == pytest.approx(seconds_between(entry.ended_at, entry.started_at), abs=0.01)
    assert entry.allotted_seconds == 180


def test_statistics_by_channel_and_category(q):
    first = q.start(1)
    a = q.request("participant0")                              # room, ngo
    b = q.request("participant1", "question")                  # online, academia
    q.do("queue.call_next", expected_entry_id=a)
    q.age(a, 60)
    q.do("queue.call_next", expected_entry_id=b)
    q.age(b, 30)
    q.do("queue.end_speaker")
    withdrawn = q.request("participant0")
    q.do("queue.withdraw_request", "participant0", entry_id=withdrawn)
    second = q.do("agenda.advance")["current_item_id"]
    c = q.walk_in("Delegate", "room", organization="Mission", category="state_party")
    q.do("queue.call_next", expected_entry_id=c)
    q.age(c, 45)
    d = q.walk_in("Still Speaking", "online")
    q.do("queue.call_next", expected_entry_id=d)   # c is done; d is speaking and not counted yet
    stats = q.statistics()
    total = stats["dialogue"]
    assert total["interventions"] == 3
    assert total["seconds"] == pytest.approx(135, abs=2 * TIMER_SLACK)
    assert {k: v["interventions"] for k, v in total["by_channel"].items()} == {"room": 2, "online": 1}
    assert total["by_channel"]["room"]["seconds"] == pytest.approx(105, abs=TIMER_SLACK)
    assert total["by_channel"]["online"]["seconds"] == pytest.approx(30, abs=TIMER_SLACK)
    assert {k: v["interventions"] for k, v in total["by_category"].items()} == {
        "ngo": 1, "academia": 1, "state_party": 1}
    assert total["by_category"]["state_party"]["seconds"] == pytest.approx(45, abs=TIMER_SLACK)
    assert {k: v["interventions"] for k, v in total["by_type"].items()} == {"statement": 2, "question": 1}
    items = stats["items"]
    assert set(items) == {str(first), str(second)}
    assert items[str(first)]["interventions"] == 2
    assert {k: v["interventions"] for k, v in items[str(first)]["by_channel"].items()} == {"room": 1, "online": 1}
    assert items[str(second)]["interventions"] == 1
    assert items[str(second)]["by_category"] == {"state_party": {"interventions": 1,
                                                                  "seconds": items[str(second)]["seconds"]}}
    q.do("queue.end_speaker")
    assert q.statistics()["dialogue"]["interventions"] == 4


def test_sections_by_role(q):
    q.start()
    q.request("participant0", note="private note")
    for who in ("participant0", "display"):
        sections = q.snapshot(who)["sections"]
        assert "queue" in sections and "queue_staff" not in sections and "statistics" not in sections
        assert "private note" not in repr(sections["queue"])
    for who in ("moderator", "rapporteur"):
        sections = q.snapshot(who)["sections"]
        assert {"queue", "queue_staff", "statistics"} <= set(sections)


# -- the JSON API ----------------------------------------------------------------------------------------------
def test_the_json_api_reads_the_queue_and_the_statistics(app, q):
    q.start()
    a = q.request("participant0", note="for the chair")
    q.request("participant1")
    moderator = {"Authorization": f"Bearer {q.seeded['tokens']['api_moderator']}"}
    http = app.test_client()
    response = http.get(f"/api/v1/dialogues/{q.id}/queue", headers=moderator)
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == q.version()
    assert [e["id"] for e in body["queue"]["waiting"]] == q.waiting()
    assert body["details"]["entries"][str(a)]["note"] == "for the chair"
    response = http.get(f"/api/v1/dialogues/{q.id}/statistics", headers=moderator)
    assert response.status_code == 200 and response.get_json()["statistics"]["dialogue"]["interventions"] == 0

    participant = app.test_client()
    assert participant.get(f"/l/{q.seeded['tokens']['participant0']}").status_code == 302
    response = participant.get(f"/api/v1/dialogues/{q.id}/queue")
    assert response.status_code == 200
    body = response.get_json()
    assert body["details"] is None and "for the chair" not in response.get_data(as_text=True)
    assert body["queue"]["waiting"][0]["participant_id"] == q.participant_ids["participant0"]
    response = participant.get(f"/api/v1/dialogues/{q.id}/statistics")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    # Asking for a staff role one does not hold does not help.
    assert participant.get(f"/api/v1/dialogues/{q.id}/queue?role=moderator").status_code == 403
    assert app.test_client().get(f"/api/v1/dialogues/{q.id}/queue").status_code == 401


def test_the_json_api_calls_the_next_speaker(app, q):
    q.start()
    a = q.request("participant0")
    b = q.request("participant1")
    moderator = {"Authorization": f"Bearer {q.seeded['tokens']['api_moderator']}"}
    http = app.test_client()
    response = http.post(f"/api/v1/dialogues/{q.id}/queue/next", json={"expected_entry_id": a}, headers=moderator)
    assert response.status_code == 200 and response.get_json()["result"]["speaking_id"] == a
    version = q.version()
    response = http.post(f"/api/v1/dialogues/{q.id}/queue/next", json={"expected_entry_id": a}, headers=moderator)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert q.version() == version and q.entry(b).status == "waiting"


def test_a_retried_request_is_not_a_second_request(q):
    q.start()
    payload = {"dialogue_id": q.id, "intervention_type": "statement"}
    first = q.service.dispatch(q.principals["participant0"], "queue.request_floor", payload, "retry-key-0001")
    again = q.service.dispatch(q.principals["participant0"], "queue.request_floor", payload, "retry-key-0001")
    assert again.replayed and again.result == first.result
    assert len(q.queue()["waiting"]) == 1


# -- a third-party policy through the plugin manager ---------------------------------------------------------
class QuestionsFirstPlugin:
    POLICY = QueuePolicy("questions_first", "Questions to the panel first", "Questions come before statements.",
                         lambda entries, before, context, rest: split(
                             entries, lambda c: c.intervention_type == "question", before, rest))

    @hookimpl
    def queue_policies(self):
        return [self.POLICY]


def test_a_plugin_policy_can_be_chosen(tmp_path, database_url):
    app = make_app(tmp_path / "plugin", database_url, PLUGIN_OBJECTS=[QuestionsFirstPlugin()])
    try:
        service = app.extensions["moderation"]
        q = Queue(service, seed_dialogue(service))
        q.register("participant2", "Chen Wei", "room", "academia")
        q.start()
        a = q.request("participant0")
        b = q.request("participant2")
        c = q.request("participant1", "question")
        q.do("queue.configure", policies=["questions_first", "alternate_channel"])
        assert q.waiting() == [c, a, b]
        assert "questions_first" in {p["name"] for p in q.staff()["available_policies"]}
    finally:
        app.extensions["db"].dispose()


# -- races ------------------------------------------------------------------------------------------------------
RACE_ROUNDS = 20


def press_together(calls) -> list[tuple[str, object]]:
    """Run the calls in threads released at the same instant (with a
    deadline: ``concurrency.all_at_once``); return ("ok", result) or
    ("error", code) for each, in call order."""
    results = []
    for outcome in all_at_once(calls, timeout=60):
        if isinstance(outcome, CommandError):
            results.append(("error", outcome.code))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(("ok", outcome))
    return results


def second_moderator(q: Queue) -> Principal:
    return Principal(credential_id=q.do("access.issue_link", SYSTEM, role="moderator",
                                        label="co-chair")["credential_id"])


def race(q: Queue, services, principals, with_expected: bool) -> None:
    """RACE_ROUNDS rounds of two moderators pressing "next" at once."""
    q.start()
    for round_ in range(RACE_ROUNDS):
        for n in range(3):
            q.walk_in(f"Speaker {round_}-{n}", "room" if n % 2 else "online")
        proposed = q.proposed()
        payload = {"dialogue_id": q.id}
        if with_expected:
            payload["expected_entry_id"] = proposed
        results = press_together([
            lambda s=s, p=p, payload=payload: s.dispatch(p, "queue.call_next", dict(payload)).result
            for s, p in zip(services, principals, strict=False)])
        speaking = q.entries("speaking")
        assert len(speaking) == 1, f"round {round_}: {len(speaking)} speakers at once"
        oks = [value for status, value in results if status == "ok"]
        if with_expected:
            assert len(oks) == 1, f"round {round_}: {results}"
            assert sorted(status for status, _ in results) == ["error", "ok"]
            assert [value for status, value in results if status == "error"] == ["conflict"]
            assert oks[0]["speaking_id"] == proposed == speaking[0].id
        else:
            assert len(oks) == 2, f"round {round_}: {results}"
            first, second = oks if oks[1]["ended_id"] == oks[0]["speaking_id"] else oks[::-1]
            assert first["ended_id"] is None
            assert first["speaking_id"] != second["speaking_id"]
            assert second["ended_id"] == first["speaking_id"], f"round {round_}: {results}"
            assert speaking[0].id == second["speaking_id"] and first["speaking_id"] == proposed
            assert q.entry(first["speaking_id"]).status == "done"
        q.do("queue.end_speaker")
        for entry_id in q.waiting():
            q.do("queue.remove", entry_id=entry_id)
    done = q.entries("done")
    assert len(done) == RACE_ROUNDS * (1 if with_expected else 2)


@pytest.mark.parametrize("with_expected", [True, False], ids=["expected_entry_id", "no_expected_entry_id"])
def test_two_moderators_press_next_at_once(q, with_expected):
    race(q, [q.service, q.service], [q.principals["moderator"], second_moderator(q)], with_expected)


@pytest.mark.parametrize("with_expected", [True, False], ids=["expected_entry_id", "no_expected_entry_id"])
def test_two_server_processes_press_next_at_once(q, tmp_path, database_url, with_expected):
    """As above, but through two apps on the same database (two server
    processes): only the database's lock keeps them apart."""
    other = make_app(tmp_path / "second-process", database_url)
    try:
        race(q, [q.service, other.extensions["moderation"]], [q.principals["moderator"], second_moderator(q)],
             with_expected)
    finally:
        other.extensions["db"].dispose()


def test_switching_channel_moves_the_waiting_request_and_refreshes_the_queue(service, dialogue):
    """Alternation reads each request's channel: a participant who moves from
    the room to online while waiting must be counted online."""
    d, p = dialogue["dialogue_id"], dialogue["principals"]
    run(service, "agenda.advance", {"dialogue_id": d}, p["moderator"])
    run(service, "queue.request_floor", {"dialogue_id": d}, p["participant0"])  # in the room
    outcome = service.dispatch(p["participant0"], "participant.set_channel", {"dialogue_id": d, "channel": "online"})
    assert {"queue", "queue_staff"} <= outcome.touched
    waiting = service.snapshot(p["moderator"], d)["sections"]["queue"]["waiting"]
    assert [w["channel"] for w in waiting] == ["online"]
