"""Values no database stores are refused as invalid input, on SQLite and on
PostgreSQL, wherever they come in: command payloads, list filters, forms,
query strings, numbers in URLs and the Socket.IO connect. (SQLite cannot
bind numbers beyond 64 bits, PostgreSQL refuses NUL characters, the DOCX
export cannot hold control characters: each was a server error.)"""
from __future__ import annotations

import logging

import pytest
from conftest import run
from test_command_layer import db_state

from moderation.core.auth import SYSTEM
from moderation.core.errors import CommandError

HUGE = 2 ** 63


@pytest.fixture
def errors(caplog):
    caplog.set_level(logging.ERROR)
    return caplog


def refused(service, name: str, payload: dict) -> dict:
    with pytest.raises(CommandError) as caught:
        service.dispatch(SYSTEM, name, payload)
    assert caught.value.code == "invalid_payload", caught.value.to_dict()
    return caught.value.details[0]


def test_commands_refuse_what_no_database_stores(service, dialogue, errors):
    did = dialogue["dialogue_id"]
    before = db_state(service)
    assert refused(service, "agenda.start_item", {"dialogue_id": did, "item_id": HUGE})["field"] == "item_id"
    assert refused(service, "agenda.start_item", {"dialogue_id": did, "item_id": -HUGE - 1})["field"] == "item_id"
    assert refused(service, "participant.register", {"dialogue_id": did, "name": "Ana\x00"})["field"] == "name"
    detail = refused(service, "summary.save_section", {"dialogue_id": did, "key": "introduction",
                                                       "text": "Page\x0cbreak", "base_revision": 0})
    assert detail == {"field": "text", "message": "Text may not contain control characters (other than tabs "
                                                  "and line breaks)."}
    assert refused(service, "queue.reorder", {"dialogue_id": did, "entry_ids": [1, HUGE]})["field"] == "entry_ids.1"
    assert db_state(service) == before
    # Tabs and line breaks are text; the largest 64-bit number is only not found.
    run(service, "summary.save_section", {"dialogue_id": did, "key": "introduction", "text": "A\tB\r\nC",
                                          "base_revision": 0})
    with pytest.raises(CommandError) as caught:
        run(service, "agenda.start_item", {"dialogue_id": did, "item_id": HUGE - 1})
    assert caught.value.code == "not_found"
    with pytest.raises(CommandError) as caught:
        service.list_inputs(SYSTEM, did, {"page": HUGE})
    assert caught.value.code == "invalid_payload"
    assert not errors.records


def test_http_refuses_them_with_json_or_a_page(app, service, dialogue, errors):
    did = dialogue["dialogue_id"]
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {dialogue['tokens']['api_moderator']}"}
    response = client.get(f"/api/v1/dialogues/{HUGE}/snapshot", headers=bearer)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.get(f"/api/v1/dialogues/{did}/inputs?search=%00", headers=bearer)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_payload"
    response = client.post(f"/api/v1/dialogues/{did}/agenda/start", json={"item_id": HUGE}, headers=bearer)
    assert response.status_code == 422 and response.get_json()["error"]["details"][0]["field"] == "item_id"
    response = client.post("/login", data={"username": "nobody\x00", "password": "x"})
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert client.get(f"/d/{HUGE}/join").status_code == 404
    assert not errors.records


def test_socketio_refuses_them(app, dialogue, errors):
    socketio = app.extensions["socketio"]
    token = dialogue["tokens"]["moderator"]
    for auth in ({"dialogue_id": HUGE, "token": token}, {"dialogue_id": dialogue["dialogue_id"], "token": "\ud800"}):
        assert not socketio.test_client(app, auth=auth).is_connected(), auth
    client = socketio.test_client(app, auth={"dialogue_id": dialogue["dialogue_id"], "token": token})
    ack = client.emit("agenda.start_item", {"payload": {"item_id": HUGE}}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_payload"
    ack = client.emit("inputs.list", {"page": HUGE}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_payload"
    client.disconnect()
    assert not errors.records
