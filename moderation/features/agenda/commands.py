"""The agenda: items, their server-side timers, and the commands that run them.

Timers are absolute times. A running item has ``run_started_at``; the time it
ran before its last pause is in ``elapsed_seconds``. Screens receive
``ends_at`` (epoch milliseconds) and draw the countdown themselves; nothing is
broadcast per second.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from moderation.core import timers
from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.core.timers import ms
from moderation.core.updates import assign_given
from moderation.features.queue import undo
from moderation.features.queue.handling import end_current_speaker
from moderation.features.queue.state import open_entries
from moderation.models import AgendaItem, Dialogue, ItemStatus, Role
from moderation.plugins import agenda_item_types

CHAIR = {Role.MODERATOR, Role.SECRETARIAT}
# The queue belongs to the current item, so agenda changes change it too.
AGENDA_SECTIONS = ("agenda", "queue", "queue_staff")
ACTIVE = (ItemStatus.RUNNING.value, ItemStatus.PAUSED.value)

Title = Annotated[SingleLine, Field(min_length=1, max_length=300)]
Description = Annotated[str, Field(max_length=2000)]
Minutes = Annotated[int, Field(ge=1, le=600)]


# -- timer arithmetic ------------------------------------------------------
def elapsed_seconds(item: AgendaItem, now: dt.datetime) -> float:
    if item.status == ItemStatus.RUNNING.value:
        return timers.elapsed(item, now)
    return item.elapsed_seconds


def remaining_seconds(item: AgendaItem, now: dt.datetime) -> float:
    """Negative once the item runs over its planned time."""
    return item.planned_seconds - elapsed_seconds(item, now)


def ends_at(item: AgendaItem) -> dt.datetime | None:
    if item.status != ItemStatus.RUNNING.value:
        return None
    return timers.ends_at(item, item.planned_seconds)


def current_item(items: list[AgendaItem]) -> AgendaItem | None:
    return next((item for item in items if item.status in ACTIVE), None)


def estimated_end(dialogue: Dialogue, items: list[AgendaItem], now: dt.datetime) -> dt.datetime | None:
    """When the session will end if every item still to come takes its planned time."""
    pending = sum(i.planned_seconds for i in items if i.status == ItemStatus.PENDING.value)
    current = current_item(items)
    if current is None and not any(i.status == ItemStatus.DONE.value for i in items):
        start = max(now, dialogue.starts_at) if dialogue.starts_at else now
        return start + dt.timedelta(seconds=pending)
    base = now
    if current is not None:
        base = now + dt.timedelta(seconds=max(0.0, remaining_seconds(current, now)))
    return base + dt.timedelta(seconds=pending)


# -- what screens see ------------------------------------------------------
def item_view(item: AgendaItem, planned_start: dt.datetime | None, types: dict) -> dict[str, Any]:
    item_type = types.get(item.item_type)
    return {
        "id": item.id,
        "position": item.position,
        "type": item.item_type,
        "type_label": item_type.label if item_type else item.item_type,
        "shows": list(item_type.shows) if item_type else [],
        "title": item.title,
        "description": item.description,
        "presenters": [line.strip() for line in item.presenters.splitlines() if line.strip()],
        "status": item.status,
        "planned_seconds": item.planned_seconds,
        "planned_start": ms(planned_start),
        "started_at": ms(item.started_at),
        "ended_at": ms(item.ended_at),
        "run_started_at": ms(item.run_started_at),
        "elapsed_seconds": round(item.elapsed_seconds, 3),
        "ends_at": ms(ends_at(item)),
    }


def agenda_section(session, dialogue: Dialogue, now: dt.datetime, plugins, role=None) -> dict[str, Any]:
    items = list(session.scalars(select(AgendaItem).where(AgendaItem.dialogue_id == dialogue.id)
                                 .order_by(AgendaItem.position)))
    types = agenda_item_types(plugins)
    views, cursor = [], dialogue.starts_at
    for item in items:
        views.append(item_view(item, cursor, types))
        if cursor is not None:
            cursor += dt.timedelta(seconds=item.planned_seconds)
    current = current_item(items)
    return {
        "items": views,
        "current_item_id": current.id if current else None,
        "planned_end": ms(cursor),
        "estimated_end": ms(estimated_end(dialogue, items, now)),
    }


# -- helpers for handlers ----------------------------------------------------
def _items(ctx: Context) -> list[AgendaItem]:
    return list(ctx.session.scalars(select(AgendaItem).where(
        AgendaItem.dialogue_id == ctx.require_dialogue().id).order_by(AgendaItem.position)))


def _item(ctx: Context, item_id: int) -> AgendaItem:
    item = ctx.session.get(AgendaItem, item_id)
    if item is None or item.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"Agenda item {item_id} is not on this dialogue's agenda.")
    return item


def _taken(ctx: Context, current: AgendaItem | None, *others: AgendaItem | None) -> dict[str, Any] | None:
    """What ending ``current`` takes away when someone has the floor or
    people wait on it (for ``agenda.undo``); None otherwise."""
    people = open_entries(ctx.session, current.id) if current is not None else []
    if not people:
        return None
    return undo.capture(ctx, entries=people, items=[current, *others])


def _offered(ctx: Context, command: str, taken: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any]:
    return undo.offer(ctx, command, taken, result) if taken else result


def _finish(ctx: Context, item: AgendaItem) -> None:
    """End an item; its speaker's intervention ends with it."""
    if end_current_speaker(ctx.session, item, ctx.now):
        ctx.touch("statistics")
    _stop(item, ctx.now, ItemStatus.DONE)


