"""Who may do what: the role matrix of every core command, credentials
scoped to their dialogue, revocation, user accounts and their sessions,
joining with a code, and switching channel. On SQLite and PostgreSQL."""
from __future__ import annotations

import itertools

import pytest
from conftest import run, seed_dialogue
from sqlalchemy import func, select
from test_command_layer import committed, refused

from moderation.core.auth import ANONYMOUS, SYSTEM, Principal, check_password, credential_for_token, hash_token
from moderation.core.commands import REGISTRY
from moderation.core.errors import CommandError
from moderation.features import load_features
from moderation.models import Credential, Participant, RoleAssignment, User

_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def make_user(service, *, admin: bool = False, password: str = "a long enough password") -> tuple[int, str]:
    username = unique("admin" if admin else "user")
    user_id = run(service, "user.create", {"username": username, "password": password, "is_admin": admin})["user_id"]
    return user_id, username


def epoch(service, user_id: int) -> int:
    with service.db.session() as s:
        return s.get(User, user_id).session_epoch


def user_principal(service, user_id: int) -> Principal:
    return Principal(user_id=user_id, session_epoch=epoch(service, user_id))


@pytest.fixture
def people(service, dialogue):
    """Everyone who might knock: by name, a principal."""
    did = dialogue["dialogue_id"]
    admin_id, _ = make_user(service, admin=True)
    chair_id, chair_name = make_user(service)
    run(service, "access.assign_role", {"dialogue_id": did, "username": chair_name, "role": "moderator"})
    token = run(service, "access.issue_api_token", {"dialogue_id": did, "role": "secretariat"})
    site_token = run(service, "access.issue_site_api_token", {"label": "Conference system"})
    nobody_id, _ = make_user(service)
    return {
        "admin": user_principal(service, admin_id),
        "site_token": Principal(credential_id=site_token["credential_id"]),
        "secretariat_token": Principal(credential_id=token["credential_id"]),
        "moderator": dialogue["principals"]["moderator"],
        "moderator_account": user_principal(service, chair_id),
        "rapporteur": dialogue["principals"]["rapporteur"],
        "display": dialogue["principals"]["display"],
        "participant": dialogue["principals"]["participant0"],
        "account_without_role": user_principal(service, nobody_id),
        "anonymous": ANONYMOUS,
    }


# -- the role matrix ----------------------------------------------------------------------
SECRETARIAT = {"admin", "site_token", "secretariat_token"}
CHAIR = SECRETARIAT | {"moderator", "moderator_account"}
ADMIN = {"admin", "site_token"}         # commands outside any dialogue: the whole site's secretariat only
EVERYONE = {"admin", "site_token", "secretariat_token", "moderator", "moderator_account", "rapporteur", "display",
            "participant", "account_without_role", "anonymous"}


def _new_item(service, d) -> int:
    return run(service, "agenda.add_item", {"dialogue_id": d["dialogue_id"]})["item_id"]


def _running_item(service, d) -> int:
    item_id = _new_item(service, d)
    run(service, "agenda.start_item", {"dialogue_id": d["dialogue_id"], "item_id": item_id})
    return item_id


def _agenda_undo(service, d) -> int:
    """Someone waits on a running item, which "next item" then ends: its undo."""
    item_id = _running_item(service, d)
    run(service, "queue.add_speaker", {"dialogue_id": d["dialogue_id"], "name": unique("Walk-in "), "channel": "room"})
    return run(service, "agenda.advance", {"dialogue_id": d["dialogue_id"], "from_item_id": item_id})["undo"]["id"]


def _paused_item(service, d) -> int:
    item_id = _running_item(service, d)
    run(service, "agenda.pause_item", {"dialogue_id": d["dialogue_id"]})
    return item_id


def _item_ids(service, d) -> list[int]:
    return [i["id"] for i in service.snapshot(SYSTEM, d["dialogue_id"])["sections"]["agenda"]["items"]]


