"""Requests for the floor: participants ask for it and withdraw from their own
device; the chair puts someone on the list on their behalf (a placard in the
room, a raised hand online)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, Forbidden, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.features.queue.handling import (
    CHAIR,
    CategoryName,
    ChannelName,
    InterventionName,
    Note,
    changed,
    ensure_no_open_request,
    find_entry,
    new_entry,
    require_item,
)
from moderation.features.queue.state import WAITING
from moderation.models import Participant, Role, SpeakerEntry, SpeakerStatus


# -- participants ------------------------------------------------------------------------
class RequestPayload(DialoguePayload):
    intervention_type: InterventionName = "statement"
    note: Note = ""


@command("queue.request_floor", payload=RequestPayload, roles={Role.PARTICIPANT}, operation_id="requestFloor",
         http_path="/dialogues/{dialogue_id}/queue/request")
def request_floor(ctx: Context, p: RequestPayload):
    """Ask for the floor on the current agenda item."""
    item = require_item(ctx)
    dialogue = ctx.require_dialogue()
    if item.queue_closed and not (p.intervention_type == "point_of_order" and dialogue.points_of_order_when_closed):
        raise Conflict("The list of speakers is closed for this item."
                           + (" Points of order are still possible." if dialogue.points_of_order_when_closed else ""))
    participant = ctx.session.get(Participant, ctx.actor.participant_id)
    if participant is None:
        raise Forbidden("Only registered participants can ask for the floor.")
    ensure_no_open_request(ctx, item, participant.id)
    org = participant.organization
    entry = new_entry(ctx, item, participant=participant, name=participant.name,
                       organization=org.name if org else "", category=org.category if org else "other",
                       channel=participant.channel, intervention_type=p.intervention_type, note=p.note,
                       added_by="participant")
    changed(ctx)
    return {"entry_id": entry.id}


class WithdrawPayload(DialoguePayload):
    entry_id: int | None = Field(default=None, description="Default: your open request on the current item.")


@command("queue.withdraw_request", payload=WithdrawPayload, roles={Role.PARTICIPANT},
         operation_id="withdrawRequest", http_path="/dialogues/{dialogue_id}/queue/withdraw")
def withdraw_request(ctx: Context, p: WithdrawPayload):
    """Withdraw your own request for the floor (before you are called)."""
    if p.entry_id is not None:
        entry = find_entry(ctx, p.entry_id)
    else:
        item = require_item(ctx)
        entry = ctx.session.scalar(select(SpeakerEntry).where(
            SpeakerEntry.agenda_item_id == item.id, SpeakerEntry.participant_id == ctx.actor.participant_id,
            SpeakerEntry.status == WAITING).limit(1))
        if entry is None:
            raise NotFound("You have no request waiting on this item.")
    if entry.participant_id != ctx.actor.participant_id:
        raise Forbidden("You can only withdraw your own request.")
    if entry.status != WAITING:
        raise Conflict(f"That request is {entry.status} and can no longer be withdrawn.")
    entry.status = SpeakerStatus.WITHDRAWN.value
    entry.ended_at = ctx.now
    changed(ctx)
    return {"entry_id": entry.id}


# -- the chair --------------------------------------------------------------------------------
class AddSpeakerPayload(DialoguePayload):
    participant_id: int | None = Field(default=None, description="A registered participant; or give name "
                                                                 "and organization.")
    name: Annotated[SingleLine, Field(min_length=1, max_length=200)] | None = None
    organization: Annotated[SingleLine, Field(max_length=300)] = ""
    category: CategoryName = "other"
    channel: ChannelName | None = Field(default=None, description="Where the request came from: a placard "
                                        "in the room or a raised hand online. Default: the participant's channel.")
    intervention_type: InterventionName = "statement"
    note: Note = ""


@command("queue.add_speaker", payload=AddSpeakerPayload, roles=CHAIR, operation_id="addSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/add")
def add_speaker(ctx: Context, p: AddSpeakerPayload):
    """Put someone on the list on their behalf (a placard in the room, a raised hand online)."""
    item = require_item(ctx)
    if p.participant_id is not None:
        participant = ctx.session.get(Participant, p.participant_id)
        if participant is None or participant.dialogue_id != item.dialogue_id:
            raise NotFound(f"Participant {p.participant_id} is not registered for this dialogue.")
        ensure_no_open_request(ctx, item, participant.id)
        org = participant.organization
        name, organization = participant.name, org.name if org else ""
        category = org.category if org else p.category
        channel = p.channel or participant.channel
    elif p.name:
        if p.channel is None:
            raise InvalidPayload("Say whether the speaker is in the room or online.",
                               [{"field": "channel", "message": "required without participant_id"}])
        participant, name, organization, category, channel = None, p.name, p.organization, p.category, p.channel
    else:
        raise InvalidPayload("Pick a registered participant or type a name.",
                           [{"field": "participant_id", "message": "participant_id or name is required"}])
    entry = new_entry(ctx, item, participant=participant, name=name, organization=organization,
                       category=category, channel=channel, intervention_type=p.intervention_type, note=p.note,
                       added_by="moderator")
    changed(ctx)
    return {"entry_id": entry.id}
