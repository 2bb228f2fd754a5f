"""The command layer: every change of state is one named command.

A command declares who may run it, the shape of its payload (a pydantic
model), and how it is reached over HTTP. ``execute`` does the rest in one
place, in this order: validate, open one transaction, take the dialogue's write
lock by incrementing its version, resolve the actor from the database and
authorize, replay a stored answer for a repeated idempotency key, run the
handler, write the audit entry and the idempotency record, commit. Nothing is
acknowledged before the commit; an error rolls everything back.
"""
from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload

from moderation.core import storable, writes
from moderation.core.auth import Actor, Principal, resolve_actor
from moderation.core.errors import (
    CommandError,
    Conflict,
    Forbidden,
    InvalidPayload,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UnknownCommand,
    validation_details,
)
from moderation.models import AuditEntry, Credential, Dialogue, IdempotencyRecord, Participant, Role, utcnow

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,100}$")
# Said by a replayed answer whose secrets (``CommandSpec.secret``) were left out.
SHOWN_ONCE = "secret_shown_once"


class Payload(BaseModel):
    """Base for command payloads: unknown fields and type coercion are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class DialoguePayload(Payload):
    dialogue_id: int


@dataclass
class CommandSpec:
    name: str
    handler: Callable[[Context, Any], dict | None]
    payload: type[Payload]
    roles: frozenset[Role]
    operation_id: str
    summary: str
    http_path: str
    description: str = ""         # the rest of the docstring: rules a client must know
    public: bool = False          # no role needed (the payload proves the right, e.g. a join code)
    redact: tuple[str, ...] = ()  # payload fields kept out of the audit log
    secret: tuple[str, ...] = ()  # result fields (at any depth) shown once: never stored, never replayed
    grouped: bool = False         # arrives in bursts: may share a transaction (see ``execute_group``)

    @property
    def dialogue_scoped(self) -> bool:
        return "dialogue_id" in self.payload.model_fields


REGISTRY: dict[str, CommandSpec] = {}


def _docstring(handler, name: str) -> tuple[str, str]:
    """(summary, description) from a handler's docstring."""
    summary, _, rest = inspect.cleandoc(handler.__doc__ or name).partition("\n")
    return summary.strip(), " ".join(rest.split())


def command(name: str, *, payload: type[Payload], roles: set[Role] | frozenset[Role] = frozenset(),
            operation_id: str, http_path: str, public: bool = False,
            redact: tuple[str, ...] = (), secret: tuple[str, ...] = (), grouped: bool = False):
    """Register a command handler. The handler's docstring is its summary
    (first line) and description (the rest) in the protocol and OpenAPI
    documents. ``grouped`` commands (hundreds of
    participants submitting at once) may be committed together; their
    handlers must only touch the database through the session. ``secret``
    names the fields of the result that hold a token, link or code: the
    first answer carries them, the stored answer (and so a replay), the
    plugins and the log never do."""

    def register(handler):
        if name in REGISTRY:
            raise ValueError(f"command {name!r} registered twice")
        if not roles and not public:
            raise ValueError(f"command {name!r} names no role")
        REGISTRY[name] = CommandSpec(
            name=name, handler=handler, payload=payload, roles=frozenset(roles),
            operation_id=operation_id, summary=_docstring(handler, name)[0],
            description=_docstring(handler, name)[1], http_path=http_path, public=public, redact=redact,
            secret=secret, grouped=grouped)
        if grouped and not REGISTRY[name].dialogue_scoped:
            raise ValueError(f"command {name!r}: only dialogue commands can be grouped")
        return handler

    return register


