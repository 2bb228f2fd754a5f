"""The agenda and the dialogue commands, without a server: running the agenda
(start, pause, resume, end, advance, adjust time), its timer arithmetic,
editing it, and creating and updating dialogues. Command tests run on SQLite
and PostgreSQL; the timer arithmetic is also checked as pure functions, with
hypothesis driving random sequences."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from conftest import run, seed_dialogue
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_command_layer import audit_entries, committed, refused, version_of

from moderation.core.auth import SYSTEM
from moderation.features.agenda import commands as agenda
from moderation.models import AgendaItem, AuditEntry, Dialogue, ItemStatus

UTC = dt.UTC


# -- reading the database -------------------------------------------------------------
def items(service, dialogue_id: int) -> list:
    table = AgendaItem.__table__
    with service.db.session() as s:
        return list(s.execute(select(table).where(table.c.dialogue_id == dialogue_id)
                              .order_by(table.c.position)))


def item(service, item_id: int):
    table = AgendaItem.__table__
    with service.db.session() as s:
        return s.execute(select(table).where(table.c.id == item_id)).one()


def last_audit_time(service, dialogue_id: int, command: str) -> dt.datetime:
    """``created_at`` of the command's audit entry: the ``now`` its handler used."""
    return [e.created_at for e in audit_entries(service, dialogue_id) if e.command == command][-1]


def dialogue_row(service, dialogue_id: int):
    with service.db.session() as s:
        return s.execute(select(Dialogue.__table__).where(Dialogue.__table__.c.id == dialogue_id)).one()


def snapshot(service, dialogue_id: int, role: str = "secretariat"):
    return service.snapshot(SYSTEM, dialogue_id, role)


# -- running the agenda ----------------------------------------------------------------
def test_start_pause_resume_end_keep_an_exact_timer(service, dialogue):
    did, moderator = dialogue["dialogue_id"], dialogue["principals"]["moderator"]
    first = dialogue["item_ids"][0]
    planned = item(service, first).planned_seconds

    committed(service, "agenda.start_item", {"dialogue_id": did, "item_id": first}, moderator)
    started = last_audit_time(service, did, "agenda.start_item")
    row = item(service, first)
    assert (row.status, row.started_at, row.run_started_at, row.elapsed_seconds) == ("running", started, started, 0)
    view = snapshot(service, did)["sections"]["agenda"]
    assert view["current_item_id"] == first
    assert view["items"][0]["ends_at"] == agenda.ms(started + dt.timedelta(seconds=planned))

    committed(service, "agenda.pause_item", {"dialogue_id": did}, moderator)
    paused = last_audit_time(service, did, "agenda.pause_item")
    row = item(service, first)
    assert (row.status, row.run_started_at) == ("paused", None)
    assert row.elapsed_seconds == pytest.approx((paused - started).total_seconds(), abs=1e-6)
    view = snapshot(service, did)["sections"]["agenda"]
    assert view["current_item_id"] == first and view["items"][0]["ends_at"] is None

    committed(service, "agenda.resume_item", {"dialogue_id": did, "item_id": first}, moderator)
    resumed = last_audit_time(service, did, "agenda.resume_item")
    row = item(service, first)
    assert (row.status, row.run_started_at, row.started_at) == ("running", resumed, started)
    assert row.elapsed_seconds == pytest.approx((paused - started).total_seconds(), abs=1e-6)
    # The countdown resumes where it stopped: the pause does not count.
    ends = snapshot(service, did)["sections"]["agenda"]["items"][0]["ends_at"]
    expected = resumed + dt.timedelta(seconds=planned - (paused - started).total_seconds())
    assert abs(ends - agenda.ms(expected)) <= 1

    committed(service, "agenda.end_item", {"dialogue_id": did}, moderator)
    ended = last_audit_time(service, did, "agenda.end_item")
    row = item(service, first)
    assert (row.status, row.run_started_at, row.ended_at) == ("done", None, ended)
    running = (paused - started) + (ended - resumed)
    assert row.elapsed_seconds == pytest.approx(running.total_seconds(), abs=1e-6)
    view = snapshot(service, did)["sections"]["agenda"]
    assert view["current_item_id"] is None and view["items"][0]["status"] == "done"


