"""Group commit (``commands.execute_group`` and ``Service._dispatch_grouped``):
grouped commands (input submissions, endorsements) that arrive while another
command holds the write lock are committed together, in one transaction with
one version, one change message per role and one commit. Each command keeps
its own authorization, idempotency, audit entry and answer; a refused one
changes nothing and does not affect the others. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from test_command_layer import audit_entries, db_state, version_of
from test_inputs import NO_LIMIT, World, app  # noqa: F401 - the app fixture without a rate limit
from moderation.commands import REGISTRY, Outcome, Request, execute_group, load_domain
from moderation.errors import CommandError
from moderation.models import IdempotencyRecord, Input, Role


@pytest.fixture
def world(service, dialogue):
    world = World(service, dialogue)
    world.start()
    return world


def submission(world: World, who: str, text: str, key: str | None = None, **payload) -> Request:
    return Request(world.who[who], "inputs.submit", {"dialogue_id": world.id, "text": text, **payload}, key)


def commit_group(world: World, requests: list[Request]) -> Outcome | None:
    service = world.service
    return execute_group(service.db.sessions, service.plugins, world.id, requests,
                         describe=service._describe, limits=service.limits)


def stored_texts(world: World) -> list[str]:
    with world.service.db.session() as s:
        return sorted(s.scalars(select(Input.text).where(Input.dialogue_id == world.id)))


def test_only_bursty_participant_commands_are_grouped():
    load_domain()
    assert {name for name, spec in REGISTRY.items() if spec.grouped} == {"inputs.submit", "inputs.endorse"}


def test_a_group_stores_each_submission_once_under_one_version(world):
    before = version_of(world.service, world.id)
    requests = [submission(world, f"participant{i}", f"Grouped input from participant {i}", f"group-key-{i}")
                for i in range(4)]
    combined = commit_group(world, requests)

    answers = [r.answer for r in requests]
    assert all(isinstance(a, Outcome) and not a.replayed for a in answers), answers
    assert {a.version for a in answers} == {before + 1} == {combined.version}
    ids = [a.result["input_id"] for a in answers]
    assert len(set(ids)) == 4
    assert combined.records["inputs"] == frozenset(ids)
    # One audit entry and one idempotency record per command, all at the group's version.
    audit = [e for e in audit_entries(world.service, world.id) if e.version == before + 1]
    assert sorted(e.command for e in audit) == ["inputs.submit"] * 4
    with world.service.db.session() as s:
        keys = set(s.scalars(select(IdempotencyRecord.key).where(IdempotencyRecord.key.like("group-key-%"))))
    assert keys == {f"group-key-{i}" for i in range(4)}
    # One change per staff role carrying the four records; participants get
    # their own input privately and the others a hint.
    for role in (Role.MODERATOR, Role.RAPPORTEUR, Role.SECRETARIAT):
        message = combined.changes.roles[role]
        assert message["version"] == before + 1
        assert sorted(r["id"] for r in message["records"]["inputs"]) == sorted(ids)
    assert Role.PARTICIPANT not in combined.changes.roles
    assert set(combined.changes.private) == {world.pid[f"participant{i}"] for i in range(4)}
    assert combined.changes.hint["published"] >= 4


def test_a_refused_command_changes_nothing_and_the_others_commit(world):
    world.submit("participant1", "Already said once")
    requests = [
        submission(world, "participant0", "First good input", "refusal-key-1"),
        submission(world, "moderator", "Moderators do not submit", "refusal-key-2"),
        submission(world, "participant1", "Already said once", "refusal-key-3"),   # duplicate filter
        submission(world, "revoked", "A revoked link", "refusal-key-4"),
        submission(world, "outsider", "From another dialogue", "refusal-key-5"),
        submission(world, "participant2", "", "refusal-key-6"),                     # invalid payload
        submission(world, "participant3", "x" * 3000, "refusal-key-7"),             # too long
        Request(world.who["participant2"], "inputs.submit", "not an object", "refusal-key-8"),
        submission(world, "participant2", "Last good input", "bad key!"),           # invalid key
        submission(world, "participant3", "Second good input", "refusal-key-9"),
    ]
    commit_group(world, requests)
    codes = [r.answer.code if isinstance(r.answer, CommandError) else "ok" for r in requests]
    assert codes == ["ok", "forbidden", "conflict", "link_revoked", "forbidden", "invalid_payload",
                     "invalid_payload", "invalid_payload", "invalid_payload", "ok"]
    assert stored_texts(world) == sorted(["Already said once", "First good input", "Second good input"])
    with world.service.db.session() as s:
        keys = set(s.scalars(select(IdempotencyRecord.key).where(IdempotencyRecord.key.like("refusal-key-%"))))
    assert keys == {"refusal-key-1", "refusal-key-9"}  # a refusal is not remembered: a retry is judged anew


def test_a_group_where_everything_is_refused_changes_nothing(world):
    before = db_state(world.service)
    requests = [submission(world, "moderator", "Not mine to submit", "nothing-key-1"),
                submission(world, "anonymous", "Nobody", "nothing-key-2")]
    assert commit_group(world, requests) is None
    assert [r.answer.code for r in requests] == ["forbidden", "unauthenticated"]
    assert db_state(world.service) == before


def test_the_same_key_twice_in_one_group_stores_once(world):
    first = submission(world, "participant0", "Sent twice in one breath", "twice-key-1")
    again = submission(world, "participant0", "Sent twice in one breath", "twice-key-1")
    other_scope = submission(world, "participant1", "Same key, other person", "twice-key-1")
    commit_group(world, [first, again, other_scope])
    assert not first.answer.replayed and again.answer.replayed
    assert again.answer.result == first.answer.result
    assert not other_scope.answer.replayed  # keys belong to whoever sent them
    assert stored_texts(world) == sorted(["Sent twice in one breath", "Same key, other person"])


def test_a_key_stored_earlier_is_answered_from_the_record(world):
    earlier = world.dispatch("participant0", "inputs.submit", "earlier-key-1", text="Stored before the group")
    before = db_state(world.service)
    retry = submission(world, "participant0", "Stored before the group", "earlier-key-1")
    other_command = Request(world.who["participant0"], "inputs.endorse",
                            {"dialogue_id": world.id, "input_id": earlier.result["input_id"]}, "earlier-key-1")
    assert commit_group(world, [retry, other_command]) is None  # nothing new: the version stays
    assert retry.answer.replayed and retry.answer.result == earlier.result
    assert retry.answer.version == earlier.version
    assert other_command.answer.code == "conflict"
    assert db_state(world.service) == before


def test_endorsements_in_one_group_count_each_participant_once(world):
    input_id = world.submit("participant0", "Please endorse this")
    requests = [Request(world.who[f"participant{i}"], "inputs.endorse",
                        {"dialogue_id": world.id, "input_id": input_id}, f"endorse-key-{i}-{n}")
                for i in (1, 2, 3) for n in (1, 2)]
    requests.append(Request(world.who["participant0"], "inputs.endorse",
                            {"dialogue_id": world.id, "input_id": input_id}, "endorse-key-own"))
    commit_group(world, requests)
    assert [r.answer.result["endorsements"] for r in requests[:-1]] == [1, 1, 2, 2, 3, 3]
    assert requests[-1].answer.code == "forbidden"
    assert world.endorsers(input_id) == sorted(world.pid[f"participant{i}"] for i in (1, 2, 3))
    assert world.row(input_id).endorsement_count == 3


def test_requests_waiting_for_the_lock_are_committed_together(world):
    """While one command holds the dialogue's write lock, submissions queue
    up; the next holder commits them all in one transaction."""
    service = world.service
    before = version_of(service, world.id)
    answers: dict[int, object] = {}

    def submit(i: int) -> None:
        try:
            answers[i] = world.dispatch(f"participant{i % 4}", "inputs.submit", f"waiting-key-{i}",
                                        text=f"Queued input number {i}")
        except CommandError as exc:
            answers[i] = exc

    key = service._lock_key(world.id)
    with service._lock(world.id):
        threads = [threading.Thread(target=submit, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(service._waiting[key]) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(service._waiting[key]) == 12
    for thread in threads:
        thread.join(30)
    assert all(isinstance(a, Outcome) for a in answers.values()), answers
    assert {a.version for a in answers.values()} == {before + 1}
    assert len({a.result["input_id"] for a in answers.values()}) == 12
    assert not service._waiting[key]
    assert version_of(service, world.id) == before + 1


def test_concurrent_submissions_and_retries_are_stored_exactly_once(world):
    """Threads submit and retry the same keys at once: every key is stored
    once and every answer for one key names the same input."""
    answers: dict[str, list[int]] = {}
    lock = threading.Lock()

    def submit(i: int) -> None:
        who = f"participant{i % 4}"
        key = f"race-key-{i:03d}"
        outcome = world.dispatch(who, "inputs.submit", key, text=f"Race input {i}")
        with lock:
            answers.setdefault(key, []).append(outcome.result["input_id"])

    threads = [threading.Thread(target=submit, args=(i % 24,)) for i in range(48)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == sorted(f"race-key-{i:03d}" for i in range(24))
    assert all(len(ids) == 2 and ids[0] == ids[1] for ids in answers.values()), answers
    assert stored_texts(world) == sorted(f"Race input {i}" for i in range(24))


def test_a_crash_in_a_group_answers_every_waiting_request(world, monkeypatch):
    """A bug in a handler must not leave anyone waiting: each request of the
    group gets an error answer and nothing is stored."""
    spec = REGISTRY["inputs.submit"]

    def crash(ctx, payload):
        raise RuntimeError("a bug")

    monkeypatch.setattr(spec, "handler", crash)
    before = db_state(world.service)
    with pytest.raises(CommandError) as caught:
        world.dispatch("participant0", "inputs.submit", "crash-key-1", text="Never stored")
    assert caught.value.code == "internal"
    assert db_state(world.service) == before
