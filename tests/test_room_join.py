"""Joining from the room: the join code derived from the server's key (so
the secretariat and the display can show the current one at any time, and
nothing secret is stored), the display's QR value that stands for it, and
the pinned input leaving the screen when the agenda moves on.

The browser side (the display's QR code opened by a phone, the layout read
from the back of the room) is in tests/test_room_display.py.
"""
from __future__ import annotations

import re

import pytest
import test_pages
from conftest import run, seed_dialogue
from sqlalchemy import select
from test_command_layer import committed, refused
from test_pages import csrf_of

from moderation.core.errors import CommandError
from moderation.features.access.commands import STALE_PASS
from moderation.features.access.join_codes import ALPHABET, JoinKeys
from moderation.models import AuditEntry, Dialogue, Participant

service, seeded = test_pages.service, test_pages.seeded  # fixtures: the SQLite app's service, a dialogue


def open_join(service, did) -> str:
    """Turn joining on with a generated code; return the code."""
    return run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True})["code"]


def room_pass(service, did) -> str:
    with service.db.session() as s:
        dialogue = s.get(Dialogue, did)
        return service.join_keys.room_pass(did, dialogue.join_generation)


def join(service, did, name, organization="Victims' Voice", category="ngo", channel="room", **proof):
    return run(service, "participant.join_with_code", {"dialogue_id": did, "name": name,
                                                       "organization": organization, "category": category,
                                                       "channel": channel, **proof})


def channel_of(service, participant_id):
    with service.db.session() as s:
        participant = s.get(Participant, participant_id)
        return participant.channel, participant.alternate


# -- the code ----------------------------------------------------------------------------------------
def test_a_generated_code_is_derived_not_stored_and_a_new_one_revokes_the_old(service, seeded):
    did = seeded["dialogue_id"]
    first = committed(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True}).result["code"]
    assert re.fullmatch(f"[{ALPHABET}]{{8}}", first)
    with service.db.session() as s:
        dialogue = s.get(Dialogue, did)
        assert dialogue.join_code_hash is None and dialogue.join_generation == 1
        # Recomputed from the key and the generation: the same code, any time.
        assert service.join_keys.code(did, dialogue.join_generation) == first
        assert first not in str(s.scalars(select(AuditEntry.payload)).all())
    # Typed as people type it: lower case, with the display's space between the groups.
    joined = join(service, did, "Ana", code=f" {first[:4].lower()} {first[4:]} ", channel="online")
    assert channel_of(service, joined["participant_id"]) == ("online", False)
    second = open_join(service, did)
    assert second != first
    error = refused(service, "participant.join_with_code", {"dialogue_id": did, "code": first, "name": "Eve",
                                                             "organization": "Org"})
    assert error.message == "This join code is not valid for this dialogue."
    join(service, did, "Bo", code=second, channel="online")
    # Another key (another installation) derives other codes.
    assert JoinKeys("another key").code(did, 2) != second


def test_a_code_of_the_secretariats_own_is_kept_as_a_hash_and_still_works(service, seeded):
    did = seeded["dialogue_id"]
    result = run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "VIENNA-2026"})
    assert result["code"] == "VIENNA-2026"
    with service.db.session() as s:
        assert s.get(Dialogue, did).join_code_hash not in (None, "VIENNA-2026")
    join(service, did, "Ana", code="vienna-2026", channel="online")
    # ... and the QR value works with it too.
    join(service, did, "Bo", room_pass=room_pass(service, did), channel="online")


# -- the QR value ---------------------------------------------------------------------------------------
def test_the_qr_value_joins_without_the_code_and_keeps_the_organizations_places(service, seeded):
    did = seeded["dialogue_id"]
    open_join(service, did)
    value = room_pass(service, did)
    first = join(service, did, "Ana", room_pass=value)
    second = join(service, did, "Bo", organization="victims voice", room_pass=value)
    assert channel_of(service, first["participant_id"]) == ("room", False)
    assert channel_of(service, second["participant_id"]) == ("room", True)  # the alternate
    error = refused(service, "participant.join_with_code", {
        "dialogue_id": did, "name": "Cy", "organization": "Victims Voice", "category": "ngo", "channel": "room",
        "room_pass": value}, code="conflict")
    assert "one in-person participant plus one alternate" in error.message
    # A State party's delegation is not limited.
    for name in ("Dana", "Eli", "Fay"):
        joined = join(service, did, name, organization="Mission of Austria", category="state_party", room_pass=value)
        assert channel_of(service, joined["participant_id"]) == ("room", False)


