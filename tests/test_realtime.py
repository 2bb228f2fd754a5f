"""The Socket.IO adapter with Flask-SocketIO's test client: who may connect,
the snapshot each role gets, commands as acknowledged events, change
broadcasts per role and per dialogue, errors as acknowledgements, and
connections ended when their right to be there ends."""
from __future__ import annotations

import pytest
from conftest import run, seed_dialogue
from test_command_layer import db_state, version_of

from moderation.core.commands import REGISTRY
from moderation.models import Role
from moderation.web.realtime import Realtime


@pytest.fixture
def app(csrf_app):
    """These tests are about the adapters: one engine is enough (SQLite).
    The conftest's ``service`` and ``dialogue`` fixtures build on this app."""
    return csrf_app


@pytest.fixture
def connect(app):
    """connect(auth, flask_client=None) -> a Socket.IO test client; all are
    disconnected after the test."""
    made = []

    def _connect(auth=None, flask_client=None):
        client = app.extensions["socketio"].test_client(app, auth=auth, flask_test_client=flask_client)
        made.append(client)
        return client

    yield _connect
    for client in made:
        if client.is_connected():
            client.disconnect()


def received(client) -> dict[str, list]:
    """Events received since the last call, by name (first argument of each).
    Reads the queue directly: the test client refuses get_received() once
    the server has closed the connection, and that is when it matters."""
    events: dict[str, list] = {}
    for event in client.queue:
        events.setdefault(event["name"], []).append(event["args"][0] if event["args"] else None)
    client.queue = []
    return events


def realtime(app) -> Realtime:
    return app.extensions["realtime"]


def browser_signed_in(app, service, username: str, password: str = "a long enough password"):
    """A Flask test client signed in through the login form."""
    browser = app.test_client()
    token = browser.get("/_test/csrf").get_data(as_text=True)
    response = browser.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302
    return browser


def command(client, name: str, payload: dict | None = None, key: str | None = None, **data):
    message = {"payload": payload or {}, **data}
    if key is not None:
        message["idempotency_key"] = key
    return client.emit(name, message, callback=True)


@pytest.fixture
def room(connect, service, dialogue):
    """One connected client per role of the seeded dialogue (plus the
    secretariat, through an admin's sign-in link), snapshots consumed."""
    did = dialogue["dialogue_id"]
    run(service, "user.create", {"username": "sec", "password": "a long enough password", "is_admin": True})
    sign_in = run(service, "user.issue_sign_in_link", {"username": "sec"})["token"]
    tokens = {"secretariat": sign_in, **{role: dialogue["tokens"][role] for role in
                                         ("moderator", "rapporteur", "display", "participant0", "participant1")}}
    clients = {}
    for who, token in tokens.items():
        client = connect({"dialogue_id": did, "token": token})
        assert client.is_connected(), who
        snapshots = received(client)["snapshot"]
        assert len(snapshots) == 1
        clients[who] = client
    return clients


# -- connecting ---------------------------------------------------------------------------
def test_connections_without_valid_auth_are_refused(app, connect, service, dialogue):
    did = dialogue["dialogue_id"]
    revoked = run(service, "access.issue_link", {"dialogue_id": did, "role": "display"})
    run(service, "access.revoke", {"dialogue_id": did, "credential_id": revoked["credential_id"]})
    refused = [
        None,                                                            # no auth at all
        {},                                                              # no dialogue
        {"dialogue_id": did},                                            # nobody (no token, no cookie)
        {"dialogue_id": str(did), "token": dialogue["tokens"]["moderator"]},
        {"dialogue_id": True, "token": dialogue["tokens"]["moderator"]},
        {"dialogue_id": did, "token": "not-a-token"},
        {"dialogue_id": did, "token": revoked["token"]},
        {"dialogue_id": 424242, "token": dialogue["tokens"]["moderator"]},
        {"dialogue_id": did, "token": dialogue["tokens"]["participant0"], "role": "moderator"},
        {"dialogue_id": did, "token": dialogue["tokens"]["moderator"], "role": "emperor"},
    ]
    other = seed_dialogue(service, items=(), participants=())
    refused.append({"dialogue_id": other["dialogue_id"], "token": dialogue["tokens"]["moderator"]})
    for auth in refused:
        client = connect(auth)
        assert not client.is_connected(), auth
        assert "snapshot" not in received(client), auth
    assert realtime(app).connections == {}