def _assigned_user(service, d) -> str:
    run(service, "access.assign_role", {"dialogue_id": d["dialogue_id"], "username": d["plain_user"],
                                        "role": "rapporteur"})
    return d["plain_user"]


def _join_code(service, d) -> str:
    run(service, "dialogue.configure_join", {"dialogue_id": d["dialogue_id"], "enabled": True, "code": "OPEN-SESAME"})
    return "OPEN-SESAME"


# command -> (roles allowed, how to make a payload that succeeds for them)
MATRIX = {
    "agenda.start_item": (CHAIR, lambda s, d: {"item_id": _new_item(s, d)}),
    "agenda.pause_item": (CHAIR, lambda s, d: {"item_id": _running_item(s, d)}),
    "agenda.resume_item": (CHAIR, lambda s, d: {"item_id": _paused_item(s, d)}),
    "agenda.end_item": (CHAIR, lambda s, d: {"item_id": _running_item(s, d)}),
    "agenda.advance": (CHAIR, lambda s, d: {"from_item_id": _running_item(s, d)}),
    "agenda.undo": (CHAIR, lambda s, d: {"undo_id": _agenda_undo(s, d)}),
    "agenda.adjust_time": (CHAIR, lambda s, d: {"item_id": _running_item(s, d), "seconds": 120}),
    "agenda.add_item": (SECRETARIAT, lambda s, d: {"title": unique("Item ")}),
    "agenda.update_item": (SECRETARIAT, lambda s, d: {"item_id": _new_item(s, d), "title": unique("Renamed ")}),
    "agenda.remove_item": (SECRETARIAT, lambda s, d: {"item_id": _new_item(s, d)}),
    "agenda.reorder": (SECRETARIAT, lambda s, d: {"item_ids": _item_ids(s, d)[::-1]}),
    "dialogue.update": (SECRETARIAT, lambda s, d: {"venue": unique("Room ")}),
    "dialogue.configure_join": (SECRETARIAT, lambda s, d: {"enabled": True}),
    "participant.register": (SECRETARIAT, lambda s, d: {"name": unique("Person ")}),
    "access.issue_link": (SECRETARIAT, lambda s, d: {"role": "display"}),
    "access.issue_api_token": (SECRETARIAT, lambda s, d: {"role": "rapporteur"}),
    "access.revoke": (SECRETARIAT, lambda s, d: {"credential_id": run(s, "access.issue_link", {
        "dialogue_id": d["dialogue_id"], "role": "display"})["credential_id"]}),
    "access.assign_role": (SECRETARIAT, lambda s, d: {"username": d["plain_user"], "role": "moderator"}),
    "access.unassign_role": (SECRETARIAT, lambda s, d: {"username": _assigned_user(s, d), "role": "rapporteur"}),
    "participant.set_channel": (CHAIR | {"participant"}, lambda s, d: {"participant_id": d["participant_ids"][0],
                                                                       "channel": "room"}),
    "participant.join_with_code": (EVERYONE, lambda s, d: {"code": _join_code(s, d), "name": unique("Guest "),
                                                           "organization": "Civil Society Org"}),
    "dialogue.create": (ADMIN, lambda s, d: {"topic": "firearms"}),
    "user.create": (ADMIN, lambda s, d: {"username": unique("new"), "password": "a long enough password"}),
    "user.end_sessions": (ADMIN, lambda s, d: {"username": d["plain_user"]}),
    "user.set_password": (ADMIN, lambda s, d: {"username": d["plain_user"], "password": "another long password"}),
    "user.issue_sign_in_link": (ADMIN, lambda s, d: {"username": d["admin_user"]}),
    "access.issue_site_api_token": (ADMIN, lambda s, d: {"label": unique("Integration ")}),
    "access.revoke_site_api_token": (ADMIN, lambda s, d: {"credential_id": run(
        s, "access.issue_site_api_token", {})["credential_id"]}),
}
CORE_PREFIXES = ("agenda.", "dialogue.", "participant.", "access.", "user.")