def test_starting_an_item_ends_the_current_one(service, dialogue):
    did, (first, second, third, _) = dialogue["dialogue_id"], dialogue["item_ids"]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    outcome = committed(service, "agenda.start_item", {"dialogue_id": did, "item_id": third})
    assert outcome.result == {"current_item_id": third}
    statuses = [(r.id, r.status) for r in items(service, did)]
    assert statuses == [(first, "done"), (second, "pending"), (third, "running"), (dialogue["item_ids"][3], "pending")]
    # Reopening a finished item keeps its first start and its elapsed time.
    before = item(service, first)
    committed(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    after = item(service, first)
    assert after.status == "running" and after.started_at == before.started_at and after.ended_at is None
    assert after.elapsed_seconds == before.elapsed_seconds
    assert item(service, third).status == "done"


def test_starting_the_current_item_again_is_a_conflict(service, dialogue):
    did, first = dialogue["dialogue_id"], dialogue["item_ids"][0]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    refused(service, "agenda.start_item", {"dialogue_id": did, "item_id": first}, code="conflict")


def test_pause_resume_end_refuse_the_wrong_state(service, dialogue):
    did, (first, second) = dialogue["dialogue_id"], dialogue["item_ids"][:2]
    moderator = dialogue["principals"]["moderator"]
    # Nothing is current yet.
    for name in ("agenda.pause_item", "agenda.resume_item", "agenda.end_item"):
        refused(service, name, {"dialogue_id": did}, moderator, code="conflict")
    refused(service, "agenda.adjust_time", {"dialogue_id": did, "seconds": 60}, moderator, code="conflict")
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    refused(service, "agenda.resume_item", {"dialogue_id": did}, moderator, code="conflict")      # running
    refused(service, "agenda.pause_item", {"dialogue_id": did, "item_id": second}, moderator, code="conflict")
    refused(service, "agenda.end_item", {"dialogue_id": did, "item_id": second}, moderator, code="conflict")
    run(service, "agenda.pause_item", {"dialogue_id": did})
    refused(service, "agenda.pause_item", {"dialogue_id": did}, moderator, code="conflict")       # paused
    refused(service, "agenda.start_item", {"dialogue_id": did, "item_id": 999999}, moderator, code="not_found")


def test_a_paused_item_can_be_ended_and_keeps_its_elapsed_time(service, dialogue):
    did, first = dialogue["dialogue_id"], dialogue["item_ids"][0]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    run(service, "agenda.pause_item", {"dialogue_id": did})
    elapsed = item(service, first).elapsed_seconds
    committed(service, "agenda.end_item", {"dialogue_id": did, "item_id": first})
    row = item(service, first)
    assert row.status == "done" and row.elapsed_seconds == elapsed


def test_advance_walks_through_the_agenda_and_stops_at_the_end(service, dialogue):
    did, ids = dialogue["dialogue_id"], dialogue["item_ids"]
    moderator = dialogue["principals"]["moderator"]
    current = None
    for expected in ids:
        outcome = committed(service, "agenda.advance", {"dialogue_id": did, "from_item_id": current}, moderator)
        assert outcome.result == {"current_item_id": expected}
        if current is not None:
            assert item(service, current).status == "done"
        assert item(service, expected).status == "running"
        current = expected
    # Advancing past the last item ends it and leaves nothing current.
    outcome = committed(service, "agenda.advance", {"dialogue_id": did, "from_item_id": current}, moderator)
    assert outcome.result == {"current_item_id": None}
    assert [r.status for r in items(service, did)] == ["done"] * 4
    refused(service, "agenda.advance", {"dialogue_id": did}, moderator, code="conflict")


def test_advance_from_a_stale_item_is_a_conflict_and_changes_nothing(service, dialogue):
    did, (first, second, third) = dialogue["dialogue_id"], dialogue["item_ids"][:3]
    moderator = dialogue["principals"]["moderator"]
    run(service, "agenda.advance", {"dialogue_id": did})
    run(service, "agenda.advance", {"dialogue_id": did, "from_item_id": first})
    version = version_of(service, did)
    # A second moderator still sees the first item and presses "next".
    error = refused(service, "agenda.advance", {"dialogue_id": did, "from_item_id": first}, moderator,
                    code="conflict")
    assert error.status == 409
    assert version_of(service, did) == version
    assert item(service, second).status == "running" and item(service, third).status == "pending"
    # Before anything started, naming an item is stale too.
    other = seed_dialogue(service, items=(("generic", 5), ("generic", 5)), participants=())
    refused(service, "agenda.advance", {"dialogue_id": other["dialogue_id"], "from_item_id": other["item_ids"][0]},
            code="conflict")


def test_advance_skips_finished_items(service, dialogue):
    did, (first, second, third, fourth) = dialogue["dialogue_id"], dialogue["item_ids"]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": third})
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})   # back to the first
    assert run(service, "agenda.advance", {"dialogue_id": did})["current_item_id"] == second
    assert run(service, "agenda.advance", {"dialogue_id": did})["current_item_id"] == fourth


