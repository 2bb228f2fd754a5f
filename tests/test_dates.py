"""Dates and times that clients send (a dialogue's start, the written-input
window, the application deadline): one bounded type for every one of them,
found by walking every command's payload. Any value outside it (year 1,
year 9999, with or without an offset, a date that does not exist, a local
time that the clocks skip) is a documented 422 naming the field, changes
nothing and logs no error; the bounds themselves are stored and read back
exactly, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from conftest import run, seed_dialogue
from sqlalchemy import select
from test_command_layer import db_state
from test_pages import admin_client, csrf_of

from moderation.core.commands import REGISTRY
from moderation.features import load_features
from moderation.models import Dialogue

API = "/api/v1"
# Each command that takes a date-time, with what else its payload needs.
BASE = {
    "dialogue.update": {},
    "dialogue.create": {"topic": "firearms"},
    "inputs.configure": {},
    "applications.configure": {"open": True, "timezone": "Europe/Vienna"},
}
DATE_TIME_NAME = re.compile(r"(^|_)(local|start|deadline|date|time|opens|closes|at)(_|$)")
OUT_OF_RANGE = ["0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00",
                "0001-01-01T00:00Z", "9999-12-31T23:59:59.999999+14:00", "1999-12-31T23:59", "2101-01-01T00:00",
                "1970-01-01T00:00Z"]
NOT_A_MOMENT = ["2026-02-30T10:00", "2026-06-03T24:00", "2026-06-03T10:60", "2026-06-03", "10:00", "2026-06-03T10",
                "2026-06-03T10:00+24:00", "2026-06-03T10:00+0530", " 2026-06-03T10:00", "2026-06-03T10:00\n",
                "+2026-06-03T10:00", "2026-W23-3T10:00", "20260603T1000", "", "now", "2026-06-03T10:00:00.1234567",
                1780473600, 1780473600.5, True, [], {}]


def date_time_fields() -> dict[str, list[str]]:
    """Every command's fields that hold a date and time: by type, and by a
    name that says so (so that a date kept as text is found too)."""
    load_features()
    found: dict[str, list[str]] = {}
    for spec in REGISTRY.values():
        for name, field in spec.payload.model_fields.items():
            if "datetime" in repr(field.annotation) or DATE_TIME_NAME.search(name):
                found.setdefault(spec.name, []).append(name)
    return found


def test_every_date_time_field_is_the_one_bounded_type():
    from moderation.core.localtime import DATE_TIME_SCHEMA
    fields = date_time_fields()
    assert {"dialogue.update", "inputs.configure", "applications.configure"} <= set(fields)
    for command, names in fields.items():
        assert command in BASE, f"{command} takes a date-time ({names}): add it to BASE to test it"
        schema = REGISTRY[command].payload.model_json_schema()
        for name in names:
            field = schema["properties"][name]
            assert DATE_TIME_SCHEMA in field.get("anyOf", [field]), (command, name)


@pytest.fixture
def world(app):
    service = app.extensions["moderation"]
    seeded = seed_dialogue(service)
    token = run(service, "access.issue_api_token", {"dialogue_id": seeded["dialogue_id"], "role": "secretariat"})
    admin = admin_client(app, service)
    return app, service, seeded["dialogue_id"], {"Authorization": f"Bearer {token['token']}"}, admin


def url_of(command: str, dialogue_id: int) -> str:
    return API + REGISTRY[command].http_path.replace("{dialogue_id}", str(dialogue_id))


def send(world, command: str, payload: dict):
    app, _, did, headers, admin = world
    if command == "dialogue.create":   # an account's command (a dialogue's token creates none)
        token = csrf_of(admin.get("/admin").get_data(as_text=True))
        return admin.post(url_of(command, did), json=payload, headers={"X-CSRFToken": token})
    return app.test_client().post(url_of(command, did), json=payload, headers=headers)


def test_dates_outside_the_bounds_or_not_real_are_refused_naming_the_field(world, caplog):
    _, service, _, _, _ = world
    before = db_state(service)
    with caplog.at_level(logging.WARNING):
        for command, names in date_time_fields().items():
            for name in names:
                for value in OUT_OF_RANGE + NOT_A_MOMENT:
                    response = send(world, command, {**BASE[command], name: value})
                    assert response.status_code == 422, (command, name, value, response.get_data()[:300])
                    error = response.get_json()["error"]
                    assert error["code"] == "invalid_payload", (command, name, value)
                    [detail] = [d for d in error["details"] if d["field"] == name]
                    assert "2000" in detail["message"] or "exist" in detail["message"] or \
                        "such as" in detail["message"], (command, name, value, detail)
    assert db_state(service) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def stored(service, dialogue_id: int) -> Dialogue:
    with service.db.session() as s:
        dialogue = s.scalar(select(Dialogue).where(Dialogue.id == dialogue_id))
        s.expunge(dialogue)
        return dialogue


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


BOUNDS = [
    ("Pacific/Kiritimati", "2000-01-01T00:00", "1999-12-31T10:00+00:00"),     # +14: the earliest instant
    ("Pacific/Pago_Pago", "2100-12-31T23:59", "2101-01-01T10:59+00:00"),      # -11: the latest
    ("Europe/Vienna", "2100-12-31T23:59:59.999999", "2100-12-31T22:59:59.999999+00:00"),
    ("Europe/Vienna", "2026-06-03T10:00", "2026-06-03T08:00+00:00"),          # summer time
    ("Europe/Vienna", "2026-06-03 10:00", "2026-06-03T08:00+00:00"),          # a space, as forms may send
    ("Europe/Vienna", "2026-10-25T02:30", "2026-10-25T00:30+00:00"),          # twice that night: the first
    ("Europe/Vienna", "2026-06-03T10:00Z", "2026-06-03T10:00+00:00"),         # an offset names the instant
    ("America/New_York", "2000-01-01T00:00+14:00", "1999-12-31T10:00+00:00"),
    ("America/New_York", "2100-12-31T23:59-12:00", "2101-01-01T11:59+00:00"),
]


def test_the_bounds_are_stored_and_read_back_exactly(world):
    for zone, local, expected_utc in BOUNDS:
        check_stored_and_read_back(world, zone, local, expected_utc)


def check_stored_and_read_back(world, zone: str, local: str, expected_utc: str) -> None:
    app, service, did, headers, _ = world
    assert send(world, "dialogue.update", {"timezone": zone}).status_code == 200
    response = send(world, "dialogue.update", {"local_start": local})
    assert response.status_code == 200, response.get_json()
    assert stored(service, did).starts_at.astimezone(dt.UTC) == utc(expected_utc)
    snapshot = app.test_client().get(f"{API}/dialogues/{did}/snapshot", headers=headers).get_json()["snapshot"]
    section = snapshot["sections"]["dialogue"]
    assert utc(section["local_start"]) == utc(expected_utc)
    assert section["starts_at"] == int(utc(expected_utc).timestamp() * 1000)

    latest = "2100-12-31T23:59:59.999999-12:00"   # the latest instant of all
    response = send(world, "inputs.configure", {"window_opens_local": local, "window_closes_local": latest})
    assert response.status_code == 200, response.get_json()
    assert stored(service, did).input_window_opens_at.astimezone(dt.UTC) == utc(expected_utc)

    response = send(world, "applications.configure", {"open": True, "timezone": zone, "deadline": local})
    assert response.status_code == 200, response.get_json()
    assert stored(service, did).application_deadline.astimezone(dt.UTC) == utc(expected_utc)
    assert response.get_json()["result"]["deadline_text"]
    assert app.test_client().get(f"/d/{did}/apply").status_code == 200   # the public page shows the deadline


def test_a_local_time_that_the_clocks_skip_is_refused(world):
    _, service, did, _, _ = world
    before = db_state(service)
    for command, field in (("dialogue.update", "local_start"), ("inputs.configure", "window_opens_local"),
                           ("applications.configure", "deadline")):
        response = send(world, command, {**BASE[command], field: "2026-03-29T02:30"})   # Vienna: 02:00 -> 03:00
        assert response.status_code == 422, (command, response.get_json())
        [detail] = response.get_json()["error"]["details"]
        assert detail["field"] == field and "does not exist in Europe/Vienna" in detail["message"], detail
    assert db_state(service) == before


def test_the_application_page_refuses_an_extreme_deadline_with_a_message(world):
    app, service, did, _, admin = world
    token = csrf_of(admin.get(f"/admin/d/{did}/applications").get_data(as_text=True))
    before = db_state(service)
    response = admin.post(f"/admin/d/{did}/applications/settings", data={
        "csrf_token": token, "open": "yes", "deadline": "9999-12-31T23:59", "timezone": "Europe/Vienna"},
        follow_redirects=True)
    assert response.status_code == 200
    assert "between 2000 and 2100" in response.get_data(as_text=True)
    assert db_state(service) == before
