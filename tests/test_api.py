"""The JSON API (/api/v1) through Flask's test client: the OpenAPI document,
bearer tokens and cookie sessions with CSRF, idempotency keys, and bad input
of every kind answered with a JSON error (never HTML, never a 500)."""
from __future__ import annotations

import json
import re

import pytest
from conftest import make_app, run, seed_dialogue
from test_command_layer import db_state, version_of

from moderation.core.commands import REGISTRY

API = "/api/v1"


@pytest.fixture
def app(csrf_app):
    """These tests are about the adapters: one engine is enough (SQLite).
    The conftest's ``service`` and ``dialogue`` fixtures build on this app."""
    return csrf_app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(client) -> dict[str, str]:
    return {"X-CSRFToken": client.get("/_test/csrf").get_data(as_text=True)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_link(client, token: str) -> None:
    response = client.get(f"/l/{token}")
    assert response.status_code == 302, response.status_code


def sign_in_admin(client, service) -> None:
    run(service, "user.create", {"username": "secretariat", "password": "a long enough password", "is_admin": True})
    token = csrf(client)["X-CSRFToken"]
    response = client.post("/login", data={"username": "secretariat", "password": "a long enough password",
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def assert_error(response, status: int, code: str | None = None) -> dict:
    """A JSON error with a code and a message: what every API client relies on."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json", response.mimetype
    body = response.get_json()
    assert body["ok"] is False and isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- the OpenAPI document -----------------------------------------------------------------
def test_openapi_document(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    from openapi_spec_validator import validate
    validate(document)
    operations = [op for path in document["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert {"getSnapshot", "startAgendaItem", "advanceAgenda", "listDialogues"} <= set(ids)
    assert {spec.operation_id for spec in REGISTRY.values()} <= set(ids)
    for spec in REGISTRY.values():
        operation = document["paths"][spec.http_path]["post"]
        assert operation["operationId"] == spec.operation_id
        assert spec.name in operation["description"]


def test_every_documented_path_is_served(app, client):
    """Each path in the document is a real route with that method (served by
    the API blueprint or a plugin's blueprint under /api/v1)."""
    document = client.get(f"{API}/openapi.json").get_json()
    adapter = app.url_map.bind("localhost")
    for path, operations in document["paths"].items():
        concrete = API + path.replace("{dialogue_id}", "1")
        for method in operations:
            endpoint, _ = adapter.match(concrete, method=method.upper())   # raises if not served
            assert endpoint and not endpoint.startswith("web."), (path, method, endpoint)


# -- bearer tokens -----------------------------------------------------------------------------
def test_api_token_runs_commands_and_reads(client, service, dialogue):
    did, token = dialogue["dialogue_id"], dialogue["tokens"]["api_moderator"]
    version = version_of(service, did)
    response = client.post(f"{API}/dialogues/{did}/agenda/advance", json={}, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"ok": True, "version": version + 1, "replayed": False,
                                   "result": {"current_item_id": dialogue["item_ids"][0]}}
    snapshot = client.get(f"{API}/dialogues/{did}/snapshot", headers=bearer(token)).get_json()["snapshot"]
    assert snapshot["role"] == "moderator" and snapshot["version"] == version + 1
    assert snapshot["sections"]["agenda"]["current_item_id"] == dialogue["item_ids"][0]
    # The API token's role is the limit: the moderator may not edit the agenda.
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/items", json={}, headers=bearer(token)),
                 403, "forbidden")


def test_access_link_tokens_are_not_bearer_tokens(client, dialogue):
    """A token presented where it is not valid is ``link_revoked``, as an
    unknown or revoked one (docs/protocol.md, "Errors")."""
    did = dialogue["dialogue_id"]
    for token in (dialogue["tokens"]["moderator"], dialogue["tokens"]["participant0"]):
        assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", json={}, headers=bearer(token)),
                     401, "link_revoked")
        assert_error(client.get(f"{API}/dialogues/{did}/snapshot", headers=bearer(token)), 401, "link_revoked")


def test_a_revoked_api_token_is_refused(client, service, dialogue):
    did = dialogue["dialogue_id"]
    result = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "display"})
    assert client.get(f"{API}/dialogues/{did}/snapshot", headers=bearer(result["token"])).status_code == 200
    run(service, "access.revoke", {"dialogue_id": did, "credential_id": result["credential_id"]})
    assert_error(client.get(f"{API}/dialogues/{did}/snapshot", headers=bearer(result["token"])), 401,
                 "link_revoked")


