"""The one write path: how a command (or a group of them) is run.

``execute`` runs one command in one transaction, in this order: validate,
open the transaction, take the dialogue's write lock by incrementing its
version, resolve the actor from the database and authorize, replay a stored
answer for a repeated idempotency key, run the handler, write the audit
entry and the idempotency record, commit. Nothing is acknowledged before the
commit; an error rolls everything back.

``execute_group`` runs a burst of ``grouped`` commands of one dialogue in one
transaction with the same steps per command (each in a savepoint). Both are
built from the steps below, so that neither can drift from the other.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from moderation.core import storable, writes
from moderation.core.auth import Actor, Principal, resolve_actor
from moderation.core.commands import IDEMPOTENCY_KEY, REGISTRY, CommandSpec, Context, Outcome, Payload
from moderation.core.errors import (
    CommandError,
    Conflict,
    Forbidden,
    InvalidPayload,
    NotFound,
    Unauthenticated,
    Unavailable,
    UnknownCommand,
    validation_details,
)
from moderation.models import AuditEntry, Credential, Dialogue, IdempotencyRecord, Participant, Role, utcnow

Describe = Callable[[Session, Dialogue, Outcome], Any]


# -- the steps ---------------------------------------------------------------------------------------
def get_spec(name: Any) -> CommandSpec:
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnknownCommand(f"There is no command named {str(name)[:80]!r}.")
    return spec


def check_key(key: Any) -> None:
    """An idempotency key, when given, is 8 to 100 safe characters."""
    if key is not None and (not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key)):
        raise InvalidPayload("The idempotency key must be 8 to 100 letters, digits or _.:-")


def validate(spec: CommandSpec, payload: Any) -> Payload:
    if not isinstance(payload, dict):
        raise InvalidPayload("The payload must be a JSON object.")
    storable.check(payload)
    try:
        return spec.payload.model_validate(payload)
    except ValidationError as exc:
        raise InvalidPayload("Some fields are missing or invalid.", validation_details(exc)) from None


def lock_dialogue(session: Session, dialogue_id: int) -> int:
    """Increment the dialogue's version and return it. This comes first: it
    takes the dialogue's write lock (a row lock on PostgreSQL, the database
    lock on SQLite), so that concurrent commands on one dialogue run one
    after the other."""
    version = session.execute(update(Dialogue).where(Dialogue.id == dialogue_id)
                              .values(version=Dialogue.version + 1).returning(Dialogue.version)).scalar()
    if version is None:
        raise NotFound(f"Dialogue {dialogue_id} does not exist.")
    writes.start(session)  # after the version: every command writes that
    return version


def authorize(spec: CommandSpec, actor: Actor, principal: Principal) -> None:
    if not spec.public and not actor.roles.intersection(spec.roles):
        if principal.anonymous:
            raise Unauthenticated("Please sign in or open your personal link first.")
        raise Forbidden("Your role may not do this.")


def replay(spec: CommandSpec, command: str, stored: dict[str, Any], dialogue_id: int | None) -> Outcome:
    """The stored answer to a repeated key, if it was given for this command
    in this dialogue. (Within them the stored answer wins even if the
    payload differs: a console press re-planned after a lost answer is the
    same write.)"""
    if command != spec.name:
        raise Conflict("This idempotency key was used for another command.")
    if dialogue_id is not None and stored.get("dialogue_id") != dialogue_id:
        raise Conflict("This idempotency key was used in another dialogue.")
    return Outcome.replay(spec.name, stored)


def run_handler(spec: CommandSpec, ctx: Context, data: Payload, dialogue_id: int | None,
                version: int | None) -> Outcome:
    result = spec.handler(ctx, data) or {}
    return Outcome(spec.name, dialogue_id, version, result, frozenset(ctx.touched), tuple(ctx.effects),
                   records={kind: frozenset(ids) for kind, ids in ctx.records.items()}, secret=spec.secret)


def audit_entry(spec: CommandSpec, data: Payload, actor: Actor, dialogue_id: int | None, version: int | None,
                now: dt.datetime) -> AuditEntry:
    return AuditEntry(dialogue_id=dialogue_id, version=version, command=spec.name, actor=actor.label[:200],
                      role=(actor.primary_role() or Role.PARTICIPANT).value if actor.roles else "anonymous",
                      payload=data.model_dump(mode="json", exclude=set(spec.redact)), created_at=now)


def key_record(principal: Principal, key: str, outcome: Outcome, now: dt.datetime) -> IdempotencyRecord:
    return IdempotencyRecord(scope=principal.scope, key=key, command=outcome.command, response=outcome.stored(),
                             created_at=now)


def describe_in_transaction(session: Session, dialogue: Dialogue, outcome: Outcome,
                            describe: Describe | None) -> None:
    """What the change sends, built inside the transaction so that it is
    exactly the state at ``outcome.version``."""
    if describe is not None:
        session.flush()
        outcome.written = writes.written(session)
        outcome.changes = describe(session, dialogue, outcome)


def database_error(exc: IntegrityError | OperationalError) -> CommandError:
    """What a client is told when the database refused or could not be reached."""
    if isinstance(exc, OperationalError):
        return Unavailable("The database cannot be reached just now; try again shortly.")
    return Conflict("This conflicts with data stored meanwhile; reload and try again.")


class _Replay(Exception):
    def __init__(self, outcome: Outcome):
        self.outcome = outcome


# -- one command -------------------------------------------------------------------------------------
def execute(sessions: sessionmaker[Session], plugins: Any, principal: Principal, name: str, payload: Any,
            idempotency_key: str | None = None, describe: Describe | None = None,
            limits: dict[str, Any] | None = None, join_keys: Any = None) -> Outcome:
    """Run one command in one transaction. See the module docstring.

    ``describe`` (the realtime layer's change builder) runs inside the
    transaction, so what is broadcast is exactly the state at ``version``."""
    spec = get_spec(name)
    check_key(idempotency_key)
    data = validate(spec, payload)
    dialogue_id = getattr(data, "dialogue_id", None) if spec.dialogue_scoped else None
    now = utcnow()
    try:
        with sessions.begin() as session:
            version = lock_dialogue(session, dialogue_id) if dialogue_id is not None else None
            if dialogue_id is None:
                writes.start(session)
            actor = resolve_actor(session, principal, dialogue_id)
            authorize(spec, actor, principal)
            if idempotency_key is not None:
                record = session.scalar(select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == principal.scope, IdempotencyRecord.key == idempotency_key))
                if record is not None:
                    raise _Replay(replay(spec, record.command, record.response, dialogue_id))
            dialogue = session.get(Dialogue, dialogue_id) if dialogue_id is not None else None
            ctx = Context(session=session, actor=actor, dialogue=dialogue, now=now, plugins=plugins, limits=limits,
                          join_keys=join_keys)
            outcome = run_handler(spec, ctx, data, dialogue_id, version)
            if dialogue is None and ctx.dialogue is not None:  # a command that created one
                outcome.dialogue_id, outcome.version = ctx.dialogue.id, ctx.dialogue.version
            session.add(audit_entry(spec, data, actor, outcome.dialogue_id, outcome.version, now))
            if ctx.dialogue is not None:
                describe_in_transaction(session, ctx.dialogue, outcome, describe)
            if idempotency_key is not None:
                session.add(key_record(principal, idempotency_key, outcome, now))
    except _Replay as replayed:
        return replayed.outcome
    except (IntegrityError, OperationalError) as exc:
        raise database_error(exc) from None
    return outcome


# -- a group of commands -----------------------------------------------------------------------------
@dataclass
class Request:
    """One grouped command waiting for its turn; ``answer`` is filled in with
    its Outcome or its CommandError."""

    principal: Principal
    name: str
    payload: Any
    idempotency_key: str | None = None
    answer: Outcome | CommandError | None = None


class _NothingCommitted(Exception):
    """Every command of a group failed or was a replay: roll back the version."""


def _checked(requests: Iterable[Request], dialogue_id: int) -> list[tuple[Request, CommandSpec, Payload]]:
    """The requests that may join the group; the others are answered with their error."""
    todo = []
    for request in requests:
        try:
            spec = get_spec(request.name)
            if not spec.grouped:
                raise InvalidPayload(f"{spec.name} cannot be grouped.")
            check_key(request.idempotency_key)
            data = validate(spec, request.payload)
            if getattr(data, "dialogue_id", None) != dialogue_id:
                raise InvalidPayload("The group's commands must all name one dialogue.")
            todo.append((request, spec, data))
        except CommandError as exc:
            request.answer = exc
    return todo


class _Group:
    """The commands of one group inside their shared transaction: each keeps
    its own authorization, key check, audit entry and answer."""

    def __init__(self, session: Session, dialogue: Dialogue, version: int, now: dt.datetime,
                 stored: dict[tuple[str, str], IdempotencyRecord], context: Callable[..., Context]):
        self.session, self.dialogue, self.version, self.now = session, dialogue, version, now
        self.stored = stored
        self.context = context
        self.answered: dict[tuple[str, str], Outcome] = {}  # keys answered in this group
        self.rows: list[Any] = []  # audit entries and idempotency records, inserted together
        self.committed: list[Outcome] = []

    def run(self, request: Request, spec: CommandSpec, data: Payload) -> None:
        key = request.idempotency_key
        scope_key = (request.principal.scope, key or "")
        try:
            actor = resolve_actor(self.session, request.principal, self.dialogue.id)
            authorize(spec, actor, request.principal)
            if key is not None:
                earlier = self.stored.get(scope_key)
                first = self.answered.get(scope_key)
                if earlier is not None:
                    request.answer = replay(spec, earlier.command, earlier.response, self.dialogue.id)
                    return
                if first is not None:
                    request.answer = replay(spec, first.command, first.stored(), self.dialogue.id)
                    return
            ctx = self.context(actor)
            with self.session.begin_nested():
                outcome = run_handler(spec, ctx, data, self.dialogue.id, self.version)
        except CommandError as exc:
            request.answer = exc
            return
        except IntegrityError as exc:
            request.answer = database_error(exc)
            return
        self.rows.append(audit_entry(spec, data, actor, self.dialogue.id, self.version, self.now))
        if key is not None:  # unique: checked above for this group
            self.rows.append(key_record(request.principal, key, outcome, self.now))
            self.answered[scope_key] = outcome
        request.answer = outcome
        self.committed.append(outcome)

    def combined(self, name: str) -> Outcome:
        """What the committed commands changed together (named after the group's first command)."""
        records: dict[str, set[int]] = {}
        for outcome in self.committed:
            for kind, ids in outcome.records.items():
                records.setdefault(kind, set()).update(ids)
        return Outcome(name, self.dialogue.id, self.version, {"commands": len(self.committed)},
                       frozenset().union(*(o.touched for o in self.committed)),
                       tuple(effect for o in self.committed for effect in o.effects),
                       records={kind: frozenset(ids) for kind, ids in records.items()})


def execute_group(sessions: sessionmaker[Session], plugins: Any, dialogue_id: int, requests: list[Request],
                  describe: Describe | None = None, limits: dict[str, Any] | None = None,
                  join_keys: Any = None) -> Outcome | None:
    """Run several ``grouped`` commands of one dialogue in one transaction.

    A burst of submissions then costs one version increment, one change
    message per role and one commit instead of one each: what keeps the
    acknowledgement fast when hundreds of participants submit at once. Each
    command still has its own authorization, idempotency check, audit entry
    and answer, and runs in a savepoint, so a refused one changes nothing and
    does not affect the others. All committed commands share the version.

    Fills in each request's ``answer``; returns the combined outcome (what
    the committed commands changed, with ``changes``), or None when nothing
    was committed."""
    todo = _checked(requests, dialogue_id)
    if not todo:
        return None
    now = utcnow()
    try:
        with sessions.begin() as session:
            version = lock_dialogue(session, dialogue_id)
            dialogue = session.get_one(Dialogue, dialogue_id)  # it exists: its version was just taken
            loaded = prefetch_principals(session, [r.principal for r, _, _ in todo])  # noqa: F841 - kept alive
            keys = {r.idempotency_key for r, _, _ in todo if r.idempotency_key is not None}
            stored = {(rec.scope, rec.key): rec for rec in session.scalars(
                select(IdempotencyRecord).where(IdempotencyRecord.key.in_(keys)))} if keys else {}
            memo: dict[str, Any] = {}

            def context(actor: Actor) -> Context:
                return Context(session=session, actor=actor, dialogue=dialogue, now=now, plugins=plugins,
                               limits=limits, join_keys=join_keys, memo=memo)

            group = _Group(session, dialogue, version, now, stored, context)
            for request, spec, data in todo:
                group.run(request, spec, data)
            if not group.committed:
                raise _NothingCommitted
            session.add_all(group.rows)
            combined = group.combined(todo[0][1].name)
            describe_in_transaction(session, dialogue, combined, describe)
            for outcome in group.committed:  # each sees what its commit sent
                outcome.changes = combined.changes
    except _NothingCommitted:
        return None
    except (CommandError, IntegrityError, OperationalError) as exc:
        # The dialogue is gone or the database failed: every command gets the same answer.
        error = exc if isinstance(exc, CommandError) else database_error(exc)
        for request, _, _ in todo:
            request.answer = error
        return None
    return combined


def prefetch_principals(session: Session, principals: list[Principal]) -> list[Any]:
    """Load the group's credentials and participants (with their
    organizations) in two queries, so that resolving each actor and each
    handler's ``session.get`` find them in the session. The session holds
    them weakly: keep the returned list while the group runs."""
    ids = {p.credential_id for p in principals if p.credential_id is not None}
    if not ids:
        return []
    credentials = list(session.scalars(select(Credential).where(Credential.id.in_(ids))))
    participant_ids = {c.participant_id for c in credentials if c.participant_id is not None}
    participants = list(session.scalars(select(Participant).options(joinedload(Participant.organization))
                                        .where(Participant.id.in_(participant_ids)))) if participant_ids else []
    return credentials + participants
