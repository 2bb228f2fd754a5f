"""Group commit (``execution.execute_group`` and ``Service._dispatch_grouped``):
grouped commands (input submissions, endorsements) that arrive while another
command holds the write lock are committed together, in one transaction with
one version, one change message per role and one commit. Each command keeps
its own authorization, idempotency, audit entry and answer; a refused one
changes nothing and does not affect the others. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pytest
from concurrency import all_at_once
from conftest import seed_dialogue
from sqlalchemy import select
from test_command_layer import audit_entries, db_state, version_of
from test_inputs import NO_LIMIT, World, app  # noqa: F401 - the app fixture without a rate limit

from moderation.core.commands import REGISTRY, Outcome
from moderation.core.errors import CommandError
from moderation.core.execution import Request, execute_group
from moderation.features import load_features
from moderation.models import IdempotencyRecord, Input, Role


@pytest.fixture
def world(service, dialogue):
    world = World(service, dialogue)
    world.start()
    return world


@pytest.fixture
def other_world(service):
    """A second dialogue on the same service, its first item running."""
    other = World(service, seed_dialogue(service))
    other.start()
    return other


def submission(world: World, who: str, text: str, key: str | None = None, **payload) -> Request:
    return Request(world.who[who], "inputs.submit", {"dialogue_id": world.id, "text": text, **payload}, key)


def commit_group(world: World, requests: list[Request]) -> Outcome | None:
    service = world.service
    return execute_group(service.db.sessions, service.plugins, world.id, requests,
                         describe=service._describe, limits=service.limits)


def stored_texts(world: World) -> list[str]:
    with world.service.db.session() as s:
        return sorted(s.scalars(select(Input.text).where(Input.dialogue_id == world.id)))


def stored_keys(world: World, prefix: str) -> dict[str, str]:
    """Idempotency key -> the command it was stored for."""
    with world.service.db.session() as s:
        return dict(s.execute(select(IdempotencyRecord.key, IdempotencyRecord.command)
                              .where(IdempotencyRecord.key.like(f"{prefix}%"))).all())


class WaitingLine(list):
    """A service's line of grouped requests (``Service._waiting``) that
    tells a test when it grows: the test waits for the requests to queue up
    with a deadline, instead of polling with sleeps."""

    def __init__(self, items, grew: threading.Condition):
        super().__init__(items)
        self.grew = grew

    def append(self, item) -> None:
        super().append(item)
        with self.grew:
            self.grew.notify_all()


def while_the_lock_is_held(service, dialogue_ids: list[int], calls: list[Callable[[], Any]],
                           timeout: float = 30) -> list[Any]:
    """Hold the write lock of each dialogue (one lock for all on SQLite),
    start ``calls`` (grouped commands) in threads, wait until every one of
    them waits in line, then let go: the next holders commit the lines.
    Returns each call's result (or the exception it raised), in order."""
    locks = {service._lock_key(d): d for d in dialogue_ids}
    grew = threading.Condition()
    lines = []
    for key in locks:
        service._waiting[key] = WaitingLine(service._waiting[key], grew)
        lines.append(service._waiting[key])
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test as a result
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    deadline = time.monotonic() + timeout
    with ExitStack() as held:
        for dialogue_id in locks.values():
            held.enter_context(service._lock(dialogue_id))
        for thread in threads:
            thread.start()
        with grew:
            lined_up = grew.wait_for(lambda: sum(map(len, lines)) >= len(calls), timeout)
        assert lined_up, f"{sum(map(len, lines))} of {len(calls)} requests waiting after {timeout} s"
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), f"requests still unanswered after {timeout} s"
    return results


def test_only_bursty_participant_commands_are_grouped():
    load_features()
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
    answers = while_the_lock_is_held(service, [world.id], [
        lambda i=i: world.dispatch(f"participant{i % 4}", "inputs.submit", f"waiting-key-{i}",
                                   text=f"Queued input number {i}")
        for i in range(12)])
    assert all(isinstance(a, Outcome) for a in answers), answers
    assert {a.version for a in answers} == {before + 1}
    assert len({a.result["input_id"] for a in answers}) == 12
    assert not service._waiting[service._lock_key(world.id)]
    assert version_of(service, world.id) == before + 1