def test_malformed_authorization_headers(client, dialogue):
    """No bearer token: ``unauthenticated``; a token that is not one: ``link_revoked``."""
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc"):
        assert_error(client.get(f"{API}/dialogues/{dialogue['dialogue_id']}/snapshot",
                                headers={"Authorization": header}), 401, "unauthenticated")
    for header in ("bearer nonsense", "Bearer " + "x" * 500):
        assert_error(client.get(f"{API}/dialogues/{dialogue['dialogue_id']}/snapshot",
                                headers={"Authorization": header}), 401, "link_revoked")


def test_anonymous_requests(client, service, dialogue):
    did = dialogue["dialogue_id"]
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", json={}), 401, "unauthenticated")
    assert_error(client.get(f"{API}/dialogues/{did}/snapshot"), 401, "unauthenticated")
    assert_error(client.get(f"{API}/dialogues"), 401, "unauthenticated")
    # Joining with a code is the one write that needs no sign-in (the code is the right).
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "JOIN-2026"})
    response = client.post(f"{API}/dialogues/{did}/join", json={"code": "JOIN-2026", "name": "Walk-in",
                                                               "organization": "Independent"})
    assert response.status_code == 200 and set(response.get_json()["result"]) >= {"participant_id", "token"}


# -- cookie sessions and CSRF ----------------------------------------------------------------------
def test_cookie_session_writes_need_the_csrf_header(client, service, dialogue):
    did = dialogue["dialogue_id"]
    open_link(client, dialogue["tokens"]["moderator"])
    # Reads need no token.
    snapshot = client.get(f"{API}/dialogues/{did}/snapshot").get_json()["snapshot"]
    assert snapshot["role"] == "moderator"
    before = db_state(service)
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", json={}), 403, "forbidden")
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", json={},
                             headers={"X-CSRFToken": "forged"}), 403, "forbidden")
    other = make_app_client_token(client.application)
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", json={}, headers={"X-CSRFToken": other}),
                 403, "forbidden")
    assert db_state(service) == before
    response = client.post(f"{API}/dialogues/{did}/agenda/advance", json={}, headers=csrf(client))
    assert response.status_code == 200 and response.get_json()["version"] == snapshot["version"] + 1


def make_app_client_token(app) -> str:
    """A valid CSRF token of another browser's session."""
    stranger = app.test_client()
    return csrf(stranger)["X-CSRFToken"]


def test_a_signed_in_secretariat_account_uses_the_api(client, service, dialogue):
    sign_in_admin(client, service)
    response = client.post(f"{API}/dialogues", json={"topic": "firearms", "local_start": "2026-06-03T10:00"},
                           headers=csrf(client))
    assert response.status_code == 200, response.get_json()
    new = response.get_json()["result"]["dialogue_id"]
    listed = client.get(f"{API}/dialogues").get_json()["dialogues"]
    assert {d["id"] for d in listed} == {dialogue["dialogue_id"], new}
    assert all(d["roles"] == ["secretariat"] for d in listed)


def test_a_revoked_link_session_is_refused(client, service, dialogue):
    did = dialogue["dialogue_id"]
    open_link(client, dialogue["tokens"]["moderator"])
    run(service, "access.revoke", {"dialogue_id": did,
                                   "credential_id": dialogue["principals"]["moderator"].credential_id})
    assert_error(client.get(f"{API}/dialogues/{did}/snapshot"), 401, "link_revoked")
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", json={}, headers=csrf(client)),
                 401, "link_revoked")


# -- idempotency keys -------------------------------------------------------------------------------
def test_idempotency_key_header_replays(client, service, dialogue):
    did, headers = dialogue["dialogue_id"], bearer(dialogue["tokens"]["api_moderator"])
    url = f"{API}/dialogues/{did}/agenda/advance"
    first = client.post(url, json={}, headers={**headers, "Idempotency-Key": "press-next-0001"}).get_json()
    assert first["ok"] and first["replayed"] is False
    before = db_state(service)
    again = client.post(url, json={}, headers={**headers, "Idempotency-Key": "press-next-0001"}).get_json()
    assert again == {**first, "replayed": True}
    assert db_state(service) == before
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/pause", json={},
                             headers={**headers, "Idempotency-Key": "press-next-0001"}), 409, "conflict")
    assert_error(client.post(url, json={}, headers={**headers, "Idempotency-Key": "bad key!"}), 422,
                 "invalid_payload")
    assert db_state(service) == before