@dataclass
class Context:
    """What a handler gets: the open session, who is acting, the locked
    dialogue, the time of the command, and where to record what changed."""

    session: Session
    actor: Actor
    dialogue: Dialogue | None
    now: dt.datetime
    plugins: Any
    touched: set[str] = field(default_factory=set)
    effects: list[tuple[str, Any]] = field(default_factory=list)
    records: dict[str, set[int]] = field(default_factory=dict)
    limits: Any = None
    join_keys: Any = None  # the application's JoinKeys (moderation/join_codes.py): join codes derived, not stored
    memo: dict[str, Any] = field(default_factory=dict)  # shared by the commands of one group

    def memoized(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per transaction: the commands of a group share
        what none of them changes (e.g. which agenda item runs)."""
        if name not in self.memo:
            self.memo[name] = compute()
        return self.memo[name]

    def touch(self, *sections: str) -> None:
        """Mark snapshot sections that this command changed."""
        self.touched.update(sections)

    def record(self, kind: str, record_id: int) -> None:
        """Mark one record (an input, ...) as changed: lists too long to send
        as a section are updated record by record."""
        self.records.setdefault(kind, set()).add(record_id)

    def rate_limit(self, name: str, key: Any) -> None:
        """Refuse the command when ``key`` has used up its ``name`` bucket."""
        limiter = (self.limits or {}).get(name)
        if limiter is not None and not limiter.allow(key):
            wait = limiter.retry_after(key)
            raise RateLimited(f"Slow down: please wait {max(1, round(wait))} seconds and try "
                                               "again. Nothing was stored.", {"retry_after": round(wait, 1)})

    def after_commit(self, effect: str, value: Any) -> None:
        """Ask the adapters to do something once committed (e.g. disconnect)."""
        self.effects.append((effect, value))

    def require_dialogue(self) -> Dialogue:
        assert self.dialogue is not None
        return self.dialogue


@dataclass
class Outcome:
    """What a committed (or replayed) command changed."""

    command: str
    dialogue_id: int | None
    version: int | None
    result: dict[str, Any]
    touched: frozenset[str] = frozenset()
    effects: tuple[tuple[str, Any], ...] = ()
    replayed: bool = False
    changes: Any = None  # what ``describe`` made of the change, inside the transaction
    records: dict[str, frozenset[int]] = field(default_factory=dict)
    secret: tuple[str, ...] = ()  # the result fields shown only in this first answer
    written: frozenset[str] = frozenset()  # the tables the command wrote (``writes``)

    def ack(self) -> dict[str, Any]:
        return {"ok": True, "version": self.version, "result": self.result, "replayed": self.replayed}

    def without_secrets(self) -> Outcome:
        """This outcome as it may be kept or passed on (stored for a replay,
        told to plugins): its secrets left out."""
        if not self.secret:
            return self
        return replace(self, result=without_secrets(self.result, self.secret), secret=())

    def stored(self) -> dict[str, Any]:
        """The answer kept for the idempotency key."""
        return {"dialogue_id": self.dialogue_id, "version": self.version,
                "result": self.without_secrets().result}

    @classmethod
    def replay(cls, name: str, stored: dict[str, Any]) -> Outcome:
        return cls(name, stored.get("dialogue_id"), stored.get("version"), stored.get("result", {}), replayed=True)


def without_secrets(result: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """``result`` without the ``fields`` at any depth; with ``SHOWN_ONCE``
    when one of them held a value (a replay then says why it is missing)."""
    removed = False

    def keep(value: Any) -> Any:
        nonlocal removed
        if isinstance(value, dict):
            kept = {}
            for key, inner in value.items():
                if key in fields:
                    removed = removed or inner is not None
                else:
                    kept[key] = keep(inner)
            return kept
        if isinstance(value, (list, tuple)):
            return [keep(inner) for inner in value]
        return value

    clean = keep(result)
    if removed:
        clean[SHOWN_ONCE] = True
    return clean


class _Replay(Exception):
    def __init__(self, response: dict):
        self.response = response


def validate(spec: CommandSpec, payload: Any) -> Payload:
    if not isinstance(payload, dict):
        raise InvalidPayload("The payload must be a JSON object.")
    storable.check(payload)
    try:
        return spec.payload.model_validate(payload)
    except ValidationError as exc:
        raise InvalidPayload("Some fields are missing or invalid.",
                           validation_details(exc)) from None


def get_spec(name: Any) -> CommandSpec:
    spec = REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnknownCommand(f"There is no command named {str(name)[:80]!r}.")
    return spec


def execute(sessions, plugins, principal: Principal, name: str, payload: Any,
            idempotency_key: str | None = None,
            describe: Callable[[Session, Dialogue, Outcome], Any] | None = None,
            limits: dict[str, Any] | None = None, join_keys: Any = None) -> Outcome:
    """Run one command in one transaction. See the module docstring.

    ``describe`` (the realtime layer's change builder) runs inside the
    transaction, so what is broadcast is exactly the state at ``version``."""
    spec = get_spec(name)
    if idempotency_key is not None and (not isinstance(idempotency_key, str)
                                        or not IDEMPOTENCY_KEY.match(idempotency_key)):
        raise InvalidPayload("The idempotency key must be 8 to 100 letters, digits or _.:-")
    data = validate(spec, payload)
    dialogue_id = getattr(data, "dialogue_id", None) if spec.dialogue_scoped else None
    now = utcnow()
    try:
        with sessions.begin() as session:
            version = None
            if dialogue_id is not None:
                # The version increment comes first: it takes the dialogue's
                # write lock (row lock on PostgreSQL, the database lock on
                # SQLite) so that concurrent commands on one dialogue run one
                # after the other.
                version = session.execute(
                    update(Dialogue).where(Dialogue.id == dialogue_id)
                    .values(version=Dialogue.version + 1).returning(Dialogue.version)).scalar()
                if version is None:
                    raise NotFound(f"Dialogue {dialogue_id} does not exist.")
            writes.start(session)  # after the version: every command writes that
            actor = resolve_actor(session, principal, dialogue_id)
            authorize(spec, actor, principal)
            if idempotency_key is not None:
                record = session.scalar(select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == principal.scope, IdempotencyRecord.key == idempotency_key))
                if record is not None:
                    if record.command != spec.name:
                        raise Conflict("This idempotency key was used for another command.")
                    raise _Replay(record.response)
            dialogue = session.get(Dialogue, dialogue_id) if dialogue_id is not None else None
            ctx = Context(session=session, actor=actor, dialogue=dialogue, now=now, plugins=plugins, limits=limits,
                          join_keys=join_keys)
            result = spec.handler(ctx, data) or {}
            if dialogue is None and ctx.dialogue is not None:  # a command that created one
                dialogue_id, version = ctx.dialogue.id, ctx.dialogue.version
            session.add(audit_entry(spec, data, actor, dialogue_id, version, now))
            outcome = Outcome(spec.name, dialogue_id, version, result, frozenset(ctx.touched), tuple(ctx.effects),
                              records={kind: frozenset(ids) for kind, ids in ctx.records.items()},
                              secret=spec.secret)
            if describe is not None and ctx.dialogue is not None:
                session.flush()
                outcome.written = writes.written(session)
                outcome.changes = describe(session, ctx.dialogue, outcome)
            if idempotency_key is not None:
                session.add(IdempotencyRecord(scope=principal.scope, key=idempotency_key,
                                              command=spec.name, response=outcome.stored(), created_at=now))
    except _Replay as replay:
        return Outcome.replay(spec.name, replay.response)
    except IntegrityError:
        raise Conflict("This conflicts with data stored meanwhile; reload and try again.") from None
    except OperationalError:
        raise Unavailable("The database cannot be reached just now; try again shortly.") from None
    return outcome


def authorize(spec: CommandSpec, actor: Actor, principal: Principal) -> None:
    if not spec.public and not actor.roles.intersection(spec.roles):
        if principal.anonymous:
            raise Unauthenticated("Please sign in or open your personal link first.")
        raise Forbidden("Your role may not do this.")


def audit_entry(spec: CommandSpec, data: Payload, actor: Actor, dialogue_id: int | None, version: int | None,
                now: dt.datetime) -> AuditEntry:
    return AuditEntry(dialogue_id=dialogue_id, version=version, command=spec.name, actor=actor.label[:200],
                      role=(actor.primary_role() or Role.PARTICIPANT).value if actor.roles else "anonymous",
                      payload=data.model_dump(mode="json", exclude=set(spec.redact)), created_at=now)


# -- group commit ----------------------------------------------------------------------------------
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


def execute_group(sessions, plugins, dialogue_id: int, requests: list[Request],  # noqa: C901 - shares execute's steps
                  describe: Callable[[Session, Dialogue, Outcome], Any] | None = None,
                  limits: dict[str, Any] | None = None, join_keys: Any = None) -> Outcome | None:
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
    now = utcnow()
    todo: list[tuple[Request, CommandSpec, Payload]] = []
    for request in requests:
        try:
            spec = get_spec(request.name)
            if not spec.grouped:
                raise InvalidPayload(f"{spec.name} cannot be grouped.")
            key = request.idempotency_key
            if key is not None and (not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key)):
                raise InvalidPayload("The idempotency key must be 8 to 100 letters, digits or _.:-")
            data = validate(spec, request.payload)
            if data.dialogue_id != dialogue_id:
                raise InvalidPayload("The group's commands must all name one dialogue.")
            todo.append((request, spec, data))
        except CommandError as exc:
            request.answer = exc
    if not todo:
        return None
    combined = Outcome(todo[0][1].name, dialogue_id, None, {})
    touched: set[str] = set()
    records: dict[str, set[int]] = {}
    effects: list[tuple[str, Any]] = []
    committed: list[Outcome] = []
    try:
        with sessions.begin() as session:
            version = session.execute(
                update(Dialogue).where(Dialogue.id == dialogue_id)
                .values(version=Dialogue.version + 1).returning(Dialogue.version)).scalar()
            if version is None:
                raise NotFound(f"Dialogue {dialogue_id} does not exist.")
            combined.version = version
            writes.start(session)
            dialogue = session.get(Dialogue, dialogue_id)
            loaded = prefetch_principals(session, [r.principal for r, _, _ in todo])  # noqa: F841 - kept alive
            memo: dict[str, Any] = {}
            rows: list[Any] = []  # audit entries and idempotency records, inserted together
            keys = {r.idempotency_key for r, _, _ in todo if r.idempotency_key is not None}
            stored = {(rec.scope, rec.key): rec for rec in session.scalars(
                select(IdempotencyRecord).where(IdempotencyRecord.key.in_(keys)))} if keys else {}
            answered: dict[tuple[str, str], Outcome] = {}  # keys answered in this group
            for request, spec, data in todo:
                scope_key = (request.principal.scope, request.idempotency_key)
                try:
                    actor = resolve_actor(session, request.principal, dialogue_id)
                    authorize(spec, actor, request.principal)
                    if request.idempotency_key is not None:
                        earlier = stored.get(scope_key)
                        if earlier is not None:
                            if earlier.command != spec.name:
                                raise Conflict("This idempotency key was used for another command.")
                            request.answer = Outcome.replay(spec.name, earlier.response)
                            continue
                        if scope_key in answered:
                            first = answered[scope_key]
                            if first.command != spec.name:
                                raise Conflict("This idempotency key was used for another command.")
                            request.answer = Outcome.replay(spec.name, first.stored())
                            continue
                    ctx = Context(session=session, actor=actor, dialogue=dialogue, now=now, plugins=plugins,
                                  limits=limits, join_keys=join_keys, memo=memo)
                    with session.begin_nested():
                        result = spec.handler(ctx, data) or {}
                    outcome = Outcome(spec.name, dialogue_id, version, result, frozenset(ctx.touched),
                                      tuple(ctx.effects),
                                      records={kind: frozenset(ids) for kind, ids in ctx.records.items()},
                                      secret=spec.secret)
                    rows.append(audit_entry(spec, data, actor, dialogue_id, version, now))
                    if request.idempotency_key is not None:  # unique: checked above for this group
                        rows.append(IdempotencyRecord(scope=scope_key[0], key=scope_key[1], command=spec.name,
                                                      response=outcome.stored(), created_at=now))
                except CommandError as exc:
                    request.answer = exc
                    continue
                except IntegrityError:
                    request.answer = Conflict("This conflicts with data stored meanwhile; "
                                                              "reload and try again.")
                    continue
                request.answer = outcome
                committed.append(outcome)
                if request.idempotency_key is not None:
                    answered[scope_key] = outcome
                touched |= outcome.touched
                effects += outcome.effects
                for kind, ids in outcome.records.items():
                    records.setdefault(kind, set()).update(ids)
            if not committed:
                raise _NothingCommitted
            session.add_all(rows)
            combined.touched = frozenset(touched)
            combined.effects = tuple(effects)
            combined.records = {kind: frozenset(ids) for kind, ids in records.items()}
            combined.result = {"commands": len(committed)}
            if describe is not None:
                session.flush()
                combined.written = writes.written(session)
                combined.changes = describe(session, dialogue, combined)
                for outcome in committed:  # each sees what its commit sent
                    outcome.changes = combined.changes
    except _NothingCommitted:
        return None
    except CommandError as exc:  # the dialogue is gone: every command gets the same answer
        for request, _, _ in todo:
            request.answer = exc
        return None
    except (IntegrityError, OperationalError) as exc:
        error = Unavailable("The database cannot be reached just now; try again shortly.") \
            if isinstance(exc, OperationalError) else \
            Conflict("This conflicts with data stored meanwhile; reload and try again.")
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


def load_domain() -> None:
    """Import the modules that register commands (idempotent)."""
    from moderation.features.accreditation import (  # noqa: F401
        applications,
        checkin,
        delegates,
        exports,
        links,
        privacy,
        review,
        travel,
    )
    from moderation.features.summary import commands as summary  # noqa: F401