def test_adjust_time_changes_the_planned_duration_of_the_current_item(service, dialogue):
    did, first = dialogue["dialogue_id"], dialogue["item_ids"][0]
    moderator = dialogue["principals"]["moderator"]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    planned = item(service, first).planned_seconds
    outcome = committed(service, "agenda.adjust_time", {"dialogue_id": did, "seconds": 300}, moderator)
    assert outcome.result == {"item_id": first, "planned_seconds": planned + 300}
    ends_before = agenda.ms(item(service, first).run_started_at + dt.timedelta(seconds=planned))
    view = snapshot(service, did)["sections"]["agenda"]["items"][0]
    assert view["planned_seconds"] == planned + 300 and view["ends_at"] == ends_before + 300_000
    committed(service, "agenda.adjust_time", {"dialogue_id": did, "item_id": first, "seconds": -120}, moderator)
    assert item(service, first).planned_seconds == planned + 180
    # Never below one minute.
    run(service, "agenda.adjust_time", {"dialogue_id": did, "seconds": -3600})
    assert item(service, first).planned_seconds == 60
    # Also while paused.
    run(service, "agenda.pause_item", {"dialogue_id": did})
    committed(service, "agenda.adjust_time", {"dialogue_id": did, "seconds": 60})
    assert item(service, first).planned_seconds == 120
    for seconds in (3601, -3601, "60", 1.5):
        refused(service, "agenda.adjust_time", {"dialogue_id": did, "seconds": seconds}, code="invalid_payload")
    refused(service, "agenda.adjust_time", {"dialogue_id": did, "item_id": dialogue["item_ids"][1], "seconds": 60},
            code="conflict")


def test_an_overrunning_item_reports_negative_remaining_time(service, dialogue):
    """An item that has run past its planned time: ``ends_at`` lies in the
    past (screens show overtime) and the estimated end is now plus what is
    still to come."""
    did, first = dialogue["dialogue_id"], dialogue["item_ids"][0]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    with service.db.sessions.begin() as s:
        row = s.get(AgendaItem, first)
        row.run_started_at = row.run_started_at - dt.timedelta(seconds=row.planned_seconds + 90)
    snap = snapshot(service, did)
    view = snap["sections"]["agenda"]
    assert view["items"][0]["ends_at"] < snap["server_time"] - 89_000
    pending = sum(i["planned_seconds"] for i in view["items"][1:])
    assert abs(view["estimated_end"] - (snap["server_time"] + pending * 1000)) <= 1


