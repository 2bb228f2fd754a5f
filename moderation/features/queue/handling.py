"""What the queue's command handlers share: finding the item and the request a
command is about, creating a request, ending an intervention, and marking
the queue changed; so that asking, floor and list commands check alike."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field
from sqlalchemy import func, select

from moderation.core import timers
from moderation.core.commands import Context, DialoguePayload
from moderation.core.errors import Conflict, NotFound
from moderation.features.queue.state import DONE, OPEN, SPEAKING, WAITING, QueueState, allotted_for, current_item
from moderation.models import AgendaItem, Organization, Participant, Role, SpeakerEntry

CHAIR = {Role.MODERATOR, Role.SECRETARIAT}
InterventionName = Literal["statement", "question", "point_of_order", "reply"]
ChannelName = Literal["room", "online"]
CategoryName = Literal["ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other"]
Note = Annotated[str, Field(max_length=200, description="What the intervention is about (optional).")]


class EntryPayload(DialoguePayload):
    entry_id: int


def require_item(ctx: Context) -> AgendaItem:
    item = current_item(ctx.session, ctx.require_dialogue().id)
    if item is None:
        raise Conflict("No agenda item is running, so there is no list of speakers.")
    return item


def find_entry(ctx: Context, entry_id: int, *statuses: str) -> SpeakerEntry:
    entry = ctx.session.get(SpeakerEntry, entry_id)
    if entry is None or entry.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"There is no request {entry_id} in this dialogue.")
    if statuses and entry.status not in statuses:
        raise Conflict(f"That request is {entry.status} now; the list has changed.")
    return entry


def waiting_entry(ctx: Context, item: AgendaItem, entry_id: int) -> SpeakerEntry:
    """A waiting request on the current item's list (a request left waiting
    on an earlier item is not on the list the moderator sees)."""
    entry = find_entry(ctx, entry_id, WAITING)
    if entry.agenda_item_id != item.id:
        raise Conflict("That request belongs to another agenda item.")
    return entry


def queue_state(ctx: Context) -> QueueState:
    return QueueState(ctx.session, ctx.require_dialogue(), ctx.plugins, ctx.now)


def changed(ctx: Context, *extra: str) -> None:
    ctx.touch("queue", "queue_staff", *extra)


def organization_key(session, participant: Participant | None, organization: str, name: str = "") -> str:
    """Who counts as the same organization for "first time" and the counts.
    A walk-in typed without an organization stands for themselves: an empty
    name must not make every such walk-in one organization."""
    if participant is not None:
        return f"org:{participant.organization_id}" if participant.organization_id else f"participant:{participant.id}"
    typed = organization.strip().lower()
    if not typed:
        return "person:" + name.strip().lower()
    org_id = session.scalar(select(Organization.id).where(func.lower(Organization.name) == typed).limit(1))
    return f"org:{org_id}" if org_id else "name:" + typed


def ensure_no_open_request(ctx: Context, item: AgendaItem, participant_id: int) -> None:
    existing = ctx.session.scalar(select(SpeakerEntry).where(
        SpeakerEntry.agenda_item_id == item.id, SpeakerEntry.participant_id == participant_id,
        SpeakerEntry.status.in_(OPEN)).limit(1))
    if existing is not None:
        what = "has the floor" if existing.status == SPEAKING else "is already on the list"
        raise Conflict(f"{existing.name} {what} for this item. One request per person and "
                                       "item: withdraw it to ask again.")


def new_entry(ctx: Context, item: AgendaItem, *, participant: Participant | None, name: str,
               organization: str, category: str, channel: str, intervention_type: str, note: str,
               added_by: str) -> SpeakerEntry:
    entry = SpeakerEntry(
        dialogue_id=item.dialogue_id, agenda_item_id=item.id,
        participant_id=participant.id if participant else None, name=name, organization=organization,
        organization_key=organization_key(ctx.session, participant, organization, name), category=category,
        channel=channel, intervention_type=intervention_type, note=note, status=WAITING, added_by=added_by,
        requested_at=ctx.now, elapsed_seconds=0.0,
        allotted_seconds=allotted_for(ctx.require_dialogue(), intervention_type))
    ctx.session.add(entry)
    ctx.session.flush()
    return entry


def finish(entry: SpeakerEntry, now: dt.datetime) -> None:
    timers.stop(entry, now)
    entry.status = DONE
    entry.ended_at = now


def end_current_speaker(session, item: AgendaItem, now: dt.datetime) -> bool:
    """Called when an agenda item ends: its speaker's time ends too."""
    speaking = session.scalar(select(SpeakerEntry).where(
        SpeakerEntry.agenda_item_id == item.id, SpeakerEntry.status == SPEAKING).limit(1))
    if speaking is None:
        return False
    finish(speaking, now)
    return True