# -- bad input: always a JSON error -------------------------------------------------------------------
def test_bad_bodies(client, service, dialogue):
    did, headers = dialogue["dialogue_id"], bearer(dialogue["tokens"]["api_moderator"])
    url = f"{API}/dialogues/{did}/agenda/advance"
    before = db_state(service)
    cases = [
        ({"data": "hello", "content_type": "text/plain"}, 422, "invalid_payload"),
        ({"data": "{not json", "content_type": "application/json"}, 422, "invalid_payload"),
        ({"data": json.dumps({"from_item_id": None}), "content_type": "text/plain"}, 422, "invalid_payload"),
        ({"json": []}, 422, "invalid_payload"),
        ({"json": [{"from_item_id": 1}]}, 422, "invalid_payload"),
        ({"json": "a string"}, 422, "invalid_payload"),
        ({"json": 42}, 422, "invalid_payload"),
        ({"data": "null", "content_type": "application/json"}, 422, "invalid_payload"),
        ({"json": {"from_item_id": "one"}}, 422, "invalid_payload"),
        ({"json": {"from_item_id": 1.5}}, 422, "invalid_payload"),
        ({"json": {"whatever": 1}}, 422, "invalid_payload"),
        ({"json": {"dialogue_id": did + 1}}, 422, "invalid_payload"),
        ({"data": b"\xff\xfe\x00garbage", "content_type": "application/json"}, 422, "invalid_payload"),
    ]
    for kwargs, status, code in cases:
        error = assert_error(client.post(url, headers=headers, **kwargs), status, code)
        if "json" in kwargs and isinstance(kwargs["json"], dict) and "whatever" in kwargs["json"]:
            assert error["details"][0]["field"] == "whatever"
    assert db_state(service) == before
    # The same dialogue_id in body and path is fine; so is an empty body.
    assert client.post(url, json={"dialogue_id": did}, headers=headers).status_code == 200
    assert client.post(url, headers=headers).status_code == 200


def test_an_oversized_body_is_413_json(client, service, dialogue):
    did, headers = dialogue["dialogue_id"], bearer(dialogue["tokens"]["api_moderator"])
    document = client.get(f"{API}/openapi.json").get_json()
    limit = document["paths"]["/dialogues/{dialogue_id}/agenda/advance"]["post"]["requestBody"]["x-max-body-bytes"]
    assert limit < client.application.config["MAX_PAYLOAD_BYTES"] + 1000   # a few fields: the small limit
    before = db_state(service)
    body = json.dumps({"from_item_id": None, "padding": "x" * limit})
    assert_error(client.post(f"{API}/dialogues/{did}/agenda/advance", data=body, content_type="application/json",
                             headers=headers), 413, "too_large")
    assert db_state(service) == before


def test_unknown_things_are_json_404s(client, dialogue):
    headers = bearer(dialogue["tokens"]["api_moderator"])
    assert_error(client.post(f"{API}/dialogues/99999/agenda/advance", json={}, headers=headers), 404, "not_found")
    assert_error(client.get(f"{API}/dialogues/99999/snapshot", headers=headers), 404, "not_found")
    assert_error(client.get(f"{API}/no/such/route", headers=headers), 404, "not_found")
    assert_error(client.post(f"{API}/dialogues/abc/agenda/advance", json={}, headers=headers), 404)
    assert_error(client.get(f"{API}/", headers=headers), 404)


def test_an_id_no_database_stores_is_not_found_on_every_route(app, client, dialogue):
    """Not a 405 (the route of the same path with another method) and not a
    server error: a JSON 404 on the API, the error page elsewhere."""
    headers = bearer(dialogue["tokens"]["api_moderator"])
    checked = 0
    for rule in app.url_map.iter_rules():
        numbers = [name for name, converter in rule._converters.items() if converter.regex == r"\d+"]
        if not numbers:
            continue
        for too_large in (2 ** 63, 10 ** 30):
            path = rule.rule
            for name in rule.arguments:
                value = too_large if name in numbers else "moderator"
                path = re.sub(rf"<(\w+:)?{name}>", str(value), path)
            for method in rule.methods - {"OPTIONS"}:
                response = client.open(path, method=method, headers=headers)
                assert response.status_code == 404, (method, path, response.status_code)
                if path.startswith(API) and method != "HEAD":
                    assert_error(response, 404, "not_found")
                checked += 1
    assert checked > 150


def test_an_unknown_export_format_is_not_found(app, client, dialogue, service):
    did = dialogue["dialogue_id"]
    headers = bearer(run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})["token"])
    for path in ("participants/export", "summary/export"):
        error = assert_error(client.get(f"{API}/dialogues/{did}/{path}?format=xml", headers=headers), 404, "not_found")
        assert "xml" in error["message"] and error["details"]["formats"]
    document = client.get(f"{API}/openapi.json").get_json()["paths"]
    for path in ("participants/export", "summary/export"):
        [parameter] = [p for p in document[f"/dialogues/{{dialogue_id}}/{path}"]["get"]["parameters"]
                       if p["name"] == "format"]
        assert "xml" not in parameter["schema"]["enum"] and "404" in document[
            f"/dialogues/{{dialogue_id}}/{path}"]["get"]["responses"]