# -- editing the agenda --------------------------------------------------------------------
def test_add_item_defaults_and_positions(service, dialogue):
    did, ids = dialogue["dialogue_id"], dialogue["item_ids"]
    outcome = committed(service, "agenda.add_item", {"dialogue_id": did, "item_type": "panel_discussion"})
    new = outcome.result["item_id"]
    row = item(service, new)
    assert (row.title, row.planned_seconds, row.status, row.position) == ("Panel discussion", 3600, "pending", 4)
    first = committed(service, "agenda.add_item", {"dialogue_id": did, "title": "Opening", "planned_minutes": 5,
                                                   "description": "Welcome", "position": 0}).result["item_id"]
    far = committed(service, "agenda.add_item", {"dialogue_id": did, "position": 99}).result["item_id"]
    rows = items(service, did)
    assert [r.id for r in rows] == [first, *ids, new, far]
    assert [r.position for r in rows] == list(range(7))
    assert (rows[0].title, rows[0].planned_seconds, rows[0].description, rows[0].item_type) == \
        ("Opening", 300, "Welcome", "generic")


def test_add_item_refuses_bad_input(service, dialogue):
    did = dialogue["dialogue_id"]
    error = refused(service, "agenda.add_item", {"dialogue_id": did, "item_type": "karaoke"}, code="invalid_payload")
    assert error.details[0]["field"] == "item_type"
    for bad in ({"planned_minutes": 0}, {"planned_minutes": 601}, {"title": ""}, {"title": "x" * 301},
                {"position": -1}, {"description": "x" * 2001}, {"colour": "red"}):
        refused(service, "agenda.add_item", {"dialogue_id": did, **bad}, code="invalid_payload")


def test_update_item(service, dialogue):
    did, second = dialogue["dialogue_id"], dialogue["item_ids"][1]
    committed(service, "agenda.update_item", {"dialogue_id": did, "item_id": second, "title": "Update from Vienna",
                                              "planned_minutes": 25, "item_type": "generic", "description": "d"})
    row = item(service, second)
    assert (row.title, row.planned_seconds, row.item_type, row.description) == ("Update from Vienna", 1500,
                                                                                 "generic", "d")
    committed(service, "agenda.update_item", {"dialogue_id": did, "item_id": second, "description": ""})
    row = item(service, second)
    assert row.description == "" and row.title == "Update from Vienna"   # untouched fields stay
    refused(service, "agenda.update_item", {"dialogue_id": did, "item_id": second, "item_type": "karaoke"},
            code="invalid_payload")
    refused(service, "agenda.update_item", {"dialogue_id": did, "item_id": 424242, "title": "x"}, code="not_found")


def test_items_of_another_dialogue_are_not_found(service, dialogue):
    other = seed_dialogue(service, items=(("generic", 5),), participants=())
    foreign = other["item_ids"][0]
    did = dialogue["dialogue_id"]
    for name, extra in (("agenda.start_item", {}), ("agenda.update_item", {"title": "x"}),
                        ("agenda.remove_item", {})):
        refused(service, name, {"dialogue_id": did, "item_id": foreign, **extra}, code="not_found")


def test_remove_item(service, dialogue):
    did, (first, second, third, fourth) = dialogue["dialogue_id"], dialogue["item_ids"]
    committed(service, "agenda.remove_item", {"dialogue_id": did, "item_id": second})
    rows = items(service, did)
    assert [(r.id, r.position) for r in rows] == [(first, 0), (third, 1), (fourth, 2)]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    refused(service, "agenda.remove_item", {"dialogue_id": did, "item_id": first}, code="conflict")   # running
    run(service, "agenda.advance", {"dialogue_id": did})
    refused(service, "agenda.remove_item", {"dialogue_id": did, "item_id": first}, code="conflict")   # done
    refused(service, "agenda.remove_item", {"dialogue_id": did, "item_id": second}, code="not_found")  # gone


