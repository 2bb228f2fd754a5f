"""Declared reads: what a role may read beyond its snapshot, declared once
per read like a command's roles.

A read names the roles that may run it (None: anyone with a role in the
dialogue), the query it accepts (a pydantic model, checked like a payload)
and what a refused caller is told; ``Service.read`` resolves the caller
from the database, authorizes, validates and runs it in one read-only
session. The API and Socket.IO adapters serve reads through it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from moderation.core.auth import Actor
from moderation.core.errors import InvalidPayload, not_allowed, validation_details
from moderation.core.storable import check
from moderation.models import Dialogue, Role


@dataclass
class ReadContext:
    """What a read gets: the session, the dialogue, who asks, the role they
    read as, the plugins, the validated query (or None) and the join keys."""

    session: Session
    dialogue: Dialogue
    actor: Actor
    role: Role
    plugins: Any
    query: Any
    join_keys: Any = None  # as in a command's Context
    app: Any = None  # the application, for a feature's engine in ``app.extensions``


@dataclass(frozen=True)
class ReadSpec:
    name: str
    handler: Callable[[ReadContext], Any]
    roles: frozenset[Role] | None
    query: type[BaseModel] | None
    refused: str
    event: bool = False  # also a Socket.IO event of the same name (answers JSON)
    summary: str = ""

    def authorize(self, actor: Actor) -> None:
        if self.roles is not None and not actor.has(*self.roles):
            raise not_allowed(actor.principal.anonymous, self.refused)

    def validate(self, query: Any, strict: bool = False) -> Any:
        """The query as the read's model, refused with the invalid fields.
        ``strict`` for JSON (Socket.IO): numbers are numbers there, as in a
        command's payload; a query string's values are all text."""
        if self.query is None:
            return None
        if isinstance(query, self.query):  # already read (a page that words its own errors)
            return query
        check(query, "Some filters are invalid.")
        try:
            params = self.query.model_validate(query or {}, strict=strict or None)
        except ValidationError as exc:
            raise InvalidPayload("Some filters are invalid.", validation_details(exc)) from None
        check(params.model_dump(), "Some filters are invalid.")  # numbers as read from the text
        return params


READS: dict[str, ReadSpec] = {}


def read(name: str, *, roles: set[Role] | frozenset[Role] | None = None, query: type[BaseModel] | None = None,
         refused: str = "Your role may not read this.", event: bool = False,
         ) -> Callable[[Callable[[ReadContext], Any]], Callable[[ReadContext], Any]]:
    """Register ``handler(ctx)`` as the read ``name``; with ``event`` the
    Socket.IO adapter serves it as an event of that name too (the handler's
    docstring's first line is its summary in the protocol document)."""
    def register(handler: Callable[[ReadContext], Any]) -> Callable[[ReadContext], Any]:
        if name in READS:
            raise ValueError(f"read {name!r} registered twice")
        summary = (handler.__doc__ or "").strip().split("\n")[0]
        READS[name] = ReadSpec(name, handler, frozenset(roles) if roles is not None else None, query, refused,
                               event, summary)
        return handler
    return register
