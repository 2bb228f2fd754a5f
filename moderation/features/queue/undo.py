"""Undo for the console's disruptive commands.

A moderator's slip (a stray ``N`` while someone speaks) must not cost a
speaker. A command that ends an item, ends a speaker, closes the list or
removes a speaker while someone has the floor or people wait records what it
took away: the speaker entries and agenda items it changes, as they were,
with each running timer's elapsed time at that moment. Its answer carries
``undo: {id, expires_at}``; one ``queue.undo`` / ``agenda.undo`` command
within ``UNDO_SECONDS`` puts exactly that back: the speaker with the time
they had left (their clock runs again from the undo), the list with its
order (the order is computed from the restored rows, so it is the same), the
item's state and its list open or closed, and the input pinned to the
display when the item's end unpinned it (unless another was pinned since).

Undo is a command like any other (authorized, audited, versioned). It is
refused (``conflict``) once anything else changed the list or the agenda
after the command it undoes (a second console acted, a participant asked for
the floor), once it was undone, and after ``UNDO_SECONDS``: it never
overwrites a change it did not see.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select

from moderation.core import timers
from moderation.core.commands import Context
from moderation.core.errors import Conflict, NotFound
from moderation.models import AgendaItem, AuditEntry, SpeakerEntry, UndoRecord

UNDO_SECONDS = 10
# What a command may change on a row, besides its timer (elapsed + running).
FIELDS = {"entries": ("status", "manual_rank", "started_at", "ended_at", "allotted_seconds"),
          "items": ("status", "started_at", "ended_at", "queue_closed")}
MODELS = {"entries": SpeakerEntry, "items": AgendaItem}
SECTIONS = ("agenda", "queue", "queue_staff", "statistics")


def _stored(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _loaded(value: Any, field: str) -> Any:
    if value is not None and field in ("started_at", "ended_at"):
        return dt.datetime.fromisoformat(value)
    return value


def capture(ctx: Context, entries: Iterable[SpeakerEntry] = (), items: Iterable[AgendaItem] = ()) -> dict[str, Any]:
    """The rows as they are now, before the command changes them."""
    rows: dict[str, list[dict[str, Any]]] = {"entries": [], "items": []}
    for kind, records in (("entries", entries), ("items", items)):
        seen = set()
        for record in records:
            if record is None or record.id in seen:
                continue
            seen.add(record.id)
            row = {field: _stored(getattr(record, field)) for field in FIELDS[kind]}
            row.update(id=record.id, elapsed=timers.elapsed(record, ctx.now),
                       running=record.run_started_at is not None)
            rows[kind].append(row)
    rows["pinned"] = ctx.require_dialogue().pinned_input_id
    return rows


def offer(ctx: Context, command: str, rows: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Keep ``rows`` for an undo of ``command``; add ``undo`` to its result."""
    expires = ctx.now + dt.timedelta(seconds=UNDO_SECONDS)
    record = UndoRecord(dialogue_id=ctx.require_dialogue().id, command=command,
                        version=ctx.require_dialogue().version, rows=rows, created_at=ctx.now, expires_at=expires)
    ctx.session.add(record)
    ctx.session.flush()
    result["undo"] = {"id": record.id, "command": command, "expires_at": timers.ms(expires)}
    return result


def restore(ctx: Context, undo_id: int, family: str) -> dict[str, Any]:
    """Put back what the command ``undo_id`` took away (see the module docstring)."""
    dialogue = ctx.require_dialogue()
    record = ctx.session.get(UndoRecord, undo_id)
    if record is None or record.dialogue_id != dialogue.id or not record.command.startswith(family + "."):
        raise NotFound("There is nothing to undo with that id.")
    if record.undone_at is not None:
        raise Conflict("That action was undone already.")
    if ctx.now > record.expires_at:
        raise Conflict(f"Too late to undo: an action can be undone for {UNDO_SECONDS} seconds.")
    later = ctx.session.scalar(select(AuditEntry).where(
        AuditEntry.dialogue_id == dialogue.id, AuditEntry.version > record.version,
        or_(AuditEntry.command.like("queue.%"), AuditEntry.command.like("agenda.%")))
        .order_by(AuditEntry.version).limit(1))
    if later is not None:
        raise Conflict("The list or the agenda changed after that action "
                                       f"({later.command} by {later.actor}); nothing was undone.")
    stored = dict(record.rows or {})
    pinned = stored.pop("pinned", None)
    for kind, rows in stored.items():
        for row in rows:
            target = ctx.session.get(MODELS[kind], row["id"])
            if target is None or target.dialogue_id != dialogue.id:
                raise Conflict("What that action changed is gone; nothing was undone.")
            for field in FIELDS[kind]:
                setattr(target, field, _loaded(row[field], field))
            target.elapsed_seconds = row["elapsed"]
            target.run_started_at = ctx.now if row["running"] else None
    if pinned is not None and dialogue.pinned_input_id is None:
        dialogue.pinned_input_id = pinned
        ctx.touch("pinned")
    record.undone_at = ctx.now
    ctx.touch(*SECTIONS)
    return {"undone": record.command, "undo_id": record.id}