def test_reorder_takes_a_permutation(service, dialogue):
    did, ids = dialogue["dialogue_id"], dialogue["item_ids"]
    order = [ids[2], ids[0], ids[3], ids[1]]
    committed(service, "agenda.reorder", {"dialogue_id": did, "item_ids": order})
    assert [(r.id, r.position) for r in items(service, did)] == [(i, p) for p, i in enumerate(order)]
    other = seed_dialogue(service, items=(("generic", 5),), participants=())
    for bad in (ids[:3], ids + [ids[0]], [ids[0], ids[0], ids[1], ids[2]], ids[:3] + [999999],
                ids[:3] + other["item_ids"], []):
        error = refused(service, "agenda.reorder", {"dialogue_id": did, "item_ids": bad}, code="invalid_payload")
        assert error.details[0]["field"] == "item_ids"
    refused(service, "agenda.reorder", {"dialogue_id": did, "item_ids": [str(i) for i in ids]},
            code="invalid_payload")


def test_planned_starts_follow_the_agenda_order(service, dialogue):
    did = dialogue["dialogue_id"]
    starts_at = dialogue_row(service, did).starts_at
    view = snapshot(service, did)["sections"]["agenda"]
    cursor = starts_at
    for entry in view["items"]:
        assert entry["planned_start"] == agenda.ms(cursor)
        cursor += dt.timedelta(seconds=entry["planned_seconds"])
    assert view["planned_end"] == agenda.ms(cursor) == agenda.ms(starts_at + dt.timedelta(minutes=20 + 15 + 60 + 45))


# -- dialogues ------------------------------------------------------------------------------
def test_dialogue_create_defaults_and_local_start(service):
    outcome = committed(service, "dialogue.create", {"topic": "trafficking_in_persons",
                                                     "local_start": "2026-06-03T10:00:00"})
    row = dialogue_row(service, outcome.dialogue_id)
    assert row.title == "Constructive Dialogue on Trafficking in Persons"
    assert (row.kind, row.timezone, row.format, row.join_enabled, row.version) == \
        ("constructive_dialogue", "Europe/Vienna", "hybrid", False, 1)
    # 10:00 in Vienna in summer (CEST, UTC+2) is 08:00 UTC.
    assert row.starts_at == dt.datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
    section = snapshot(service, outcome.dialogue_id)["sections"]["dialogue"]
    assert section["local_start"] == "2026-06-03T10:00:00+02:00"
    assert section["starts_at"] == agenda.ms(row.starts_at)
    assert section["topic_label"] == "Trafficking in Persons"


ZONES = [
    ("Europe/Vienna", "2026-11-30T09:30", dt.datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),    # CET, UTC+1
    ("America/New_York", "2026-06-03T10:00:00", dt.datetime(2026, 6, 3, 14, 0, tzinfo=UTC)),
    ("Asia/Kolkata", "2026-01-15T15:45:00", dt.datetime(2026, 1, 15, 10, 15, tzinfo=UTC)),
    ("UTC", "2026-06-03T10:00:00", dt.datetime(2026, 6, 3, 10, 0, tzinfo=UTC)),
]


def test_local_start_is_stored_in_utc_and_shown_in_the_dialogues_zone(service):
    for zone, local, utc in ZONES:
        did = run(service, "dialogue.create", {"topic": "firearms", "timezone": zone,
                                               "local_start": local})["dialogue_id"]
        assert dialogue_row(service, did).starts_at == utc
        shown = dt.datetime.fromisoformat(snapshot(service, did)["sections"]["dialogue"]["local_start"])
        assert shown == utc and shown.utcoffset() == utc.astimezone(ZoneInfo(zone)).utcoffset()
        assert shown.replace(tzinfo=None) == dt.datetime.fromisoformat(local)


def test_a_start_with_an_explicit_offset_keeps_its_instant(service):
    """An ISO time with an offset names an instant: it must not be re-read as
    local time in the dialogue's zone."""
    did = run(service, "dialogue.create", {"topic": "firearms", "timezone": "Europe/Vienna",
                                           "local_start": "2026-06-03T10:00:00+00:00"})["dialogue_id"]
    assert dialogue_row(service, did).starts_at == dt.datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    assert snapshot(service, did)["sections"]["dialogue"]["local_start"] == "2026-06-03T12:00:00+02:00"


