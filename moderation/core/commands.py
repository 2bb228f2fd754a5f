"""The command layer: every change of state is one named command.

A command declares who may run it, the shape of its payload (a pydantic
model), and how it is reached over HTTP; ``@command`` puts it in
``REGISTRY``, which feeds the API, Socket.IO, the OpenAPI and protocol
documents and the authorization test. ``moderation.core.execution`` runs
it (one transaction, the write lock, authorization, idempotency, audit).
"""
from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from moderation.core.auth import Actor
from moderation.core.errors import RateLimited
from moderation.models import Dialogue, Role

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
Handler = TypeVar("Handler", bound=Callable[..., Any])


def _docstring(handler: Callable[..., Any], name: str) -> tuple[str, str]:
    """(summary, description) from a handler's docstring."""
    summary, _, rest = inspect.cleandoc(handler.__doc__ or name).partition("\n")
    return summary.strip(), " ".join(rest.split())


def command(name: str, *, payload: type[Payload], roles: set[Role] | frozenset[Role] = frozenset(),
            operation_id: str, http_path: str, public: bool = False,
            redact: tuple[str, ...] = (), secret: tuple[str, ...] = (), grouped: bool = False,
            ) -> Callable[[Handler], Handler]:
    """Register a command handler. The handler's docstring is its summary
    (first line) and description (the rest) in the protocol and OpenAPI
    documents. ``grouped`` commands (hundreds of
    participants submitting at once) may be committed together; their
    handlers must only touch the database through the session. ``secret``
    names the fields of the result that hold a token, link or code: the
    first answer carries them, the stored answer (and so a replay), the
    plugins and the log never do."""

    def register(handler: Handler) -> Handler:
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
    join_keys: Any = None  # the application's JoinKeys (moderation/features/access/join_codes.py): join codes derived, not stored
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