def _item_changed(ctx: Context) -> None:
    """Another item is current (or none): the input pinned to the display
    belonged to the one before, so it leaves every screen (``pinned``)."""
    dialogue = ctx.require_dialogue()
    if dialogue.pinned_input_id is not None:
        dialogue.pinned_input_id = None
        ctx.touch("pinned")


def _stop(item: AgendaItem, now: dt.datetime, status: ItemStatus) -> None:
    item.elapsed_seconds = elapsed_seconds(item, now)
    item.run_started_at = None
    item.status = status.value
    if status is ItemStatus.DONE:
        item.ended_at = now


def _start(item: AgendaItem, now: dt.datetime) -> None:
    if item.started_at is None:
        item.started_at = now
    item.ended_at = None
    item.run_started_at = now
    item.status = ItemStatus.RUNNING.value


def _item_type(ctx: Context, name: str):
    types = agenda_item_types(ctx.plugins)
    if name not in types:
        raise InvalidPayload(f"Unknown agenda-item type {name[:50]!r}.",
                           [{"field": "item_type", "message": "one of " + ", ".join(sorted(types))}])
    return types[name]


def _state(item: AgendaItem | None) -> dict[str, Any]:
    return {"current_item_id": item.id if item else None}


# -- running the agenda ------------------------------------------------------
class ItemPayload(DialoguePayload):
    item_id: int


class OptionalItemPayload(DialoguePayload):
    item_id: int | None = None


class AdvancePayload(DialoguePayload):
    from_item_id: int | None = Field(
        default=None, description="The item the moderator sees as current; if another item is current "
        "by now (someone else advanced), the command is refused instead of skipping an item.")


class AdjustPayload(DialoguePayload):
    item_id: int | None = None
    seconds: int = Field(ge=-3600, le=3600, description="Seconds to add (negative to shorten).")


def _active_or_error(ctx: Context, item_id: int | None, *statuses: ItemStatus) -> AgendaItem:
    current = current_item(_items(ctx))
    if current is None or (item_id is not None and current.id != item_id):
        raise Conflict("That agenda item is not the current one.")
    if current.status not in {s.value for s in statuses}:
        raise Conflict(f"The current item is {current.status}.")
    return current


@command("agenda.start_item", payload=ItemPayload, roles=CHAIR, operation_id="startAgendaItem",
         http_path="/dialogues/{dialogue_id}/agenda/start")
def start_item(ctx: Context, p: ItemPayload):
    """Start an agenda item (or reopen a finished one); the current item ends.

    The input pinned to the display is unpinned whenever the current item changes."""
    item = _item(ctx, p.item_id)
    current = current_item(_items(ctx))
    if current is not None and current.id == item.id:
        raise Conflict("That item is already the current one.")
    taken = _taken(ctx, current, item)
    if current is not None:
        _finish(ctx, current)
    _start(item, ctx.now)
    _item_changed(ctx)
    ctx.touch(*AGENDA_SECTIONS)
    return _offered(ctx, "agenda.start_item", taken, _state(item))