def test_dialogue_create_refuses_bad_input(service):
    for bad in ({"topic": "firearms", "timezone": "Mars/Olympus_Mons"},
                {"topic": "firearms", "timezone": "CEST+99"},
                {"topic": "firearms", "local_start": 1780000000},
                {"topic": "firearms", "local_start": "next Tuesday"},
                {"topic": "firearms", "kind": "party"},
                {"topic": "firearms", "format": "carrier_pigeon"},
                {"topic": ""},
                {},
                {"topic": "firearms", "prepares_id": 31337},
                {"topic": "firearms", "surprise": True}):
        error = refused(service, "dialogue.create", bad, code="invalid_payload")
        assert error.details, bad
    error = refused(service, "dialogue.create", {"topic": "firearms", "timezone": "Nowhere/Town"},
                    code="invalid_payload")
    assert error.details[0]["field"] == "timezone"


def test_a_preparation_day_points_at_the_dialogue_it_prepares(service):
    main = run(service, "dialogue.create", {"topic": "smuggling_of_migrants",
                                            "local_start": "2026-06-04T10:00"})["dialogue_id"]
    outcome = committed(service, "dialogue.create", {"topic": "smuggling_of_migrants", "kind": "preparation_day",
                                                     "prepares_id": main, "local_start": "2026-06-03T10:00",
                                                     "format": "online", "venue": "Online"})
    prep = dialogue_row(service, outcome.dialogue_id)
    assert prep.prepares_id == main and prep.kind == "preparation_day"
    assert prep.title == "Multistakeholder Preparation Day on Smuggling of Migrants"
    section = snapshot(service, outcome.dialogue_id)["sections"]["dialogue"]
    assert (section["prepares_id"], section["kind"], section["format"], section["venue"]) == \
        (main, "preparation_day", "online", "Online")
    # A dialogue cannot prepare itself.
    refused(service, "dialogue.update", {"dialogue_id": main, "prepares_id": main}, code="invalid_payload")


def test_dialogue_update(service, dialogue):
    did = dialogue["dialogue_id"]
    outcome = committed(service, "dialogue.update", {"dialogue_id": did, "title": "CD on TIP", "venue": "Board Room D",
                                                     "timezone": "America/New_York",
                                                     "local_start": "2026-07-01T09:00"})
    assert {"dialogue", "agenda"} <= outcome.touched
    row = dialogue_row(service, did)
    assert (row.title, row.venue, row.timezone) == ("CD on TIP", "Board Room D", "America/New_York")
    assert row.starts_at == dt.datetime(2026, 7, 1, 13, 0, tzinfo=UTC)
    # Planned starts move with the dialogue's start.
    view = snapshot(service, did)["sections"]["agenda"]
    assert view["items"][0]["planned_start"] == agenda.ms(row.starts_at)
    refused(service, "dialogue.update", {"dialogue_id": did, "timezone": "Atlantis/Capital"}, code="invalid_payload")
    refused(service, "dialogue.update", {"dialogue_id": str(did), "venue": "x"}, code="invalid_payload")
    refused(service, "dialogue.update", {"dialogue_id": 999999, "venue": "x"}, code="not_found")


def test_configure_join(service, dialogue):
    did = dialogue["dialogue_id"]
    result = committed(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True}).result
    assert result["enabled"] is True and len(result["code"]) == 8
    assert dialogue_row(service, did).join_enabled
    participant = service.snapshot(dialogue["principals"]["participant0"], did)
    assert participant["sections"]["dialogue"]["join_enabled"] is True
    result = committed(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": False}).result
    assert result == {"enabled": False, "code": None}
    refused(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "short"},
            code="invalid_payload")
    refused(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "has spaces in it"},
            code="invalid_payload")