def test_two_dialogues_waiting_at_once_are_committed_apart(world, other_world):
    """Submissions to two dialogues wait for the lock at the same time (on
    SQLite in one line: one lock serves every dialogue). Each is stored in
    the dialogue it names, and each dialogue's version advances by its own
    commit only: one group per dialogue, never one group for both."""
    service = world.service
    worlds = [world, other_world]
    before = {w.id: version_of(service, w.id) for w in worlds}
    calls = [lambda w=w, i=i: w.dispatch(f"participant{i}", "inputs.submit", f"apart-key-{w.id}-{i}",
                                         text=f"Input {i} for dialogue {w.id}")
             for i in range(4) for w in worlds]  # the two dialogues interleaved in the line
    answers = while_the_lock_is_held(service, [w.id for w in worlds], calls)
    assert all(isinstance(a, Outcome) for a in answers), answers
    for w in worlds:
        mine = [a for a in answers if a.dialogue_id == w.id]
        assert len(mine) == 4
        assert {a.version for a in mine} == {before[w.id] + 1}
        assert version_of(service, w.id) == before[w.id] + 1
        assert stored_texts(w) == sorted(f"Input {i} for dialogue {w.id}" for i in range(4))
        assert sorted(e.command for e in audit_entries(service, w.id) if e.version > before[w.id]) == \
            ["inputs.submit"] * 4


def test_a_request_naming_another_dialogue_is_refused_in_a_group(world, other_world):
    """A group commits one dialogue's commands: a request naming another
    dialogue is refused and stores nothing in either dialogue (not even when
    its sender is a participant here, who would pass the checks here), and
    the rest of the group commits."""
    service = world.service
    before_other = version_of(service, other_world.id)
    audit_before = len(audit_entries(service, other_world.id))
    mine = submission(world, "participant0", "Meant for this dialogue", "mixed-key-1")
    naming_other = Request(world.who["participant1"], "inputs.submit",
                           {"dialogue_id": other_world.id, "text": "Names the other dialogue"}, "mixed-key-2")
    from_other = submission(other_world, "participant0", "Sent from the other dialogue", "mixed-key-3")
    combined = commit_group(world, [mine, naming_other, from_other])
    assert isinstance(mine.answer, Outcome) and combined.result == {"commands": 1}
    for refused in (naming_other, from_other):
        assert isinstance(refused.answer, CommandError), refused.answer
        assert refused.answer.code == "invalid_payload" and "one dialogue" in refused.answer.message
    assert stored_texts(world) == ["Meant for this dialogue"]
    assert stored_texts(other_world) == []
    assert version_of(service, other_world.id) == before_other
    assert len(audit_entries(service, other_world.id)) == audit_before
    assert stored_keys(world, "mixed-key-") == {"mixed-key-1": "inputs.submit"}


@pytest.mark.parametrize("first", ["inputs.submit", "inputs.endorse"])
def test_a_key_reused_for_another_command_in_one_group_is_refused(world, first):
    """One key sent with two different commands in one group: the second is
    refused with a conflict (as it would be in a later transaction) and
    stores nothing; it is not answered as a replay of the first."""
    theirs = world.submit("participant1", "Jonas's input, to be endorsed")
    before = version_of(world.service, world.id)
    submit = submission(world, "participant0", "Amina's own input", "reused-key-1")
    endorse = Request(world.who["participant0"], "inputs.endorse",
                      {"dialogue_id": world.id, "input_id": theirs}, "reused-key-1")
    earlier, later = (submit, endorse) if first == "inputs.submit" else (endorse, submit)
    commit_group(world, [earlier, later])
    assert isinstance(earlier.answer, Outcome) and not earlier.answer.replayed
    assert isinstance(later.answer, CommandError), later.answer
    assert later.answer.code == "conflict" and "another command" in later.answer.message
    if first == "inputs.submit":
        assert stored_texts(world) == sorted(["Jonas's input, to be endorsed", "Amina's own input"])
        assert world.endorsers(theirs) == [] and world.row(theirs).endorsement_count == 0
    else:
        assert stored_texts(world) == ["Jonas's input, to be endorsed"]
        assert world.endorsers(theirs) == [world.pid["participant0"]]
    assert stored_keys(world, "reused-key-") == {"reused-key-1": first}
    assert [e.command for e in audit_entries(world.service, world.id) if e.version > before] == [first]


def test_concurrent_submissions_and_retries_are_stored_exactly_once(world):
    """Threads submit and retry the same keys at once: every key is stored
    once and every answer for one key names the same input."""
    calls = [lambda i=i % 24: (f"race-key-{i:03d}", world.dispatch(
        f"participant{i % 4}", "inputs.submit", f"race-key-{i:03d}", text=f"Race input {i}"))
        for i in range(48)]
    answers: dict[str, list[int]] = {}
    for result in all_at_once(calls, timeout=60):
        assert not isinstance(result, BaseException), result
        key, outcome = result
        answers.setdefault(key, []).append(outcome.result["input_id"])
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