def test_the_matrix_covers_every_core_command():
    load_features()
    core = {name for name in REGISTRY if name.startswith(CORE_PREFIXES)}
    assert core == set(MATRIX)


def test_role_matrix(service, dialogue, people):
    """For every core command and everyone: the allowed succeed (version + 1,
    one audit entry), the others are refused with ``forbidden`` (anonymous:
    ``unauthenticated``) and nothing changes."""
    did = dialogue["dialogue_id"]
    problems = []
    # Accounts the payloads name (hashing passwords is slow: few accounts, reused).
    context = {**dialogue, "plain_user": make_user(service)[1], "admin_user": make_user(service, admin=True)[1]}

    def payload_for(name):
        payload = MATRIX[name][1](service, context)
        return {"dialogue_id": did, **payload} if REGISTRY[name].dialogue_scoped else payload

    for name, (allowed, _) in MATRIX.items():
        # A refusal changes nothing, so one payload serves every refusal.
        shared = payload_for(name)
        for who, principal in people.items():
            try:
                if who in allowed:
                    committed(service, name, payload_for(name), principal)
                else:
                    refused(service, name, shared, principal,
                            code="unauthenticated" if who == "anonymous" else "forbidden")
            except (AssertionError, CommandError) as exc:
                problems.append(f"{name} by {who}: {exc!r}")
    assert not problems, "\n".join(problems)


# -- credentials belong to one dialogue -------------------------------------------------------
def test_credentials_only_work_in_their_own_dialogue(service, dialogue, people):
    a = dialogue
    b = seed_dialogue(service, items=(("generic", 5),), participants=(("Other Person", "room", "ngo"),))
    bid = b["dialogue_id"]
    refused(service, "agenda.advance", {"dialogue_id": bid}, a["principals"]["moderator"])
    refused(service, "agenda.add_item", {"dialogue_id": bid}, people["secretariat_token"])
    refused(service, "access.revoke", {"dialogue_id": bid, "credential_id": b["principals"]["moderator"].credential_id},
            people["secretariat_token"])
    refused(service, "participant.set_channel", {"dialogue_id": bid, "channel": "room"}, a["principals"]["participant0"])
    refused(service, "agenda.advance", {"dialogue_id": bid}, people["moderator_account"])
    # ... and may not read the other dialogue either.
    for principal in (a["principals"]["moderator"], a["principals"]["participant0"], people["moderator_account"]):
        with pytest.raises(CommandError) as caught:
            service.snapshot(principal, bid)
        assert caught.value.code == "forbidden"
    # The global secretariat works everywhere.
    committed(service, "agenda.advance", {"dialogue_id": bid}, people["admin"])
    # A credential of A cannot revoke or reach B's credentials through A either.
    refused(service, "access.revoke", {"dialogue_id": a["dialogue_id"],
                                       "credential_id": b["principals"]["moderator"].credential_id},
            code="not_found")
    refused(service, "access.issue_link", {"dialogue_id": a["dialogue_id"], "role": "participant",
                                           "participant_id": b["participant_ids"][0]}, code="not_found")
    refused(service, "participant.set_channel", {"dialogue_id": a["dialogue_id"], "channel": "room",
                                                 "participant_id": b["participant_ids"][0]},
            a["principals"]["moderator"], code="not_found")


