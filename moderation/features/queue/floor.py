"""The floor: the chair gives it (to the proposed or a chosen speaker), ends
the intervention, and pauses, resumes or adjusts the speaker's clock."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from moderation.core import timers
from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict
from moderation.features.queue import undo
from moderation.features.queue.handling import CHAIR, EntryPayload, changed, finish, queue_state, require_item, waiting_entry
from moderation.features.queue.state import SPEAKING, QueueState, allotted_for
from moderation.models import SpeakerEntry


def _give_floor(ctx: Context, state: QueueState, entry: SpeakerEntry, command: str) -> dict[str, Any]:
    """Starting the next speaker ends the current one: that cut can be
    undone (``queue.undo``), which gives the current speaker back the time
    they had left and puts the next one back in their place on the list."""
    taken = undo.capture(ctx, [state.current, entry]) if state.current is not None else None
    if state.current is not None:
        finish(state.current, ctx.now)
    entry.status = SPEAKING
    entry.started_at = ctx.now
    entry.manual_rank = None
    entry.allotted_seconds = allotted_for(ctx.require_dialogue(), entry.intervention_type)
    timers.start(entry, ctx.now)
    changed(ctx, "statistics")
    result = {"speaking_id": entry.id, "ended_id": state.current.id if state.current else None}
    return undo.offer(ctx, command, taken, result) if taken else result


class CallNextPayload(DialoguePayload):
    expected_entry_id: int | None = Field(
        default=None, description="The proposed speaker the console shows. If the proposal changed meanwhile "
        "(another moderator pressed next), nothing happens and the error says so.")


@command("queue.call_next", payload=CallNextPayload, roles=CHAIR, operation_id="callNextSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/next")
def call_next(ctx: Context, p: CallNextPayload):
    """Give the floor to the proposed next speaker (the current one's time ends).
    When that cuts someone off, the answer carries ``undo`` (see ``queue.undo``)."""
    require_item(ctx)
    state = queue_state(ctx)
    proposed = state.proposed
    if proposed is None:
        raise Conflict("No one is waiting for the floor.")
    if p.expected_entry_id is not None and proposed.id != p.expected_entry_id:
        raise Conflict(f"The list has changed: {proposed.name} is proposed now. Nothing was done.")
    return _give_floor(ctx, state, proposed, "queue.call_next")


@command("queue.call_speaker", payload=EntryPayload, roles=CHAIR, operation_id="callSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/call")
def call_speaker(ctx: Context, p: EntryPayload):
    """Give the floor to a particular waiting speaker instead of the proposed one.
    When that cuts someone off, the answer carries ``undo`` (see ``queue.undo``)."""
    entry = waiting_entry(ctx, require_item(ctx), p.entry_id)
    return _give_floor(ctx, queue_state(ctx), entry, "queue.call_speaker")


class OptionalEntryPayload(DialoguePayload):
    entry_id: int | None = Field(default=None, description="Default: the current speaker.")


def _current_speaker(ctx: Context, entry_id: int | None) -> SpeakerEntry:
    state = queue_state(ctx)
    if state.current is None or (entry_id is not None and state.current.id != entry_id):
        raise Conflict("That person does not have the floor (any more).")
    return state.current


@command("queue.end_speaker", payload=OptionalEntryPayload, roles=CHAIR, operation_id="endSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/end")
def end_speaker(ctx: Context, p: OptionalEntryPayload):
    """End the current speaker's intervention without calling the next."""
    entry = _current_speaker(ctx, p.entry_id)
    taken = undo.capture(ctx, [entry])
    finish(entry, ctx.now)
    changed(ctx, "statistics")
    return undo.offer(ctx, "queue.end_speaker", taken, {"ended_id": entry.id})


@command("queue.pause_speaker", payload=OptionalEntryPayload, roles=CHAIR, operation_id="pauseSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/pause")
def pause_speaker(ctx: Context, p: OptionalEntryPayload):
    """Stop the current speaker's clock (an interruption, a technical problem)."""
    entry = _current_speaker(ctx, p.entry_id)
    if entry.run_started_at is None:
        raise Conflict("The speaker's clock is already paused.")
    timers.stop(entry, ctx.now)
    changed(ctx)
    return {"entry_id": entry.id}


@command("queue.resume_speaker", payload=OptionalEntryPayload, roles=CHAIR, operation_id="resumeSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/resume")
def resume_speaker(ctx: Context, p: OptionalEntryPayload):
    """Restart the current speaker's paused clock."""
    entry = _current_speaker(ctx, p.entry_id)
    if entry.run_started_at is not None:
        raise Conflict("The speaker's clock is already running.")
    timers.start(entry, ctx.now)
    changed(ctx)
    return {"entry_id": entry.id}


class AddTimePayload(OptionalEntryPayload):
    seconds: int = Field(ge=-600, le=600, description="Seconds to add (negative to take away).")


@command("queue.adjust_speaker_time", payload=AddTimePayload, roles=CHAIR, operation_id="adjustSpeakerTime",
         http_path="/dialogues/{dialogue_id}/queue/adjust-time")
def adjust_speaker_time(ctx: Context, p: AddTimePayload):
    """Give the current speaker more (or less) time."""
    entry = _current_speaker(ctx, p.entry_id)
    entry.allotted_seconds = max(10, entry.allotted_seconds + p.seconds)
    changed(ctx)
    return {"entry_id": entry.id, "allotted_seconds": entry.allotted_seconds}