def test_the_qr_value_stops_working_with_a_new_code_or_elsewhere(service, seeded):
    did = seeded["dialogue_id"]
    open_join(service, did)
    value = room_pass(service, did)
    other = seed_dialogue(service)["dialogue_id"]
    open_join(service, other)
    payload = {"name": "Eve", "organization": "Org", "room_pass": value}
    # Signed for another dialogue, altered, or signed with another key: refused.
    refused(service, "participant.join_with_code", {"dialogue_id": other, **payload})
    tampered = value[:-2] + ("yy" if value.endswith("xx") else "xx")
    refused(service, "participant.join_with_code", {"dialogue_id": did, **payload, "room_pass": tampered})
    foreign = JoinKeys("another key").room_pass(did, 1)
    refused(service, "participant.join_with_code", {"dialogue_id": did, **payload, "room_pass": foreign})
    open_join(service, did)  # a new code: the old QR value is revoked with it
    error = refused(service, "participant.join_with_code", {"dialogue_id": did, **payload})
    assert error.message == STALE_PASS
    join(service, did, "Ana", room_pass=room_pass(service, did))
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": False})
    refused(service, "participant.join_with_code", {"dialogue_id": did, **payload,
                                                    "room_pass": room_pass(service, did)})


def test_joining_needs_the_code_or_the_qr_value_not_both(service, seeded):
    did = seeded["dialogue_id"]
    code = open_join(service, did)
    base = {"dialogue_id": did, "name": "Eve", "organization": "Org"}
    refused(service, "participant.join_with_code", base, code="invalid_payload")
    refused(service, "participant.join_with_code", {**base, "code": code, "room_pass": room_pass(service, did)},
            code="invalid_payload")
    # A staff token is no QR value.
    token = seeded["tokens"]["moderator"]
    refused(service, "participant.join_with_code", {**base, "room_pass": token})
    with pytest.raises(CommandError):
        run(service, "participant.join_with_code", {**base, "room_pass": "not base64!"})


# -- who sees the code -------------------------------------------------------------------------------
def signed_in(app, token):
    client = app.test_client()
    assert client.get(f"/l/{token}").status_code == 302
    return client


def test_the_display_and_staff_see_the_current_code_participants_never(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    code = open_join(service, did)
    display = signed_in(sqlite_app, seeded["tokens"]["display"])
    answer = display.get(f"/d/{did}/join-code").get_json()
    assert answer["code"] == code and answer["enabled"] is True and answer["generation"] == 1
    assert answer["path"] == f"/d/{did}/join?t={room_pass(service, did)}"
    assert seeded["tokens"]["display"] not in answer["path"]
    assert signed_in(sqlite_app, seeded["tokens"]["moderator"]).get(f"/d/{did}/join-code").status_code == 200
    assert signed_in(sqlite_app, seeded["tokens"]["participant0"]).get(f"/d/{did}/join-code").status_code == 403
    assert sqlite_app.test_client().get(f"/d/{did}/join-code").status_code == 401
    # Over Socket.IO the dialogue section says only that joining is on, and which generation.
    snapshot = service.snapshot(seeded["principals"]["participant0"], did, "participant")
    assert code not in str(snapshot) and room_pass(service, did) not in str(snapshot)
    assert snapshot["sections"]["dialogue"]["join_generation"] == 1
    display_page = display.get(f"/d/{did}/display").get_data(as_text=True)
    assert f"<span>{code[:4]}</span><span>{code[4:]}</span>" in display_page
    assert f'data-join-path="/d/{did}/join?t={room_pass(service, did)}"' in display_page


def test_the_secretariat_sees_the_current_code_at_any_time(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    code = open_join(service, did)
    run(service, "user.create", {"username": "sec", "password": "a long password", "is_admin": True})
    client = sqlite_app.test_client()
    login = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "sec", "password": "a long password", "csrf_token": csrf_of(login)})
    html = client.get(f"/admin/d/{did}").get_data(as_text=True)
    assert f'<strong class="join-code" id="join-code">{code}</strong>' in html
    assert client.get(f"/d/{did}/join-code").get_json()["code"] == code


# -- the join page ---------------------------------------------------------------------------------------
def post_join(client, did, form_html, **proof):
    """Send the join form shown in ``form_html`` as Ana of Org A, in the room."""
    return client.post(f"/d/{did}/join", data={"name": "Ana", "organization": "Org A", "category": "ngo",
                                               "channel": "room", "csrf_token": csrf_of(form_html), **proof})