def test_wrong_methods_are_json_405s(client, dialogue):
    did, headers = dialogue["dialogue_id"], bearer(dialogue["tokens"]["api_moderator"])
    assert_error(client.get(f"{API}/dialogues/{did}/agenda/advance", headers=headers), 405)
    assert_error(client.put(f"{API}/dialogues", json={}, headers=headers), 405)
    assert_error(client.delete(f"{API}/dialogues/{did}/snapshot", headers=headers), 405)
    assert_error(client.post(f"{API}/openapi.json", headers=headers), 405)


def test_a_bad_role_query_is_a_json_error(client, dialogue):
    did, headers = dialogue["dialogue_id"], bearer(dialogue["tokens"]["api_moderator"])
    assert_error(client.get(f"{API}/dialogues/{did}/snapshot?role=emperor", headers=headers), 422, "invalid_payload")
    assert_error(client.get(f"{API}/dialogues/{did}/snapshot?role=secretariat", headers=headers), 403, "forbidden")
    assert client.get(f"{API}/dialogues/{did}/snapshot?role=moderator", headers=headers).status_code == 200


def test_every_command_route_answers_json(client, dialogue):
    """Each command's route, called with a body of the wrong shape by a
    caller without rights, answers with a JSON error of the right family."""
    did, headers = dialogue["dialogue_id"], bearer(dialogue["tokens"]["api_moderator"])
    for spec in REGISTRY.values():
        url = API + spec.http_path.replace("{dialogue_id}", str(did))
        response = client.post(url, json=[], headers=headers)
        assert_error(response, 422, "invalid_payload")
        response = client.post(url, json={"unexpected_field": True}, headers=headers)
        assert response.status_code in (403, 422), (spec.name, response.status_code)
        assert response.mimetype == "application/json"


# -- listDialogues -------------------------------------------------------------------------------------
def test_list_dialogues_shows_only_the_callers_dialogues(client, service, dialogue):
    other = seed_dialogue(service, items=(), participants=())
    mine = dialogue["dialogue_id"]
    listed = client.get(f"{API}/dialogues", headers=bearer(dialogue["tokens"]["api_moderator"])).get_json()
    assert listed["ok"] is True
    assert [(d["id"], d["roles"]) for d in listed["dialogues"]] == [(mine, ["moderator"])]
    assert listed["dialogues"][0]["title"] == "Constructive Dialogue on Trafficking in Persons"
    listed = client.get(f"{API}/dialogues", headers=bearer(other["tokens"]["api_moderator"])).get_json()
    assert [d["id"] for d in listed["dialogues"]] == [other["dialogue_id"]]
    browser = client.application.test_client()
    open_link(browser, dialogue["tokens"]["participant0"])
    listed = browser.get(f"{API}/dialogues").get_json()
    assert [(d["id"], d["roles"]) for d in listed["dialogues"]] == [(mine, ["participant"])]


def test_list_dialogues_refuses_ended_sessions(client, service, dialogue):
    """A session that has ended is told so (401), not shown an empty list."""
    open_link(client, dialogue["tokens"]["moderator"])
    assert len(client.get(f"{API}/dialogues").get_json()["dialogues"]) == 1
    run(service, "access.revoke", {"dialogue_id": dialogue["dialogue_id"],
                                   "credential_id": dialogue["principals"]["moderator"].credential_id})
    assert_error(client.get(f"{API}/dialogues"), 401, "link_revoked")
    admin = client.application.test_client()
    sign_in_admin(admin, service)
    assert len(admin.get(f"{API}/dialogues").get_json()["dialogues"]) == 1
    run(service, "user.end_sessions", {"username": "secretariat"})
    assert_error(admin.get(f"{API}/dialogues"), 401, "unauthenticated")


# -- health ----------------------------------------------------------------------------------------------
def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ok" and body["version"]
    assert body["database"] == {"status": "ok", "schema_current": True}
    assert body["message_queue"] == {"status": "not configured"}


@pytest.mark.redis
def test_healthz_checks_the_message_queue(tmp_path, sqlite_url, redis_url):
    app = make_app(tmp_path, sqlite_url, MESSAGE_QUEUE=redis_url)
    try:
        body = app.test_client().get("/healthz").get_json()
        assert body["message_queue"] == {"status": "ok"} and body["status"] == "ok"
    finally:
        app.extensions["db"].dispose()


def test_healthz_reports_an_unreachable_queue(tmp_path, sqlite_url):
    app = make_app(tmp_path, sqlite_url)
    app.config["MESSAGE_QUEUE"] = "redis://127.0.0.1:1/0"   # nothing listens on port 1
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "error" and body["message_queue"]["status"] == "error"
    finally:
        app.extensions["db"].dispose()