def test_every_dialogue_command_bumps_the_version_once(service, dialogue):
    """One pass over the agenda and dialogue commands; ``committed`` checks
    version + 1 and one audit entry for each."""
    did, ids = dialogue["dialogue_id"], dialogue["item_ids"]
    moderator = dialogue["principals"]["moderator"]
    steps = [
        ("agenda.start_item", {"item_id": ids[0]}, moderator),
        ("agenda.pause_item", {}, moderator),
        ("agenda.resume_item", {}, moderator),
        ("agenda.adjust_time", {"seconds": 60}, moderator),
        ("agenda.advance", {"from_item_id": ids[0]}, moderator),
        ("agenda.end_item", {}, moderator),
        ("agenda.update_item", {"item_id": ids[3], "title": "Inputs"}, SYSTEM),
        ("agenda.reorder", {"item_ids": [ids[0], ids[1], ids[3], ids[2]]}, SYSTEM),
        ("agenda.add_item", {"title": "Closing"}, SYSTEM),
        ("agenda.remove_item", {"item_id": ids[2]}, SYSTEM),
        ("dialogue.update", {"venue": "Conference Room M1"}, SYSTEM),
        ("dialogue.configure_join", {"enabled": True}, SYSTEM),
    ]
    version = version_of(service, did)
    for name, payload, principal in steps:
        committed(service, name, {"dialogue_id": did, **payload}, principal)
    assert version_of(service, did) == version + len(steps)
    with service.db.session() as s:
        logged = list(s.scalars(select(AuditEntry.command).where(AuditEntry.dialogue_id == did)
                                .order_by(AuditEntry.id)))
    assert logged[-len(steps):] == [name for name, _, _ in steps]


# -- the timer arithmetic as pure functions ------------------------------------------------------
T0 = dt.datetime(2026, 6, 3, 8, 0, tzinfo=UTC)


def new_item(planned: int = 600) -> AgendaItem:
    return AgendaItem(id=1, position=0, item_type="generic", title="t", planned_seconds=planned,
                      status=ItemStatus.PENDING.value, elapsed_seconds=0.0)


def test_elapsed_remaining_and_ends_at_by_hand():
    timer = new_item(600)
    assert agenda.elapsed_seconds(timer, T0) == 0 and agenda.ends_at(timer) is None
    agenda._start(timer, T0)
    at = T0 + dt.timedelta(seconds=100)
    assert agenda.elapsed_seconds(timer, at) == 100 and agenda.remaining_seconds(timer, at) == 500
    assert agenda.ends_at(timer) == T0 + dt.timedelta(seconds=600)
    agenda._stop(timer, at, ItemStatus.PAUSED)
    later = at + dt.timedelta(hours=1)   # paused: the clock does not run
    assert agenda.elapsed_seconds(timer, later) == 100 and agenda.ends_at(timer) is None
    agenda._start(timer, later)
    assert agenda.ends_at(timer) == later + dt.timedelta(seconds=500)
    overtime = later + dt.timedelta(seconds=530)
    assert agenda.remaining_seconds(timer, overtime) == -30
    agenda._stop(timer, overtime, ItemStatus.DONE)
    assert timer.ended_at == overtime and agenda.elapsed_seconds(timer, overtime + dt.timedelta(days=1)) == 630


def _dialogue(starts_at=None) -> Dialogue:
    return Dialogue(id=1, title="d", topic="firearms", starts_at=starts_at, timezone="UTC", version=1)