def test_a_revoked_link_stops_working_at_once(service, dialogue):
    did, moderator = dialogue["dialogue_id"], dialogue["principals"]["moderator"]
    committed(service, "agenda.advance", {"dialogue_id": did}, moderator)
    outcome = committed(service, "access.revoke", {"dialogue_id": did, "credential_id": moderator.credential_id})
    assert ("disconnect_credential", moderator.credential_id) in outcome.effects
    error = refused(service, "agenda.advance", {"dialogue_id": did}, moderator, code="link_revoked")
    assert error.status == 401
    with pytest.raises(CommandError) as caught:
        service.snapshot(moderator, did)
    assert caught.value.code == "link_revoked"
    with service.db.session() as s:
        assert credential_for_token(s, dialogue["tokens"]["moderator"]) is None
        revoked_at = s.get(Credential, moderator.credential_id).revoked_at
    # Revoking again is harmless and keeps the first time.
    committed(service, "access.revoke", {"dialogue_id": did, "credential_id": moderator.credential_id})
    with service.db.session() as s:
        assert s.get(Credential, moderator.credential_id).revoked_at == revoked_at
    # Other links of the dialogue still work.
    committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "room"},
              dialogue["principals"]["participant0"])


def test_tokens_are_stored_hashed(service, dialogue):
    token = dialogue["tokens"]["moderator"]
    with service.db.session() as s:
        stored = s.scalars(select(Credential.token_hash)).all()
        assert token not in stored and hash_token(token) in stored
        credential = credential_for_token(s, token)
        assert credential.id == dialogue["principals"]["moderator"].credential_id
        assert credential_for_token(s, token, kind="api") is None
        assert credential_for_token(s, dialogue["tokens"]["api_moderator"], kind="api").role == "moderator"
        assert credential_for_token(s, token + "x") is None and credential_for_token(s, "") is None


def test_issue_link_checks_participant_links(service, dialogue):
    did = dialogue["dialogue_id"]
    refused(service, "access.issue_link", {"dialogue_id": did, "role": "participant"}, code="invalid_payload")
    refused(service, "access.issue_link", {"dialogue_id": did, "role": "display",
                                           "participant_id": dialogue["participant_ids"][0]}, code="invalid_payload")
    refused(service, "access.issue_link", {"dialogue_id": did, "role": "secretariat"}, code="invalid_payload")
    result = committed(service, "access.issue_link", {"dialogue_id": did, "role": "participant",
                                                      "participant_id": dialogue["participant_ids"][1]}).result
    principal = Principal(credential_id=result["credential_id"])
    me = service.snapshot(principal, did)["sections"]["me"]
    assert me["role"] == "participant" and me["participant"]["id"] == dialogue["participant_ids"][1]
    assert me["name"] == "Jonas Lindqvist"


# -- user accounts ------------------------------------------------------------------------------
def test_role_assignments_give_roles_per_dialogue(service, dialogue):
    a = dialogue["dialogue_id"]
    b = seed_dialogue(service, items=(("generic", 5),), participants=())["dialogue_id"]
    user_id, name = make_user(service)
    user = user_principal(service, user_id)
    refused(service, "agenda.advance", {"dialogue_id": a}, user)
    committed(service, "access.assign_role", {"dialogue_id": a, "username": name, "role": "moderator"})
    committed(service, "access.assign_role", {"dialogue_id": a, "username": name, "role": "moderator"})  # twice: once
    committed(service, "access.assign_role", {"dialogue_id": b, "username": name, "role": "rapporteur"})
    with service.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RoleAssignment).where(RoleAssignment.user_id == user_id)) == 2
    committed(service, "agenda.advance", {"dialogue_id": a}, user)
    refused(service, "agenda.advance", {"dialogue_id": b}, user)   # rapporteur there
    assert service.snapshot(user, a)["role"] == "moderator"
    assert service.snapshot(user, b)["role"] == "rapporteur"

    outcome = committed(service, "access.unassign_role", {"dialogue_id": a, "username": name, "role": "moderator"})
    assert ("refresh_user", user_id) in outcome.effects
    refused(service, "agenda.advance", {"dialogue_id": a}, user)
    with pytest.raises(CommandError) as caught:
        service.snapshot(user, a)
    assert caught.value.code == "forbidden"
    assert service.snapshot(user, b)["role"] == "rapporteur"     # the other dialogue is untouched
    refused(service, "access.unassign_role", {"dialogue_id": a, "username": name, "role": "moderator"},
            code="not_found")
    refused(service, "access.assign_role", {"dialogue_id": a, "username": "no-such-user", "role": "moderator"},
            code="not_found")
    refused(service, "access.assign_role", {"dialogue_id": a, "username": name, "role": "secretariat"},
            code="invalid_payload")


