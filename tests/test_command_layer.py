"""The command layer itself: validation, one transaction per command, the
version and the audit log, idempotency keys, and what a refusal leaves behind
(nothing). Runs on SQLite and PostgreSQL, without a server.

The helpers ``db_state``, ``committed`` and ``refused`` are shared with the
other command suites (``from test_command_layer import ...``)."""
from __future__ import annotations

import typing

import pytest
from concurrency import all_at_once
from conftest import run, seed_dialogue
from pydantic import BaseModel
from sqlalchemy import func, select

from moderation.core.auth import SYSTEM, Principal
from moderation.core.commands import REGISTRY, DialoguePayload, command
from moderation.core.errors import CommandError
from moderation.core.execution import execute
from moderation.features import load_features
from moderation.models import AgendaItem, AuditEntry, Base, Dialogue, IdempotencyRecord, Role


# -- helpers shared by the command suites --------------------------------------------
def db_state(service) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order: two equal states mean
    that nothing at all was written in between. (Plain driver SQL on one
    connection: this runs before and after every refusal.)"""
    with service.db.engine.connect() as connection:
        state = {}
        for table in Base.metadata.sorted_tables:
            order = ", ".join(column.name for column in table.primary_key.columns)
            state[table.name] = [tuple(row) for row in connection.exec_driver_sql(
                f"SELECT * FROM {table.name} ORDER BY {order}")]
        connection.rollback()
        return state


def version_of(service, dialogue_id: int) -> int:
    with service.db.session() as s:
        return s.scalar(select(Dialogue.version).where(Dialogue.id == dialogue_id))


def audit_entries(service, dialogue_id: int | None = None) -> list:
    """Audit rows (plain rows, usable after the session is gone)."""
    table = AuditEntry.__table__
    with service.db.session() as s:
        query = select(table).order_by(table.c.id)
        if dialogue_id is not None:
            query = query.where(table.c.dialogue_id == dialogue_id)
        return list(s.execute(query))


def committed(service, name: str, payload: dict, principal: Principal = SYSTEM, key: str | None = None):
    """Run a command that must succeed and check the bookkeeping every
    command owes: the dialogue's version goes up by exactly one, and exactly
    one audit entry names the command and that version. Returns the Outcome."""
    dialogue_id = payload.get("dialogue_id")
    before_version = version_of(service, dialogue_id) if dialogue_id is not None else None
    before_audit = len(audit_entries(service))
    outcome = service.dispatch(principal, name, payload, key)
    assert not outcome.replayed
    new_audit = audit_entries(service)[before_audit:]
    assert len(new_audit) == 1, f"{name} wrote {len(new_audit)} audit entries"
    assert new_audit[0].command == name
    if dialogue_id is not None:
        assert outcome.version == before_version + 1 == version_of(service, dialogue_id)
        assert new_audit[0].dialogue_id == dialogue_id
        assert new_audit[0].version == outcome.version
    return outcome


def refused(service, name: str, payload, principal: Principal = SYSTEM, code: str = "forbidden",
            key=None) -> CommandError:
    """Run a command that must be refused with ``code`` and check that the
    database is exactly as it was (version, audit log, every row)."""
    before = db_state(service)
    with pytest.raises(CommandError) as caught:
        service.dispatch(principal, name, payload, key)
    assert caught.value.code == code, (caught.value.code, caught.value.message)
    assert db_state(service) == before, f"refused {name} changed the database"
    return caught.value


# -- a test-only command that writes before it fails -----------------------------------
class _ProbePayload(DialoguePayload):
    outcome: str = "ok"


@pytest.fixture
def probe_command():
    """``test.probe`` adds an agenda item, then succeeds, refuses or crashes."""

    def probe(ctx, p: _ProbePayload):
        ctx.session.add(AgendaItem(dialogue_id=ctx.require_dialogue().id, position=99, item_type="generic",
                                   title="probe", planned_seconds=60, status="pending", elapsed_seconds=0.0))
        ctx.session.flush()
        if p.outcome == "refuse":
            raise CommandError("conflict", "refused after writing")
        if p.outcome == "crash":
            raise RuntimeError("crashed after writing")
        ctx.touch("agenda")
        return {"probe": True}

    command("test.probe", payload=_ProbePayload, roles={Role.SECRETARIAT, Role.MODERATOR},
            operation_id="testProbe", http_path="/dialogues/{dialogue_id}/test-probe")(probe)
    yield "test.probe"
    REGISTRY.pop("test.probe", None)


# -- transactions, version, audit ----------------------------------------------------------
def test_a_command_bumps_the_version_once_and_writes_one_audit_entry(service, dialogue):
    outcome = committed(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]},
                        dialogue["principals"]["moderator"])
    entry = audit_entries(service, dialogue["dialogue_id"])[-1]
    assert entry.role == "moderator" and entry.actor == "moderator"
    assert entry.payload == {"dialogue_id": dialogue["dialogue_id"], "from_item_id": None}
    assert "agenda" in outcome.touched  # the queue sections follow the current item too
    assert outcome.result == {"current_item_id": dialogue["item_ids"][0]}


def test_versions_are_consecutive_across_commands(service, dialogue):
    did = dialogue["dialogue_id"]
    start = version_of(service, did)
    versions = [service.dispatch(dialogue["principals"]["moderator"], "agenda.advance",
                                 {"dialogue_id": did}).version for _ in range(4)]
    assert versions == [start + 1, start + 2, start + 3, start + 4]
    assert [e.version for e in audit_entries(service, did)][-4:] == versions


def test_a_crash_after_writing_rolls_everything_back(service, dialogue, probe_command):
    before = db_state(service)
    with pytest.raises(RuntimeError):
        service.dispatch(SYSTEM, probe_command, {"dialogue_id": dialogue["dialogue_id"], "outcome": "crash"})
    assert db_state(service) == before


def test_a_refusal_after_writing_rolls_everything_back(service, dialogue, probe_command):
    refused(service, probe_command, {"dialogue_id": dialogue["dialogue_id"], "outcome": "refuse"},
            code="conflict")
    outcome = committed(service, probe_command, {"dialogue_id": dialogue["dialogue_id"]})
    assert outcome.result == {"probe": True}


def test_unknown_dialogue_is_not_found_and_creates_nothing(service, dialogue):
    refused(service, "agenda.advance", {"dialogue_id": 987654}, code="not_found")


def test_unknown_command(service):
    for name in ("no.such.command", "", None, 42, ["agenda.advance"]):
        with pytest.raises(CommandError) as caught:
            service.dispatch(SYSTEM, name, {})
        assert caught.value.code == "unknown_command" and caught.value.status == 404


def test_a_payload_that_is_not_an_object_is_refused(service, dialogue):
    for payload in (None, [], "text", 12, [{"dialogue_id": dialogue["dialogue_id"]}]):
        refused(service, "agenda.advance", payload, code="invalid_payload")


INVALID = [
    ({}, "dialogue_id"),                                        # missing
    ({"dialogue_id": "1"}, "dialogue_id"),                      # no coercion from strings
    ({"dialogue_id": 1.0}, "dialogue_id"),                      # nor from floats
    ({"dialogue_id": True}, "dialogue_id"),                     # nor from booleans
    ({"dialogue_id": 1, "from_item_id": "2"}, "from_item_id"),
    ({"dialogue_id": 1, "surprise": 1}, "surprise"),            # unknown fields are refused
]


def test_invalid_payloads_name_the_field(service, dialogue):
    for payload, field in INVALID:
        error = refused(service, "agenda.advance", payload, code="invalid_payload")
        assert field in {d["field"] for d in error.details}, payload
        assert error.status == 422


def payload_models(model, seen=None):
    """``model`` and every model nested in its fields (lists, optionals and unions included)."""
    seen = set() if seen is None else seen
    if model in seen:
        return seen
    seen.add(model)
    pending = [field.annotation for field in model.model_fields.values()]
    while pending:
        annotation = pending.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            payload_models(annotation, seen)
        pending.extend(typing.get_args(annotation))
    return seen


def test_every_model_in_a_payload_refuses_unknown_fields_and_coercion():
    """A nested model (an assignment in a batch, a participant in an
    application) is checked as strictly as the payload around it: ``true``
    is not the input 1, ``"15"`` is not the theme 15, and a field the
    command does not know is refused, not dropped."""
    load_features()
    lax = sorted(f"{name}: {model.__name__}" for name, spec in REGISTRY.items()
                 for model in payload_models(spec.payload)
                 if model.model_config.get("extra") != "forbid" or not model.model_config.get("strict"))
    assert not lax, f"payload models that coerce or drop fields: {lax}"
    nested = {model for spec in REGISTRY.values() for model in payload_models(spec.payload)} - {
        spec.payload for spec in REGISTRY.values()}
    assert len(nested) >= 3  # the walk reaches nested models


def test_validation_details_do_not_echo_the_input(service, dialogue):
    secret = "hunter2-is-not-a-number"
    error = refused(service, "agenda.advance", {"dialogue_id": secret}, code="invalid_payload")
    assert secret not in repr(error.to_dict())


def test_secrets_are_kept_out_of_the_audit_log(service, dialogue):
    did = dialogue["dialogue_id"]
    committed(service, "user.create", {"username": "ada", "password": "correct horse battery"})
    committed(service, "user.set_password", {"username": "ada", "password": "another long password"})
    committed(service, "dialogue.configure_join", {"dialogue_id": did, "enabled": True, "code": "SECRET-42"})
    committed(service, "participant.join_with_code", {"dialogue_id": did, "code": "SECRET-42", "name": "Zoe",
                                                      "organization": "Org"})
    logged = repr([e.payload for e in audit_entries(service)])
    for secret in ("correct horse battery", "another long password", "SECRET-42"):
        assert secret not in logged
    assert "ada" in logged and "Zoe" in logged


def test_commands_without_a_dialogue_have_no_version(service):
    outcome = committed(service, "user.create", {"username": "ben", "password": "a long password!"})
    assert outcome.version is None and outcome.dialogue_id is None
    entry = audit_entries(service)[-1]
    assert entry.dialogue_id is None and entry.version is None and entry.role == "secretariat"


def test_dialogue_create_starts_at_version_one(service):
    outcome = committed(service, "dialogue.create", {"topic": "firearms"})
    assert outcome.version == 1 and version_of(service, outcome.dialogue_id) == 1
    entry = audit_entries(service)[-1]
    assert entry.dialogue_id == outcome.dialogue_id and entry.version == 1


def test_changes_are_built_per_role_inside_the_transaction(service, dialogue):
    did = dialogue["dialogue_id"]
    outcome = committed(service, "participant.register", {
        "dialogue_id": did, "name": "Chen Wei", "email": "chen@example.org", "channel": "room"})
    changes = outcome.changes.roles
    # Roles that may not see participants get no message at all (nothing to show).
    assert set(changes) == {Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR}
    assert {m["version"] for m in changes.values()} == {outcome.version}
    by_role = {role: {p["name"]: p for p in changes[role]["sections"]["participants"]}
               for role in (Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR)}
    assert by_role[Role.SECRETARIAT]["Chen Wei"]["email"] == "chen@example.org"
    assert "email" not in by_role[Role.MODERATOR]["Chen Wei"]
    assert "email" not in by_role[Role.RAPPORTEUR]["Chen Wei"]


# -- idempotency ----------------------------------------------------------------------------
def test_the_same_key_replays_the_stored_answer(service, dialogue):
    did, moderator = dialogue["dialogue_id"], dialogue["principals"]["moderator"]
    first = committed(service, "agenda.advance", {"dialogue_id": did}, moderator, key="advance-0001")
    before = db_state(service)
    again = service.dispatch(moderator, "agenda.advance", {"dialogue_id": did}, "advance-0001")
    assert again.replayed is True
    assert (again.version, again.result, again.dialogue_id) == (first.version, first.result, did)
    assert again.ack() == {"ok": True, "version": first.version, "result": first.result, "replayed": True}
    assert db_state(service) == before
    # The stored answer wins even if the retry's payload differs: it is the same write.
    third = service.dispatch(moderator, "agenda.advance", {"dialogue_id": did, "from_item_id": 12345},
                             "advance-0001")
    assert third.replayed and third.result == first.result
    assert db_state(service) == before


def test_the_same_key_for_another_command_is_a_conflict(service, dialogue):
    did, moderator = dialogue["dialogue_id"], dialogue["principals"]["moderator"]
    committed(service, "agenda.advance", {"dialogue_id": did}, moderator, key="shared-key-1")
    refused(service, "agenda.pause_item", {"dialogue_id": did}, moderator, code="conflict", key="shared-key-1")


def test_a_key_used_in_one_dialogue_is_a_conflict_in_another(service, dialogue):
    """The stored answer is another dialogue's version and result: replaying
    it would tell the client that a write was done that never was."""
    first = committed(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]}, key="key-across-1")
    other = seed_dialogue(service)["dialogue_id"]
    error = refused(service, "agenda.advance", {"dialogue_id": other}, code="conflict", key="key-across-1")
    assert "another dialogue" in error.message
    again = service.dispatch(SYSTEM, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]}, "key-across-1")
    assert again.replayed and again.version == first.version


def test_keys_are_per_principal(service, dialogue):
    did = dialogue["dialogue_id"]
    one = committed(service, "agenda.advance", {"dialogue_id": did}, dialogue["principals"]["moderator"],
                    key="same-key-for-both")
    two = committed(service, "agenda.advance", {"dialogue_id": did}, SYSTEM, key="same-key-for-both")
    assert two.version == one.version + 1
    assert two.result["current_item_id"] == dialogue["item_ids"][1]
    with service.db.session() as s:
        scopes = sorted(s.scalars(select(IdempotencyRecord.scope).where(
            IdempotencyRecord.key == "same-key-for-both")))
    assert scopes == sorted([dialogue["principals"]["moderator"].scope, "system"])


def test_a_refused_write_stores_no_key(service, dialogue):
    did, moderator = dialogue["dialogue_id"], dialogue["principals"]["moderator"]
    refused(service, "agenda.advance", {"dialogue_id": did, "from_item_id": dialogue["item_ids"][2]},
            moderator, code="conflict", key="retry-after-refusal")
    outcome = committed(service, "agenda.advance", {"dialogue_id": did}, moderator, key="retry-after-refusal")
    assert outcome.result["current_item_id"] == dialogue["item_ids"][0]


def test_a_replay_is_still_authorized(service, dialogue):
    """A key does not outlive the right to write: after revocation the replay
    is refused too."""
    did = dialogue["dialogue_id"]
    moderator = dialogue["principals"]["moderator"]
    committed(service, "agenda.advance", {"dialogue_id": did}, moderator, key="before-revoke")
    committed(service, "access.revoke", {"dialogue_id": did, "credential_id": moderator.credential_id})
    refused(service, "agenda.advance", {"dialogue_id": did}, moderator, code="link_revoked", key="before-revoke")


def test_malformed_keys_are_refused(service, dialogue):
    for key in ("short", "", "has space in it", "x" * 101, "ümlaut-key", "semi;colon-key", 12345678,
                ["list-of-key"]):
        error = refused(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]},
                        dialogue["principals"]["moderator"], code="invalid_payload", key=key)
        assert "idempotency key" in error.message


def test_well_formed_keys_are_accepted(service, dialogue):
    for key in ("a" * 8, "A" * 100, "client-1:write.2_x"):
        committed(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]},
                  dialogue["principals"]["moderator"], key=key)


# -- concurrency: the database lock, not only the process lock ---------------------------------
def test_concurrent_advances_from_the_same_item_advance_once(service, dialogue):
    """Ten moderators press "next" at once, all seeing the first item: one
    wins, nine get a conflict. ``execute`` is called directly so that only the
    database's write lock (not the service's process lock) keeps order."""
    did, first = dialogue["dialogue_id"], dialogue["item_ids"][0]
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": first})
    moderator = dialogue["principals"]["moderator"]

    def press():
        try:
            return execute(service.db.sessions, service.plugins, moderator, "agenda.advance",
                           {"dialogue_id": did, "from_item_id": first}).result
        except CommandError as exc:
            return exc.code

    results = all_at_once([press] * 10)
    assert sorted(map(str, results)) == sorted(
        [str({"current_item_id": dialogue["item_ids"][1]})] + ["conflict"] * 9)
    with service.db.session() as s:
        running = s.scalars(select(AgendaItem.id).where(AgendaItem.dialogue_id == did,
                                                        AgendaItem.status == "running")).all()
        count = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.dialogue_id == did, AuditEntry.command == "agenda.advance"))
    assert running == [dialogue["item_ids"][1]] and count == 1


def test_two_dialogues_keep_their_own_versions(service, dialogue):
    other = seed_dialogue(service, items=(("generic", 5),), participants=())
    v_other = version_of(service, other["dialogue_id"])
    committed(service, "agenda.advance", {"dialogue_id": dialogue["dialogue_id"]})
    assert version_of(service, other["dialogue_id"]) == v_other