def scanned(app, service, did):
    """Joining open; a phone opens the display's QR link: (its client, the QR value, the form)."""
    open_join(service, did)
    value = room_pass(service, did)
    client = app.test_client()
    return client, value, client.get(f"/d/{did}/join?t={value}").get_data(as_text=True)


def test_the_qr_link_opens_a_form_without_the_code_starting_in_the_room(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client, value, html = scanned(sqlite_app, service, did)
    assert 'id="code"' not in html and f'name="room_pass" value="{value}"' in html
    assert re.search(r'value="room"[^>]*\schecked', html) and not re.search(r'value="online"[^>]*\schecked', html)
    response = post_join(client, did, html, room_pass=value)
    assert response.status_code == 302 and response.headers["Location"] == f"/d/{did}/participant"
    with service.db.session() as s:
        ana = s.scalar(select(Participant).where(Participant.name == "Ana"))
        assert ana.channel == "room" and ana.self_registered
    # Typed without the link: the form asks for the code, as before.
    assert 'id="code"' in sqlite_app.test_client().get(f"/d/{did}/join").get_data(as_text=True)


def test_an_old_qr_link_says_so_and_asks_for_the_code(sqlite_app, service, seeded):
    did = seeded["dialogue_id"]
    client, value, html = scanned(sqlite_app, service, did)
    code = open_join(service, did)  # issued meanwhile
    response = post_join(client, did, html, room_pass=value)
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "This QR code is no longer valid" in html
    assert 'id="code"' in html and 'name="room_pass"' not in html and 'value="Ana"' in html
    again = client.get(f"/d/{did}/join?t={value}").get_data(as_text=True)
    assert "This QR code is no longer valid" in again and 'id="code"' in again
    assert post_join(client, did, again, code=code).status_code == 302


# -- the pinned input leaves with its item -------------------------------------------------------------
@pytest.mark.parametrize("move", ["agenda.advance", "agenda.start_item", "agenda.end_item"])
def test_changing_the_current_item_unpins_the_input_for_everyone(service, seeded, move):
    did, items = seeded["dialogue_id"], seeded["item_ids"]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": items[0]})
    made = run(service, "inputs.submit", {"dialogue_id": did, "text": "Hear victims who cannot travel",
                                          "kind": "question"}, seeded["principals"]["participant0"])
    with service.db.session() as s:
        from moderation.models import Input
        published = s.get(Input, made["input_id"]).status == "published"
    if not published:
        run(service, "inputs.moderate", {"dialogue_id": did, "input_id": made["input_id"], "action": "approve"})
    run(service, "inputs.pin", {"dialogue_id": did, "input_id": made["input_id"]})
    assert service.snapshot(seeded["principals"]["participant0"], did, "participant")["sections"]["pinned"]
    payload = {"dialogue_id": did, **({"item_id": items[1]} if move == "agenda.start_item" else {})}
    outcome = committed(service, move, payload)
    assert "pinned" in outcome.touched
    with service.db.session() as s:
        assert s.get(Dialogue, did).pinned_input_id is None
    for who, role in (("participant0", "participant"), ("display", "display")):
        assert service.snapshot(seeded["principals"][who], did, role)["sections"]["pinned"] is None
    # Nothing pinned: moving on touches nothing more.
    if move != "agenda.end_item":
        assert "pinned" not in committed(service, "agenda.advance", {"dialogue_id": did}).touched


def test_the_typed_form_chooses_no_channel_for_the_person(sqlite_app, service, seeded):
    """The address and the code are on the room's screen (and the stream): the form typed from them
    preselects neither "Online" (wrong for the people in the room) nor "In the room"; the choice is
    required, and a form sent without it says so beside the question and keeps what was typed."""
    did = seeded["dialogue_id"]
    code = open_join(service, did)
    client = sqlite_app.test_client()
    html = client.get(f"/d/{did}/join").get_data(as_text=True)
    radios = re.findall(r'<input type="radio" name="channel"[^>]*>', html)
    assert len(radios) == 2 and all(" required" in r and "checked" not in r for r in radios), radios
    response = client.post(f"/d/{did}/join", data={"code": code, "name": "Ana", "organization": "Org A",
                                                   "category": "ngo", "csrf_token": csrf_of(html)})
    again = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="Ana"' in again
    assert re.search(r'id="channel-error">Choose “In the room” or “Online”.<', again), again