@command("agenda.pause_item", payload=OptionalItemPayload, roles=CHAIR, operation_id="pauseAgendaItem",
         http_path="/dialogues/{dialogue_id}/agenda/pause")
def pause_item(ctx: Context, p: OptionalItemPayload):
    """Pause the current item's timer."""
    item = _active_or_error(ctx, p.item_id, ItemStatus.RUNNING)
    _stop(item, ctx.now, ItemStatus.PAUSED)
    ctx.touch(*AGENDA_SECTIONS)
    return _state(item)


@command("agenda.resume_item", payload=OptionalItemPayload, roles=CHAIR, operation_id="resumeAgendaItem",
         http_path="/dialogues/{dialogue_id}/agenda/resume")
def resume_item(ctx: Context, p: OptionalItemPayload):
    """Resume the paused current item."""
    item = _active_or_error(ctx, p.item_id, ItemStatus.PAUSED)
    _start(item, ctx.now)
    ctx.touch(*AGENDA_SECTIONS)
    return _state(item)


@command("agenda.end_item", payload=OptionalItemPayload, roles=CHAIR, operation_id="endAgendaItem",
         http_path="/dialogues/{dialogue_id}/agenda/end")
def end_item(ctx: Context, p: OptionalItemPayload):
    """End the current item without starting another (the pinned input is unpinned)."""
    item = _active_or_error(ctx, p.item_id, ItemStatus.RUNNING, ItemStatus.PAUSED)
    taken = _taken(ctx, item)
    _finish(ctx, item)
    _item_changed(ctx)
    ctx.touch(*AGENDA_SECTIONS)
    return _offered(ctx, "agenda.end_item", taken, _state(None))


@command("agenda.advance", payload=AdvancePayload, roles=CHAIR, operation_id="advanceAgenda",
         http_path="/dialogues/{dialogue_id}/agenda/advance")
def advance(ctx: Context, p: AdvancePayload):
    """End the current item and start the next pending one (the pinned input is unpinned)."""
    items = _items(ctx)
    current = current_item(items)
    if p.from_item_id is not None and (current is None or current.id != p.from_item_id):
        raise Conflict("The agenda has moved on meanwhile; nothing was changed.")
    after = current.position if current else -1
    upcoming = [i for i in items if i.status == ItemStatus.PENDING.value and i.position > after]
    if current is None and not upcoming:
        raise Conflict("There is no further agenda item.")
    following = upcoming[0] if upcoming else None
    taken = _taken(ctx, current, following)
    if current is not None:
        _finish(ctx, current)
    if following is not None:
        _start(following, ctx.now)
    _item_changed(ctx)
    ctx.touch(*AGENDA_SECTIONS)
    return _offered(ctx, "agenda.advance", taken, _state(following))


@command("agenda.adjust_time", payload=AdjustPayload, roles=CHAIR, operation_id="adjustAgendaItemTime",
         http_path="/dialogues/{dialogue_id}/agenda/adjust-time")
def adjust_time(ctx: Context, p: AdjustPayload):
    """Add time to (or take time from) the current item's planned duration."""
    item = _active_or_error(ctx, p.item_id, ItemStatus.RUNNING, ItemStatus.PAUSED)
    item.planned_seconds = max(60, item.planned_seconds + p.seconds)
    ctx.touch(*AGENDA_SECTIONS)
    return {"item_id": item.id, "planned_seconds": item.planned_seconds}


class UndoPayload(DialoguePayload):
    undo_id: int = Field(description="The ``undo.id`` from the answer of the command to undo.")


@command("agenda.undo", payload=UndoPayload, roles=CHAIR, operation_id="undoAgendaAction",
         http_path="/dialogues/{dialogue_id}/agenda/undo")
def undo_agenda_action(ctx: Context, p: UndoPayload):
    """Undo a next item, end item or start item within 10 seconds.
    Offered (``undo`` in the answer) when the item ended while someone had the floor or
    people waited; puts back the item, its speaker with the time they had left and its
    list. Refused (``conflict``) once the list or the agenda changed since, once undone,
    or after 10 seconds."""
    return undo.restore(ctx, p.undo_id, "agenda")