@pytest.mark.parametrize("command", ["user.end_sessions", "user.set_password"])
def test_ending_sessions_refuses_the_old_principal(service, dialogue, command):
    did = dialogue["dialogue_id"]
    user_id, name = make_user(service, admin=True)
    old = user_principal(service, user_id)
    committed(service, "agenda.advance", {"dialogue_id": did}, old)
    payload = {"username": name}
    if command == "user.set_password":
        payload["password"] = "a brand new password"
    outcome = committed(service, command, payload)
    assert ("refresh_user", user_id) in outcome.effects
    assert epoch(service, user_id) == old.session_epoch + 1
    error = refused(service, "agenda.advance", {"dialogue_id": did}, old, code="unauthenticated")
    assert error.status == 401
    refused(service, "user.create", {"username": "x" + name, "password": "long enough password"}, old,
            code="unauthenticated")
    with pytest.raises(CommandError):
        service.snapshot(old, did)
    # A new sign-in (the new epoch) works.
    committed(service, "agenda.advance", {"dialogue_id": did}, user_principal(service, user_id))
    if command == "user.set_password":
        with service.db.session() as s:
            stored = s.get(User, user_id).password_hash
        assert check_password(stored, "a brand new password")
        assert not check_password(stored, "a long enough password")


def test_user_create_refuses_duplicates_and_weak_input(service):
    committed(service, "user.create", {"username": "amina", "password": "a long enough password"})
    refused(service, "user.create", {"username": "amina", "password": "a long enough password"}, code="conflict")
    for bad in ({"username": "amina two", "password": "a long enough password"},
                {"username": "ok", "password": "short"},
                {"username": "", "password": "a long enough password"},
                {"username": "ok", "password": "a long enough password", "role": "god"}):
        refused(service, "user.create", bad, code="invalid_payload")
    refused(service, "user.end_sessions", {"username": "nobody"}, code="not_found")


def test_sign_in_links_are_for_secretariat_accounts(service):
    _, plain = make_user(service)
    refused(service, "user.issue_sign_in_link", {"username": plain}, code="invalid_payload")
    admin_id, admin = make_user(service, admin=True)
    result = committed(service, "user.issue_sign_in_link", {"username": admin}).result
    with service.db.session() as s:
        credential = credential_for_token(s, result["token"], kind="link")
        assert (credential.role, credential.dialogue_id, credential.user_id) == ("secretariat", None, admin_id)


def test_account_without_role_is_forbidden_and_anonymous_unauthenticated(service, dialogue, people):
    did = dialogue["dialogue_id"]
    for who, code in (("account_without_role", "forbidden"), ("anonymous", "unauthenticated")):
        with pytest.raises(CommandError) as caught:
            service.snapshot(people[who], did)
        assert caught.value.code == code
    with pytest.raises(CommandError) as caught:
        service.snapshot(people["admin"], 999999)
    assert caught.value.code == "not_found"


def test_snapshot_role_choice(service, dialogue, people):
    did = dialogue["dialogue_id"]
    assert service.snapshot(people["admin"], did)["role"] == "secretariat"
    assert service.snapshot(people["moderator"], did)["role"] == "moderator"
    assert service.snapshot(people["moderator"], did, "moderator")["role"] == "moderator"
    for principal, role, code in ((people["participant"], "moderator", "forbidden"),
                                  (people["moderator"], "secretariat", "forbidden"),
                                  (people["anonymous"], "display", "unauthenticated"),
                                  (people["moderator"], "emperor", "invalid_payload")):
        with pytest.raises(CommandError) as caught:
            service.snapshot(principal, did, role)
        assert caught.value.code == code, (role, caught.value.code)