def test_each_role_gets_its_own_snapshot_on_connect(connect, service, dialogue):
    did = dialogue["dialogue_id"]
    version = version_of(service, did)
    snapshots = {}
    for who in ("moderator", "rapporteur", "display", "participant0", "api_moderator"):
        client = connect({"dialogue_id": did, "token": dialogue["tokens"][who]})
        assert client.is_connected(), who
        [snapshots[who]] = received(client)["snapshot"]
    for snap in snapshots.values():
        assert snap["dialogue_id"] == did and snap["version"] == version
        assert {"dialogue", "agenda", "me"} <= set(snap["sections"])
        assert len(snap["sections"]["agenda"]["items"]) == 4
    assert snapshots["moderator"]["role"] == "moderator" == snapshots["api_moderator"]["role"]
    assert snapshots["participant0"]["role"] == "participant"
    for who in ("participant0", "display"):
        assert "participants" not in snapshots[who]["sections"], who
    for who in ("moderator", "rapporteur"):
        people = snapshots[who]["sections"]["participants"]
        assert {p["name"] for p in people} == {"Amina Okafor", "Jonas Lindqvist"}
        assert all("email" not in p for p in people), who
    assert snapshots["participant0"]["sections"]["me"]["participant"]["name"] == "Amina Okafor"


def test_the_secretariat_sees_emails(connect, service, dialogue):
    did = dialogue["dialogue_id"]
    run(service, "participant.register", {"dialogue_id": did, "name": "Chen Wei", "email": "chen@example.org"})
    run(service, "user.create", {"username": "sec", "password": "a long enough password", "is_admin": True})
    token = run(service, "user.issue_sign_in_link", {"username": "sec"})["token"]
    client = connect({"dialogue_id": did, "token": token})
    [snap] = received(client)["snapshot"]
    assert snap["role"] == "secretariat"
    emails = {p["name"]: p["email"] for p in snap["sections"]["participants"]}
    assert emails["Chen Wei"] == "chen@example.org"


def test_a_browser_connects_with_its_session_cookie(app, connect, dialogue):
    did = dialogue["dialogue_id"]
    browser = app.test_client()
    assert browser.get(f"/l/{dialogue['tokens']['rapporteur']}").status_code == 302
    client = connect({"dialogue_id": did}, flask_client=browser)
    assert client.is_connected()
    assert received(client)["snapshot"][0]["role"] == "rapporteur"
    # Without the cookie the same auth is refused.
    assert not connect({"dialogue_id": did}).is_connected()


def test_a_chosen_role_must_be_held(connect, service, dialogue):
    did = dialogue["dialogue_id"]
    run(service, "user.create", {"username": "sec", "password": "a long enough password", "is_admin": True})
    token = run(service, "user.issue_sign_in_link", {"username": "sec"})["token"]
    client = connect({"dialogue_id": did, "token": token, "role": "secretariat"})
    assert received(client)["snapshot"][0]["role"] == "secretariat"
    # The secretariat may open the staff views and the display, not a participant's view.
    display = connect({"dialogue_id": did, "token": token, "role": "display"})
    [snap] = received(display)["snapshot"]
    assert snap["role"] == "display" and "participants" not in snap["sections"]
    assert not connect({"dialogue_id": did, "token": token, "role": "participant"}).is_connected()
    # Nobody else may choose a role they do not hold.
    assert not connect({"dialogue_id": did, "token": dialogue["tokens"]["moderator"],
                        "role": "rapporteur"}).is_connected()


# -- commands and broadcasts -------------------------------------------------------------------
def test_a_command_is_acknowledged_and_broadcast_to_every_role(room, service, dialogue, connect):
    did = dialogue["dialogue_id"]
    other = seed_dialogue(service, items=(("generic", 5),), participants=())
    outsider = connect({"dialogue_id": other["dialogue_id"], "token": other["tokens"]["moderator"]})
    received(outsider)
    version = version_of(service, did)

    ack = command(room["moderator"], "agenda.advance", key="advance-first-1")
    assert ack == {"ok": True, "version": version + 1, "replayed": False,
                   "result": {"current_item_id": dialogue["item_ids"][0]}}
    for who, client in room.items():
        changes = received(client).get("change", [])
        assert len(changes) == 1, who
        change = changes[0]
        assert change["dialogue_id"] == did and change["version"] == version + 1
        assert change["prev_version"] <= version, who          # no false gap after the snapshot
        assert change["sections"]["agenda"]["current_item_id"] == dialogue["item_ids"][0], who
        assert "participants" not in change["sections"], who
    assert received(outsider) == {}

    # A change to the participants goes to the staff only, with e-mail for the secretariat alone.
    ack = command(room["secretariat"], "participant.register", {"name": "Chen Wei", "email": "chen@example.org"})
    assert ack["ok"] and ack["version"] == version + 2
    for who, client in room.items():
        changes = received(client).get("change", [])
        if who in ("participant0", "participant1", "display"):
            assert changes == [], who                            # nothing there for them to see
            continue
        [change] = changes
        assert change["version"] == version + 2 and change["prev_version"] == version + 1, who
        people = {p["name"]: p for p in change["sections"]["participants"]}
        assert ("email" in people["Chen Wei"]) == (who == "secretariat"), who
    assert received(outsider) == {}

    # The next change shows the roles that skipped one that nothing was missed.
    ack = command(room["moderator"], "agenda.advance")
    for who, client in room.items():
        [change] = received(client)["change"]
        assert change["version"] == ack["version"] == version + 3
        assert change["prev_version"] == (version + 1 if who in ("participant0", "participant1", "display")
                                          else version + 2), who
    assert received(outsider) == {}