def test_estimated_end():
    a, b, c = new_item(600), new_item(300), new_item(900)
    plan = 1800
    now = T0
    # Nothing started: from the planned start if it is still ahead, else from now.
    assert agenda.estimated_end(_dialogue(T0 + dt.timedelta(hours=1)), [a, b, c], now) == \
        T0 + dt.timedelta(hours=1, seconds=plan)
    assert agenda.estimated_end(_dialogue(T0 - dt.timedelta(hours=1)), [a, b, c], now) == \
        now + dt.timedelta(seconds=plan)
    assert agenda.estimated_end(_dialogue(None), [a, b, c], now) == now + dt.timedelta(seconds=plan)
    # Running: now + what is left of the current item + the pending ones.
    agenda._start(a, T0)
    now = T0 + dt.timedelta(seconds=200)
    assert agenda.estimated_end(_dialogue(T0), [a, b, c], now) == now + dt.timedelta(seconds=400 + 1200)
    # Paused: the end moves later while the pause lasts.
    agenda._stop(a, now, ItemStatus.PAUSED)
    later = now + dt.timedelta(seconds=1000)
    assert agenda.estimated_end(_dialogue(T0), [a, b, c], later) == later + dt.timedelta(seconds=400 + 1200)
    # Overtime never pulls the estimate before now + pending.
    agenda._start(a, later)
    over = later + dt.timedelta(seconds=1000)
    assert agenda.estimated_end(_dialogue(T0), [a, b, c], over) == over + dt.timedelta(seconds=1200)
    # Between items (one done, none current): now + pending.
    agenda._stop(a, over, ItemStatus.DONE)
    assert agenda.estimated_end(_dialogue(T0), [a, b, c], over) == over + dt.timedelta(seconds=1200)
    # All done: now.
    for timer in (b, c):
        agenda._start(timer, over)
        agenda._stop(timer, over, ItemStatus.DONE)
    assert agenda.estimated_end(_dialogue(T0), [a, b, c], over) == over


ACTIONS = st.lists(st.tuples(st.sampled_from(["start", "pause", "resume", "end"]),
                             st.integers(min_value=0, max_value=7_200_000_000)),   # microseconds, up to 2 h
                   max_size=40)


@settings(max_examples=300, deadline=None)
@given(planned=st.integers(min_value=60, max_value=36_000), actions=ACTIONS)
def test_timer_invariants_over_random_sequences(planned, actions):
    """Whatever the moderator presses and whenever: the elapsed time equals
    the sum of the running intervals, never decreases, and ``ends_at`` is
    ``now + remaining`` exactly while the timer runs."""
    timer = new_item(planned)
    now = T0
    intervals: list[tuple[dt.datetime, dt.datetime]] = []
    running_since: dt.datetime | None = None
    last_elapsed = 0.0
    for action, step in actions:
        now = now + dt.timedelta(microseconds=step)
        status = timer.status
        if action == "start" and status in ("pending", "done"):
            agenda._start(timer, now)
            running_since = now
        elif action == "pause" and status == "running":
            agenda._stop(timer, now, ItemStatus.PAUSED)
            intervals.append((running_since, now))
            running_since = None
        elif action == "resume" and status == "paused":
            agenda._start(timer, now)
            running_since = now
        elif action == "end" and status in ("running", "paused"):
            agenda._stop(timer, now, ItemStatus.DONE)
            if running_since is not None:
                intervals.append((running_since, now))
            running_since = None
            assert timer.ended_at == now
        expected = sum((end - begin).total_seconds() for begin, end in intervals)
        if running_since is not None:
            expected += (now - running_since).total_seconds()
        elapsed = agenda.elapsed_seconds(timer, now)
        assert elapsed == pytest.approx(expected, abs=1e-6)
        assert elapsed >= last_elapsed - 1e-9
        last_elapsed = elapsed
        remaining = agenda.remaining_seconds(timer, now)
        assert remaining == pytest.approx(planned - expected, abs=1e-6)
        assert (remaining < 0) == (expected > planned) or abs(expected - planned) < 1e-6
        if timer.status == "running":
            assert timer.run_started_at == running_since
            end = agenda.ends_at(timer)
            assert abs((end - (now + dt.timedelta(seconds=remaining))).total_seconds()) < 1e-5
        else:
            assert agenda.ends_at(timer) is None and timer.run_started_at is None
        if intervals or running_since is not None:
            assert timer.started_at == (intervals[0][0] if intervals else running_since)
