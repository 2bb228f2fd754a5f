"""Undo of the console's disruptive commands (``moderation/features/queue/undo.py``).

A stray "next item" or "end speaker" while someone has the floor or people
wait answers with ``undo``; ``agenda.undo`` / ``queue.undo`` within ten
seconds puts back exactly what was: the speaker with the time they had left,
the waiting list in its order, the item's state and its list open or closed.
Time is the command layer's clock set by hand (``tests/command_clock.py``).
"""
from __future__ import annotations

import pytest
from command_clock import command_clock
from sqlalchemy import select
from test_queue import Queue

from moderation.models import AuditEntry


@pytest.fixture
def q(service, dialogue):
    return Queue(service, dialogue)


def _busy_item(q: Queue, clock) -> dict:
    """Item 3 runs; Amina speaks since 10:00:00 (180 s allotted), three wait."""
    q.start(2)
    q.request("participant0")
    q.do("queue.call_next")
    q.request("participant1")
    q.walk_in("Walk In One")
    q.walk_in("Walk In Two", channel="online")
    clock.at("10:01:00")  # Amina has 120 s left
    return {"speaker": q.queue()["current"]["id"], "waiting": q.waiting()}


def _timeless(queue: dict) -> dict:
    """The queue section without what moves with the clock."""
    current = dict(queue["current"] or {})
    for key in ("run_started_at", "ends_at", "elapsed_seconds"):
        current.pop(key, None)
    return {**queue, "current": current,
            "waiting": [{k: v for k, v in e.items() if k != "estimated_wait_seconds"} for e in queue["waiting"]]}


def test_undo_of_next_item_restores_speaker_time_left_and_list_order(q):
    with command_clock() as clock:
        before = _busy_item(q, clock)
        queue_before = q.queue()
        item = q.snapshot()["sections"]["agenda"]["current_item_id"]
        answer = q.do("agenda.advance", from_item_id=item)
        assert answer["undo"]["command"] == "agenda.advance"
        assert q.queue()["current"] is None and q.waiting() == []
        clock.at("10:01:05")
        version = q.version()
        result = q.do("agenda.undo", undo_id=answer["undo"]["id"])
        assert result["undone"] == "agenda.advance"
        assert q.version() == version + 1
        assert q.snapshot()["sections"]["agenda"]["current_item_id"] == item
        after = q.queue()
        assert after["current"]["id"] == before["speaker"]
        assert q.waiting() == before["waiting"]
        assert _timeless(after) == _timeless(queue_before)
        # The clock runs again from the undo with the 120 s that were left.
        assert after["current"]["elapsed_seconds"] == 60
        assert after["current"]["ends_at"] == int((clock.now.timestamp() + 120) * 1000)
        with q.service.db.session() as s:
            audit = s.scalars(select(AuditEntry).where(AuditEntry.dialogue_id == q.id)
                              .order_by(AuditEntry.id.desc())).first()
            assert (audit.command, audit.version) == ("agenda.undo", version + 1)
            assert audit.payload["undo_id"] == answer["undo"]["id"]


def test_undo_of_end_speaker_and_remove_and_close(q):
    with command_clock() as clock:
        before = _busy_item(q, clock)
        order = q.waiting()
        ended = q.do("queue.end_speaker")
        q.do("queue.undo", undo_id=ended["undo"]["id"])
        assert q.queue()["current"]["id"] == before["speaker"]
        assert q.queue()["current"]["elapsed_seconds"] == 60
        removed = q.do("queue.remove", entry_id=order[1])
        assert q.waiting() == [order[0], order[2]]
        q.do("queue.undo", undo_id=removed["undo"]["id"])
        assert q.waiting() == order
        closed = q.do("queue.close")
        assert q.queue()["closed"]
        q.do("queue.undo", undo_id=closed["undo"]["id"])
        assert not q.queue()["closed"]


def test_nothing_to_lose_offers_no_undo(q):
    q.start(2)
    assert "undo" not in q.do("queue.close")
    assert "undo" not in q.do("agenda.advance")


def test_undo_is_refused_after_another_change_twice_late_or_by_others(q):
    with command_clock() as clock:
        _busy_item(q, clock)
        ended = q.do("queue.end_speaker")
        undo_id = ended["undo"]["id"]
        # Not for a participant, nor through the other family.
        q.refused("forbidden", "queue.undo", "participant0", undo_id=undo_id)
        q.refused("not_found", "agenda.undo", undo_id=undo_id)
        # A second console acted meanwhile: the undo would overwrite what it did.
        q.do("queue.call_next")
        error = q.refused("conflict", "queue.undo", undo_id=undo_id)
        assert "changed" in error.message

        removed = q.do("queue.remove", entry_id=q.waiting()[0])
        q.do("queue.undo", undo_id=removed["undo"]["id"])
        assert "undone already" in q.refused("conflict", "queue.undo", undo_id=removed["undo"]["id"]).message

        removed = q.do("queue.remove", entry_id=q.waiting()[0])
        clock.at("10:01:11")
        assert "Too late" in q.refused("conflict", "queue.undo", undo_id=removed["undo"]["id"]).message


def test_undo_of_next_item_shows_the_pinned_input_again(q):
    """Ending the item unpinned the input on the display; undoing puts it back,
    unless another input was pinned since."""
    with command_clock() as clock:
        _busy_item(q, clock)
        item = q.snapshot()["sections"]["agenda"]["current_item_id"]
        submitted = q.do("inputs.submit", "participant1", kind="comment", text="Shelters need funding too.")
        q.do("inputs.moderate", input_id=submitted["input_id"], action="approve")
        q.do("inputs.pin", input_id=submitted["input_id"])
        answer = q.do("agenda.advance", from_item_id=item)
        assert q.snapshot()["sections"]["pinned"] is None
        q.do("agenda.undo", undo_id=answer["undo"]["id"])
        assert q.snapshot()["sections"]["pinned"]["id"] == submitted["input_id"]


@pytest.mark.parametrize("command", ["queue.call_next", "queue.call_speaker"])
def test_undo_of_giving_the_floor_gives_the_cut_speaker_their_time_back(q, command):
    """S (or "Give the floor" on a row) while someone speaks ends that
    speaker: the answer offers undo, which puts both back as they were."""
    with command_clock() as clock:
        before = _busy_item(q, clock)
        queue_before = q.queue()
        target = before["waiting"][1] if command == "queue.call_speaker" else before["waiting"][0]
        payload = {"entry_id": target} if command == "queue.call_speaker" else {}
        answer = q.do(command, **payload)
        assert q.queue()["current"]["id"] == target
        clock.at("10:01:04")
        q.do("queue.undo", undo_id=answer["undo"]["id"])
        after = q.queue()
        assert after["current"]["id"] == before["speaker"] and after["current"]["elapsed_seconds"] == 60
        assert q.waiting() == before["waiting"]
        assert _timeless(after) == _timeless(queue_before)


def test_giving_the_floor_with_nobody_speaking_offers_no_undo(q):
    q.start(2)
    q.request("participant0")
    assert "undo" not in q.do("queue.call_next")