def test_a_replayed_command_is_not_broadcast_again(room, service, dialogue):
    first = command(room["moderator"], "agenda.advance", key="advance-once-1")
    received(room["display"])
    again = command(room["moderator"], "agenda.advance", key="advance-once-1")
    assert again == {**first, "replayed": True}
    assert "change" not in received(room["display"])
    assert version_of(service, dialogue["dialogue_id"]) == first["version"]


def test_errors_come_back_as_acknowledgements(room, service, dialogue):
    did = dialogue["dialogue_id"]
    moderator = room["moderator"]
    before = db_state(service)

    def code_of(ack):
        assert ack["ok"] is False and ack["error"]["message"], ack
        return ack["error"]["code"]

    assert code_of(command(moderator, "agenda.advance", {"surprise": 1})) == "invalid_payload"
    assert code_of(command(moderator, "agenda.advance", {"from_item_id": "one"})) == "invalid_payload"
    assert code_of(moderator.emit("agenda.advance", "not an object", callback=True)) == "invalid_payload"
    assert code_of(moderator.emit("agenda.advance", ["a", "list"], callback=True)) == "invalid_payload"
    assert code_of(moderator.emit("agenda.advance", callback=True)) == "invalid_payload"
    assert code_of(moderator.emit("agenda.advance", {"payload": ["x"]}, callback=True)) == "invalid_payload"
    assert code_of(command(moderator, "agenda.advance", key="bad key")) == "invalid_payload"
    assert code_of(command(moderator, "agenda.advance", {"dialogue_id": did + 1})) == "forbidden"
    assert code_of(command(moderator, "agenda.advance", {"dialogue_id": str(did)})) == "forbidden"
    assert code_of(command(moderator, "agenda.add_item", {"title": "Mine"})) == "forbidden"
    assert code_of(command(room["participant0"], "agenda.advance")) == "forbidden"
    assert code_of(command(room["rapporteur"], "agenda.start_item",
                           {"item_id": dialogue["item_ids"][0]})) == "forbidden"
    assert code_of(command(room["display"], "participant.set_channel", {"channel": "room"})) == "forbidden"
    assert code_of(command(moderator, "agenda.pause_item")) == "conflict"
    details = command(moderator, "agenda.advance", {"surprise": 1})["error"]["details"]
    assert details == [{"field": "surprise", "message": details[0]["message"]}]
    assert db_state(service) == before
    for client in room.values():
        assert "change" not in received(client)


def test_an_unknown_event_changes_nothing(room, service):
    before = db_state(service)
    ack = room["moderator"].emit("agenda.explode", {"payload": {}}, callback=True)
    assert not (isinstance(ack, dict) and ack.get("ok"))
    assert db_state(service) == before


def test_a_hint_reaches_every_participant_once_and_staff_once(app, connect, dialogue):
    """Hints go to the participants one slice of the room at a time; every
    connection is in exactly one slice, so each gets the hint once."""
    from moderation.web.realtime import HINT_SLICES
    did = dialogue["dialogue_id"]
    tokens = [dialogue["tokens"][name] for name in ("participant0", "participant1")]
    participants = [connect({"dialogue_id": did, "token": tokens[i % 2]}) for i in range(HINT_SLICES + 3)]
    staff = [connect({"dialogue_id": did, "token": dialogue["tokens"][role]})
             for role in ("moderator", "rapporteur", "display")]
    for client in participants + staff:
        assert client.is_connected()
        received(client)
    hint = {"dialogue_id": did, "version": 7, "published": 3}
    realtime(app).send_hint("inputs_hint", hint, did, ("participant", "display"))
    for client in participants + staff[2:]:
        assert received(client).get("inputs_hint") == [hint]
    for client in staff[:2]:
        assert "inputs_hint" not in received(client), "moderators and rapporteurs follow inputs as records"
    realtime(app).send_hint("presence", {"dialogue_id": did, "online": 2}, did, Role)
    for client in participants + staff:
        assert received(client).get("presence") == [{"dialogue_id": did, "online": 2}]


