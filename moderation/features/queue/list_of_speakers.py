"""The list of speakers itself: the chair reorders it, takes people off or
puts the last speaker back, closes and reopens it, undoes a disruptive
command, and chooses the ordering policies and speaking times."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, InvalidPayload
from moderation.core.storable import SingleLine
from moderation.core.updates import assign_given
from moderation.features.queue import undo
from moderation.features.queue.handling import (
    CHAIR,
    EntryPayload,
    InterventionName,
    changed,
    ensure_no_open_request,
    new_entry,
    queue_state,
    require_item,
    waiting_entry,
)
from moderation.features.queue.state import SPEAKING, open_entries, policy_names
from moderation.models import Participant, SpeakerStatus
from moderation.plugins import policies_by_name


class ReorderQueuePayload(DialoguePayload):
    entry_ids: list[int] = Field(max_length=500, description="Every waiting request of the current item, in "
                                 "the new order.")


@command("queue.reorder", payload=ReorderQueuePayload, roles=CHAIR, operation_id="reorderQueue",
         http_path="/dialogues/{dialogue_id}/queue/reorder")
def reorder(ctx: Context, p: ReorderQueuePayload):
    """Put the waiting speakers in a new order by hand; the policies no longer move them."""
    require_item(ctx)
    state = queue_state(ctx)
    waiting = {e.id: e for e in state.waiting}
    if sorted(p.entry_ids) != sorted(waiting):
        raise Conflict("The list changed while you were reordering it; nothing was changed. "
                                       "Try again on the current list.")
    for rank, entry_id in enumerate(p.entry_ids):
        waiting[entry_id].manual_rank = float(rank)
    changed(ctx)
    return {"entry_ids": p.entry_ids}


@command("queue.move_to_top", payload=EntryPayload, roles=CHAIR, operation_id="moveSpeakerToTop",
         http_path="/dialogues/{dialogue_id}/queue/move-to-top")
def move_to_top(ctx: Context, p: EntryPayload):
    """Move a waiting speaker to the top of the list."""
    entry = waiting_entry(ctx, require_item(ctx), p.entry_id)
    ranks = [e.manual_rank for e in queue_state(ctx).waiting if e.manual_rank is not None and e.id != entry.id]
    entry.manual_rank = (min(ranks) if ranks else 0.0) - 1.0
    changed(ctx)
    return {"entry_id": entry.id}


@command("queue.remove", payload=EntryPayload, roles=CHAIR, operation_id="removeSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/remove")
def remove(ctx: Context, p: EntryPayload):
    """Take a waiting speaker off the list."""
    entry = waiting_entry(ctx, require_item(ctx), p.entry_id)
    taken = undo.capture(ctx, [entry])
    entry.status = SpeakerStatus.REMOVED.value
    entry.ended_at = ctx.now
    changed(ctx)
    return undo.offer(ctx, "queue.remove", taken, {"entry_id": entry.id})


@command("queue.readd_last", payload=DialoguePayload, roles=CHAIR, operation_id="readdLastSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/readd-last")
def readd_last(ctx: Context, p: DialoguePayload):
    """Put the last speaker of this item back at the top of the list (a follow-up, a cut-off line)."""
    item = require_item(ctx)
    state = queue_state(ctx)
    last = state.last
    if last is None:
        raise Conflict("No one has spoken on this item yet.")
    if last.status == SPEAKING:
        raise Conflict(f"{last.name} has the floor now.")
    if last.participant_id is not None:
        ensure_no_open_request(ctx, item, last.participant_id)
    elif any(e.participant_id is None and e.name == last.name and e.organization_key == last.organization_key
             for e in state.waiting):
        # A walk-in has no registration to check; without this a second press
        # (or a second moderator) would put the same person on the list twice.
        raise Conflict(f"{last.name} is already on the list again.")
    participant = ctx.session.get(Participant, last.participant_id) if last.participant_id else None
    entry = new_entry(ctx, item, participant=participant, name=last.name, organization=last.organization,
                       category=last.category, channel=last.channel, intervention_type=last.intervention_type,
                       note=last.note, added_by="moderator")
    ranks = [e.manual_rank for e in state.waiting if e.manual_rank is not None]
    entry.manual_rank = (min(ranks) if ranks else 0.0) - 1.0
    changed(ctx)
    return {"entry_id": entry.id}


@command("queue.use_automatic_order", payload=DialoguePayload, roles=CHAIR, operation_id="useAutomaticOrder",
         http_path="/dialogues/{dialogue_id}/queue/automatic")
def use_automatic_order(ctx: Context, p: DialoguePayload):
    """Drop the manual placements: the policies order the whole list again."""
    require_item(ctx)
    for entry in queue_state(ctx).waiting:
        entry.manual_rank = None
    changed(ctx)
    return {}


def _set_closed(ctx: Context, closed: bool) -> dict[str, Any]:
    item = require_item(ctx)
    item.queue_closed = closed
    changed(ctx)
    return {"item_id": item.id, "closed": closed}


@command("queue.close", payload=DialoguePayload, roles=CHAIR, operation_id="closeQueue",
         http_path="/dialogues/{dialogue_id}/queue/close")
def close(ctx: Context, p: DialoguePayload):
    """Close the list of speakers of the current item (points of order stay possible unless configured otherwise).
    While someone has the floor or people wait, the answer carries ``undo`` (see ``queue.undo``)."""
    item = require_item(ctx)
    people = open_entries(ctx.session, item.id)
    taken = undo.capture(ctx, items=[item]) if people and not item.queue_closed else None
    result = _set_closed(ctx, True)
    return undo.offer(ctx, "queue.close", taken, result) if taken else result


@command("queue.reopen", payload=DialoguePayload, roles=CHAIR, operation_id="reopenQueue",
         http_path="/dialogues/{dialogue_id}/queue/reopen")
def reopen(ctx: Context, p: DialoguePayload):
    """Open the list of speakers of the current item again."""
    return _set_closed(ctx, False)


class UndoPayload(DialoguePayload):
    undo_id: int = Field(description="The ``undo.id`` from the answer of the command to undo.")


@command("queue.undo", payload=UndoPayload, roles=CHAIR, operation_id="undoQueueAction",
         http_path="/dialogues/{dialogue_id}/queue/undo")
def undo_queue_action(ctx: Context, p: UndoPayload):
    """Undo an end of speaker, a floor given while someone spoke, a removal or a closing of the list within 10 seconds.
    Puts back exactly what it took away: the speaker with the time they had left, the
    list and its order. Refused (``conflict``) once the list or the agenda changed
    since, once undone, or after 10 seconds."""
    return undo.restore(ctx, p.undo_id, "queue")


class ConfigurePayload(DialoguePayload):
    policies: list[Annotated[SingleLine, Field(max_length=60)]] | None = Field(
        default=None, max_length=10, description="Ordering policies by name, most important first; "
        "an empty list means the default combination.")
    speaking_seconds: int | None = Field(default=None, ge=15, le=3600)
    speaking_seconds_by_type: dict[InterventionName, Annotated[int, Field(ge=15, le=3600)]] | None = None
    warning_seconds: int | None = Field(default=None, ge=0, le=600)
    points_of_order_when_closed: bool | None = None


@command("queue.configure", payload=ConfigurePayload, roles=CHAIR, operation_id="configureQueue",
         http_path="/dialogues/{dialogue_id}/queue/settings")
def configure(ctx: Context, p: ConfigurePayload):
    """Choose the ordering policies, speaking times and warning for this dialogue."""
    dialogue = ctx.require_dialogue()
    if p.policies is not None:
        available = policies_by_name(ctx.plugins)
        unknown = [name for name in p.policies if name not in available]
        if unknown or len(set(p.policies)) != len(p.policies):
            raise InvalidPayload("Unknown or repeated policy.", [{
                "field": "policies", "message": "choose from " + ", ".join(sorted(available))}])
        dialogue.queue_policies = list(p.policies)
    assign_given(dialogue, p, "speaking_seconds", "warning_seconds", "points_of_order_when_closed")
    if p.speaking_seconds_by_type is not None:
        dialogue.speaking_seconds_by_type = dict(p.speaking_seconds_by_type)
    changed(ctx)
    return {"policies": policy_names(dialogue)}