# -- editing the agenda (secretariat) -------------------------------------------
Presenters = Annotated[str, Field(max_length=2000, description="Panellists or presenters, one per line.")]


class AddItemPayload(DialoguePayload):
    item_type: SingleLine = Field(default="generic", max_length=50)
    title: Title | None = None
    description: Description = ""
    presenters: Presenters = ""
    planned_minutes: Minutes | None = None
    position: int | None = Field(default=None, ge=0, description="0-based; default: at the end.")


class UpdateItemPayload(DialoguePayload):
    item_id: int
    item_type: SingleLine | None = Field(default=None, max_length=50)
    title: Title | None = None
    description: Description | None = None
    presenters: Presenters | None = None
    planned_minutes: Minutes | None = None


class ReorderPayload(DialoguePayload):
    item_ids: list[int] = Field(max_length=200)


def _renumber(items: list[AgendaItem]) -> None:
    for position, item in enumerate(items):
        item.position = position


@command("agenda.add_item", payload=AddItemPayload, roles={Role.SECRETARIAT}, operation_id="addAgendaItem",
         http_path="/dialogues/{dialogue_id}/agenda/items")
def add_item(ctx: Context, p: AddItemPayload):
    """Add an item to the agenda."""
    item_type = _item_type(ctx, p.item_type)
    items = _items(ctx)
    if len(items) >= 200:
        raise Conflict("An agenda holds at most 200 items.")
    minutes = p.planned_minutes or item_type.default_minutes
    item = AgendaItem(dialogue_id=ctx.require_dialogue().id, position=len(items), item_type=item_type.name,
                      title=p.title or item_type.label, description=p.description, presenters=p.presenters,
                      planned_seconds=minutes * 60, status=ItemStatus.PENDING.value, elapsed_seconds=0.0)
    ctx.session.add(item)
    position = len(items) if p.position is None else min(p.position, len(items))
    items.insert(position, item)
    _renumber(items)
    ctx.session.flush()
    ctx.touch(*AGENDA_SECTIONS)
    return {"item_id": item.id}


@command("agenda.update_item", payload=UpdateItemPayload, roles={Role.SECRETARIAT},
         operation_id="updateAgendaItem", http_path="/dialogues/{dialogue_id}/agenda/items/update")
def update_item(ctx: Context, p: UpdateItemPayload):
    """Change an item's type, title, description or planned duration."""
    item = _item(ctx, p.item_id)
    if p.item_type is not None:
        item.item_type = _item_type(ctx, p.item_type).name
    assign_given(item, p, "title", "description", "presenters")
    if p.planned_minutes is not None:
        item.planned_seconds = p.planned_minutes * 60
    ctx.touch(*AGENDA_SECTIONS)
    return {"item_id": item.id}


@command("agenda.remove_item", payload=ItemPayload, roles={Role.SECRETARIAT}, operation_id="removeAgendaItem",
         http_path="/dialogues/{dialogue_id}/agenda/items/remove")
def remove_item(ctx: Context, p: ItemPayload):
    """Remove an item that has not started."""
    item = _item(ctx, p.item_id)
    if item.status != ItemStatus.PENDING.value or item.started_at is not None:
        raise Conflict("Only an item that has not started can be removed.")
    ctx.session.delete(item)
    _renumber([i for i in _items(ctx) if i.id != item.id])
    ctx.touch(*AGENDA_SECTIONS)
    return {"item_id": p.item_id}


@command("agenda.reorder", payload=ReorderPayload, roles={Role.SECRETARIAT}, operation_id="reorderAgenda",
         http_path="/dialogues/{dialogue_id}/agenda/reorder")
def reorder(ctx: Context, p: ReorderPayload):
    """Put the agenda items in a new order (all item ids, each once)."""
    items = {item.id: item for item in _items(ctx)}
    if sorted(p.item_ids) != sorted(items):
        raise InvalidPayload("Give every item of this agenda exactly once.",
                           [{"field": "item_ids", "message": "must be a permutation of the agenda's items"}])
    _renumber([items[i] for i in p.item_ids])
    ctx.touch(*AGENDA_SECTIONS)
    return {"item_ids": p.item_ids}