def test_the_snapshot_event_returns_the_current_state(room, service, dialogue):
    command(room["moderator"], "agenda.advance")
    for who in ("participant0", "moderator"):
        ack = room[who].emit("snapshot", callback=True)
        assert ack["ok"] is True
        snap = ack["snapshot"]
        assert snap["version"] == version_of(service, dialogue["dialogue_id"])
        assert snap["sections"]["agenda"]["current_item_id"] == dialogue["item_ids"][0]
        assert ("participants" in snap["sections"]) == (who == "moderator")


def test_a_participant_gets_private_updates(room, dialogue):
    ack = command(room["participant0"], "participant.set_channel", {"channel": "room"})
    assert ack["ok"], ack
    events = received(room["participant0"])
    assert events["private"][-1]["sections"]["me"]["participant"]["channel"] == "room"
    assert events["private"][-1]["version"] == ack["version"]
    assert "private" not in received(room["participant1"])


def test_an_exception_in_a_handler_is_an_internal_ack(room, service, dialogue, monkeypatch):
    def explode(ctx, payload):
        raise RuntimeError("a bug")

    monkeypatch.setattr(REGISTRY["agenda.advance"], "handler", explode)
    before = db_state(service)
    ack = command(room["moderator"], "agenda.advance")
    assert ack["ok"] is False and ack["error"]["code"] == "internal" and ack["error"]["message"]
    assert "a bug" not in str(ack)
    assert db_state(service) == before
    for client in room.values():
        assert "change" not in received(client)
    # The connection survives and the next command works.
    monkeypatch.undo()
    assert command(room["moderator"], "agenda.advance")["ok"] is True


# -- ending connections -----------------------------------------------------------------------
def test_revoking_a_link_ends_its_connections(app, room, service, dialogue, connect):
    did = dialogue["dialogue_id"]
    second_tab = connect({"dialogue_id": did, "token": dialogue["tokens"]["moderator"]})
    received(second_tab)
    ack = command(room["secretariat"], "access.revoke",
                  {"credential_id": dialogue["principals"]["moderator"].credential_id})
    assert ack["ok"], ack
    for client in (room["moderator"], second_tab):
        events = received(client)
        assert events["session_ended"][0]["reason"]
        assert not client.is_connected()
    assert all(c.principal != dialogue["principals"]["moderator"] for c in realtime(app).connections.values())
    for who in ("secretariat", "rapporteur", "display", "participant0", "participant1"):
        assert room[who].is_connected(), who
        assert "session_ended" not in received(room[who])
    # Reconnecting with the revoked link is refused.
    assert not connect({"dialogue_id": did, "token": dialogue["tokens"]["moderator"]}).is_connected()


def test_revoking_through_the_service_ends_connections_too(room, service, dialogue):
    run(service, "access.revoke", {"dialogue_id": dialogue["dialogue_id"],
                                   "credential_id": dialogue["principals"]["participant1"].credential_id})
    assert "session_ended" in received(room["participant1"])
    assert not room["participant1"].is_connected() and room["participant0"].is_connected()


@pytest.mark.parametrize("how", ["unassign", "end_sessions", "set_password"])
def test_a_users_sockets_end_when_its_roles_or_sessions_change(app, connect, service, dialogue, how):
    did = dialogue["dialogue_id"]
    run(service, "user.create", {"username": "chair", "password": "a long enough password"})
    run(service, "access.assign_role", {"dialogue_id": did, "username": "chair", "role": "moderator"})
    browser = browser_signed_in(app, service, "chair")
    client = connect({"dialogue_id": did}, flask_client=browser)
    assert client.is_connected()
    assert received(client)["snapshot"][0]["role"] == "moderator"
    assert command(client, "agenda.advance")["ok"] is True
    received(client)
    if how == "unassign":
        run(service, "access.unassign_role", {"dialogue_id": did, "username": "chair", "role": "moderator"})
    elif how == "end_sessions":
        run(service, "user.end_sessions", {"username": "chair"})
    else:
        run(service, "user.set_password", {"username": "chair", "password": "a different long password"})
    assert "session_ended" in received(client)
    assert not client.is_connected()
    assert not connect({"dialogue_id": did}, flask_client=browser).is_connected()


def test_a_command_after_the_link_was_revoked_elsewhere_is_refused(app, connect, service, dialogue):
    """Every event is authorized again: a connection whose link was revoked
    by another process (no disconnect here) gets link_revoked."""
    did = dialogue["dialogue_id"]
    client = connect({"dialogue_id": did, "token": dialogue["tokens"]["moderator"]})
    received(client)
    with service.db.sessions.begin() as s:
        from moderation.models import Credential, utcnow
        s.get(Credential, dialogue["principals"]["moderator"].credential_id).revoked_at = utcnow()
    ack = command(client, "agenda.advance")
    assert ack["ok"] is False and ack["error"]["code"] == "link_revoked"
    ack = client.emit("snapshot", callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "link_revoked"