# -- joining with a code --------------------------------------------------------------------------
def test_join_with_code(service, dialogue):
    did = dialogue["dialogue_id"]
    join = {"dialogue_id": did, "code": "VIENNA-2026", "name": "Rosa Díaz", "organization": "Red Cross Youth",
            "category": "ngo", "channel": "room"}
    refused(service, "participant.join_with_code", join, ANONYMOUS, code="forbidden")        # not enabled
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "VIENNA-2026"})
    refused(service, "participant.join_with_code", {**join, "code": "VIENNA-2025"}, ANONYMOUS, code="forbidden")
    other = seed_dialogue(service, items=(), participants=())["dialogue_id"]
    refused(service, "participant.join_with_code", {**join, "dialogue_id": other}, ANONYMOUS, code="forbidden")
    refused(service, "participant.join_with_code", {**join, "name": ""}, ANONYMOUS, code="invalid_payload")

    outcome = committed(service, "participant.join_with_code", {**join, "code": "  vienna-2026 "}, ANONYMOUS)
    result = outcome.result
    assert set(result) == {"participant_id", "credential_id", "token"}
    with service.db.session() as s:
        participant = s.get(Participant, result["participant_id"])
        assert (participant.name, participant.channel, participant.self_registered, participant.dialogue_id) == \
            ("Rosa Díaz", "room", True, did)
        assert participant.organization.name == "Red Cross Youth" and participant.organization.category == "ngo"
        credential = credential_for_token(s, result["token"], kind="link")
        assert (credential.id, credential.role, credential.participant_id, credential.dialogue_id) == \
            (result["credential_id"], "participant", result["participant_id"], did)
    joined = Principal(credential_id=result["credential_id"])
    snap = service.snapshot(joined, did)
    assert snap["role"] == "participant" and snap["sections"]["me"]["participant"]["name"] == "Rosa Díaz"
    # One in-person participant plus one alternate per organization, also
    # for those who join with the code: the third from the same organization
    # is refused (nothing stored) and may join online.
    second = committed(service, "participant.join_with_code", {**join, "name": "Ana Ruiz"}, ANONYMOUS).result
    with service.db.session() as s:
        assert s.get(Participant, second["participant_id"]).alternate is True
        assert s.get(Participant, result["participant_id"]).alternate is False
    third = refused(service, "participant.join_with_code", {**join, "name": "Eva Sol"}, ANONYMOUS, code="conflict")
    assert "Rosa Díaz and Ana Ruiz" in third.message
    committed(service, "participant.join_with_code", {**join, "name": "Eva Sol", "channel": "online"}, ANONYMOUS)
    committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "online"}, joined)
    # Closing the door refuses the same code afterwards.
    run(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": False})
    refused(service, "participant.join_with_code", join, ANONYMOUS, code="forbidden")


# -- switching channel ------------------------------------------------------------------------------
def test_set_channel(service, dialogue, people):
    did = dialogue["dialogue_id"]
    own, other = dialogue["participant_ids"]
    participant = dialogue["principals"]["participant0"]
    outcome = committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "online"}, participant)
    assert outcome.result == {"participant_id": own, "channel": "online"}
    assert "participants" in outcome.touched
    committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "room", "participant_id": own},
              participant)
    refused(service, "participant.set_channel", {"dialogue_id": did, "channel": "room", "participant_id": other},
            participant, code="forbidden")
    committed(service, "participant.set_channel", {"dialogue_id": did, "channel": "room", "participant_id": other},
              people["moderator"])
    refused(service, "participant.set_channel", {"dialogue_id": did, "channel": "room"}, people["moderator"],
            code="invalid_payload")   # a moderator has no own channel: say whom
    refused(service, "participant.set_channel", {"dialogue_id": did, "channel": "moon", "participant_id": own},
            people["moderator"], code="invalid_payload")
    with service.db.session() as s:
        assert s.get(Participant, other).channel == "room" and s.get(Participant, own).channel == "room"
