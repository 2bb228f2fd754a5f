"""The hybrid speaker queue: requests for the floor from the room and online,
the order the policies propose, the moderator's calls and changes, speaking
time, and the record of every intervention.

The queue belongs to the current agenda item. Participants ask from their own
device; the moderator adds people on behalf of a placard in the room or a
raised hand on the conference platform. The effective order is computed by
``queue_order.order`` from the dialogue's policy combination and the
moderator's manual placements.
"""
from __future__ import annotations

import datetime as dt
import statistics
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import func, select

from moderation.core import timers
from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, Forbidden, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.core.timers import ms
from moderation.features.queue import undo
from moderation.features.queue.order import Candidate, QueueContext, order
from moderation.models import (
    CATEGORY_LABELS,
    INTERVENTION_LABELS,
    AgendaItem,
    Category,
    Dialogue,
    InterventionType,
    ItemStatus,
    Organization,
    Participant,
    Role,
    SpeakerEntry,
    SpeakerStatus,
)
from moderation.plugins import policies_by_name
from moderation.plugins.queue_policies import DEFAULT_COMBINATION

CHAIR = {Role.MODERATOR, Role.SECRETARIAT}
WAITING, SPEAKING, DONE = SpeakerStatus.WAITING.value, SpeakerStatus.SPEAKING.value, SpeakerStatus.DONE.value
OPEN = (WAITING, SPEAKING)
InterventionName = Literal["statement", "question", "point_of_order", "reply"]
ChannelName = Literal["room", "online"]
CategoryName = Literal["ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other"]
Note = Annotated[str, Field(max_length=200, description="What the intervention is about (optional).")]
MIN_SAMPLES_FOR_MEDIAN = 3


# -- reading the queue ---------------------------------------------------------------
def current_item(session, dialogue_id: int) -> AgendaItem | None:
    return session.scalar(select(AgendaItem).where(
        AgendaItem.dialogue_id == dialogue_id,
        AgendaItem.status.in_((ItemStatus.RUNNING.value, ItemStatus.PAUSED.value))).limit(1))


def open_entries(session, item_id: int) -> list[SpeakerEntry]:
    return list(session.scalars(select(SpeakerEntry).where(
        SpeakerEntry.agenda_item_id == item_id, SpeakerEntry.status.in_(OPEN))))


def last_speaker(session, item_id: int) -> SpeakerEntry | None:
    return session.scalar(select(SpeakerEntry).where(
        SpeakerEntry.agenda_item_id == item_id, SpeakerEntry.started_at.is_not(None))
        .order_by(SpeakerEntry.started_at.desc(), SpeakerEntry.id.desc()).limit(1))


def spoken_organizations(session, dialogue_id: int) -> dict[str, int]:
    """Organization key -> number of interventions so far in this dialogue."""
    return dict(session.execute(select(SpeakerEntry.organization_key, func.count()).where(
        SpeakerEntry.dialogue_id == dialogue_id, SpeakerEntry.started_at.is_not(None))
        .group_by(SpeakerEntry.organization_key)).all())


def candidate(entry: SpeakerEntry) -> Candidate:
    return Candidate(id=entry.id, channel=entry.channel, category=entry.category,
                     intervention_type=entry.intervention_type, organization_key=entry.organization_key,
                     requested_at=entry.requested_at, manual_rank=entry.manual_rank)


def policy_names(dialogue: Dialogue) -> list[str]:
    return list(dialogue.queue_policies or DEFAULT_COMBINATION)


def active_policies(dialogue: Dialogue, plugins) -> list:
    available = policies_by_name(plugins)
    return [available[name] for name in policy_names(dialogue) if name in available]


def allotted_for(dialogue: Dialogue, intervention_type: str) -> int:
    return int((dialogue.speaking_seconds_by_type or {}).get(intervention_type, dialogue.speaking_seconds))


class QueueState:
    """The queue of the current item, ordered, with what the views need."""

    def __init__(self, session, dialogue: Dialogue, plugins, now: dt.datetime):
        self.dialogue = dialogue
        self.now = now
        self.item = current_item(session, dialogue.id)
        entries = open_entries(session, self.item.id) if self.item else []
        self.current = next((e for e in entries if e.status == SPEAKING), None)
        waiting = {e.id: e for e in entries if e.status == WAITING}
        last = last_speaker(session, self.item.id) if self.item else None
        self.spoken = spoken_organizations(session, dialogue.id)
        context = QueueContext(last_speaker=candidate(last) if last else None,
                               spoken_organizations=frozenset(self.spoken))
        ranked = order([candidate(e) for e in waiting.values()], active_policies(dialogue, plugins), context)
        self.waiting = [waiting[c.id] for c in ranked]
        self.last = last
        self._session = session

    @property
    def proposed(self) -> SpeakerEntry | None:
        return self.waiting[0] if self.waiting else None

    def expected_seconds(self) -> dict[str, float]:
        """Expected length of an intervention by type: the median of this
        dialogue's interventions of that type once there are a few, else the
        allotted time."""
        rows = self._session.execute(select(SpeakerEntry.intervention_type, SpeakerEntry.elapsed_seconds).where(
            SpeakerEntry.dialogue_id == self.dialogue.id, SpeakerEntry.status == DONE)).all()
        by_type: dict[str, list[float]] = {}
        for kind, seconds in rows:
            by_type.setdefault(kind, []).append(seconds)
        expected = {}
        for kind in InterventionType:
            allotted = allotted_for(self.dialogue, kind.value)
            samples = by_type.get(kind.value, [])
            expected[kind.value] = min(allotted, statistics.median(samples)) \
                if len(samples) >= MIN_SAMPLES_FOR_MEDIAN else allotted
        return expected


def entry_view(entry: SpeakerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "participant_id": entry.participant_id,
        "name": entry.name,
        "organization": entry.organization,
        "category": entry.category,
        "category_label": CATEGORY_LABELS.get(Category(entry.category), entry.category),
        "channel": entry.channel,
        "type": entry.intervention_type,
        "type_label": INTERVENTION_LABELS.get(InterventionType(entry.intervention_type), entry.intervention_type),
        "requested_at": ms(entry.requested_at),
        "added_by": entry.added_by,
    }


def speaker_view(entry: SpeakerEntry) -> dict[str, Any]:
    return {**entry_view(entry), "started_at": ms(entry.started_at),
            "run_started_at": ms(entry.run_started_at), "elapsed_seconds": round(entry.elapsed_seconds, 3),
            "allotted_seconds": entry.allotted_seconds,
            "ends_at": ms(timers.ends_at(entry, entry.allotted_seconds))}


def queue_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    """The queue as everyone sees it: who speaks, who waits in which order,
    each with a position and an estimated wait."""
    state = shared_state(session, dialogue, plugins, now)
    expected = state.expected_seconds()
    wait = 0.0
    if state.current is not None:
        wait = max(0.0, timers.remaining(state.current, state.current.allotted_seconds, now))
    waiting = []
    for position, entry in enumerate(state.waiting, start=1):
        waiting.append({**entry_view(entry), "position": position, "estimated_wait_seconds": round(wait)})
        wait += expected[entry.intervention_type]
    return {
        "item_id": state.item.id if state.item else None,
        "closed": bool(state.item and state.item.queue_closed),
        "points_of_order_when_closed": dialogue.points_of_order_when_closed,
        "current": speaker_view(state.current) if state.current else None,
        "waiting": waiting,
        "proposed_id": state.proposed.id if state.proposed else None,
        "manual_order": any(e.manual_rank is not None for e in state.waiting),
        "last_speaker_id": state.last.id if state.last else None,
        "policies": policy_names(dialogue),
        "speaking_seconds": dialogue.speaking_seconds,
        "speaking_seconds_by_type": {k.value: allotted_for(dialogue, k.value) for k in InterventionType},
        "warning_seconds": dialogue.warning_seconds,
    }


def _badges(entry: SpeakerEntry, spoken: dict[str, int]) -> dict[str, Any]:
    # The current speaker's own intervention does not count as a previous one.
    previous = spoken.get(entry.organization_key, 0) - (1 if entry.started_at is not None else 0)
    return {"note": entry.note, "first_time": previous == 0, "previous_interventions": previous,
            "manual": entry.manual_rank is not None}


def queue_staff_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    """What only the chair's table sees: notes and the badges (first time in
    this dialogue, previous interventions, placed by hand)."""
    state = shared_state(session, dialogue, plugins, now)
    people = state.waiting + ([state.current] if state.current else [])
    available = policies_by_name(plugins)
    return {
        "entries": {str(e.id): _badges(e, state.spoken) for e in people},
        "available_policies": [{"name": p.name, "label": p.label, "description": p.description}
                               for p in available.values()],
    }


def speaking_statistics(session, dialogue_id: int, item_id: int | None = None) -> dict[str, Any]:
    """Interventions and speaking time by channel and by stakeholder
    category, for the dialogue and for each agenda item."""
    query = select(SpeakerEntry.agenda_item_id, SpeakerEntry.channel, SpeakerEntry.category,
                   SpeakerEntry.intervention_type, SpeakerEntry.elapsed_seconds).where(
        SpeakerEntry.dialogue_id == dialogue_id, SpeakerEntry.status == DONE)
    if item_id is not None:
        query = query.where(SpeakerEntry.agenda_item_id == item_id)

    def empty() -> dict[str, Any]:
        return {"interventions": 0, "seconds": 0.0, "by_channel": {}, "by_category": {}, "by_type": {}}

    def add(bucket: dict[str, Any], channel: str, category: str, kind: str, seconds: float) -> None:
        bucket["interventions"] += 1
        bucket["seconds"] += seconds
        for key, value in (("by_channel", channel), ("by_category", category), ("by_type", kind)):
            slot = bucket[key].setdefault(value, {"interventions": 0, "seconds": 0.0})
            slot["interventions"] += 1
            slot["seconds"] += seconds

    total, items = empty(), {}
    for agenda_item_id, channel, category, kind, seconds in session.execute(query):
        add(total, channel, category, kind, seconds)
        add(items.setdefault(str(agenda_item_id), empty()), channel, category, kind, seconds)

    def rounded(bucket):
        bucket["seconds"] = round(bucket["seconds"], 1)
        for key in ("by_channel", "by_category", "by_type"):
            for slot in bucket[key].values():
                slot["seconds"] = round(slot["seconds"], 1)
        return bucket

    return {"dialogue": rounded(total), "items": {k: rounded(v) for k, v in items.items()}}


def statistics_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    return speaking_statistics(session, dialogue.id)


# -- helpers for handlers ------------------------------------------------------------
def _require_item(ctx: Context) -> AgendaItem:
    item = current_item(ctx.session, ctx.require_dialogue().id)
    if item is None:
        raise Conflict("No agenda item is running, so there is no list of speakers.")
    return item


def _entry(ctx: Context, entry_id: int, *statuses: str) -> SpeakerEntry:
    entry = ctx.session.get(SpeakerEntry, entry_id)
    if entry is None or entry.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"There is no request {entry_id} in this dialogue.")
    if statuses and entry.status not in statuses:
        raise Conflict(f"That request is {entry.status} now; the list has changed.")
    return entry


def _waiting_entry(ctx: Context, item: AgendaItem, entry_id: int) -> SpeakerEntry:
    """A waiting request on the current item's list (a request left waiting
    on an earlier item is not on the list the moderator sees)."""
    entry = _entry(ctx, entry_id, WAITING)
    if entry.agenda_item_id != item.id:
        raise Conflict("That request belongs to another agenda item.")
    return entry


def _state(ctx: Context) -> QueueState:
    return QueueState(ctx.session, ctx.require_dialogue(), ctx.plugins, ctx.now)


def shared_state(session, dialogue: Dialogue, plugins, now) -> QueueState:
    """One ordering per built change or snapshot: the public and the staff
    sections share it (kept in the session, keyed by the version)."""
    key = ("queue_state", dialogue.id, dialogue.version)
    if key not in session.info:
        session.info[key] = QueueState(session, dialogue, plugins, now)
    return session.info[key]


def _changed(ctx: Context, *extra: str) -> None:
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


def _ensure_no_open_request(ctx: Context, item: AgendaItem, participant_id: int) -> None:
    existing = ctx.session.scalar(select(SpeakerEntry).where(
        SpeakerEntry.agenda_item_id == item.id, SpeakerEntry.participant_id == participant_id,
        SpeakerEntry.status.in_(OPEN)).limit(1))
    if existing is not None:
        what = "has the floor" if existing.status == SPEAKING else "is already on the list"
        raise Conflict(f"{existing.name} {what} for this item. One request per person and "
                                       "item: withdraw it to ask again.")


def _new_entry(ctx: Context, item: AgendaItem, *, participant: Participant | None, name: str,
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


def _finish(entry: SpeakerEntry, now: dt.datetime) -> None:
    timers.stop(entry, now)
    entry.status = DONE
    entry.ended_at = now


def _give_floor(ctx: Context, state: QueueState, entry: SpeakerEntry, command: str) -> dict[str, Any]:
    """Starting the next speaker ends the current one: that cut can be
    undone (``queue.undo``), which gives the current speaker back the time
    they had left and puts the next one back in their place on the list."""
    taken = undo.capture(ctx, [state.current, entry]) if state.current is not None else None
    if state.current is not None:
        _finish(state.current, ctx.now)
    entry.status = SPEAKING
    entry.started_at = ctx.now
    entry.manual_rank = None
    entry.allotted_seconds = allotted_for(ctx.require_dialogue(), entry.intervention_type)
    timers.start(entry, ctx.now)
    _changed(ctx, "statistics")
    result = {"speaking_id": entry.id, "ended_id": state.current.id if state.current else None}
    return undo.offer(ctx, command, taken, result) if taken else result


def end_current_speaker(session, item: AgendaItem, now: dt.datetime) -> bool:
    """Called when an agenda item ends: its speaker's time ends too."""
    speaking = session.scalar(select(SpeakerEntry).where(
        SpeakerEntry.agenda_item_id == item.id, SpeakerEntry.status == SPEAKING).limit(1))
    if speaking is None:
        return False
    _finish(speaking, now)
    return True


# -- participants ------------------------------------------------------------------------
class RequestPayload(DialoguePayload):
    intervention_type: InterventionName = "statement"
    note: Note = ""


@command("queue.request_floor", payload=RequestPayload, roles={Role.PARTICIPANT}, operation_id="requestFloor",
         http_path="/dialogues/{dialogue_id}/queue/request")
def request_floor(ctx: Context, p: RequestPayload):
    """Ask for the floor on the current agenda item."""
    item = _require_item(ctx)
    dialogue = ctx.require_dialogue()
    if item.queue_closed and not (p.intervention_type == "point_of_order" and dialogue.points_of_order_when_closed):
        raise Conflict("The list of speakers is closed for this item."
                           + (" Points of order are still possible." if dialogue.points_of_order_when_closed else ""))
    participant = ctx.session.get(Participant, ctx.actor.participant_id)
    if participant is None:
        raise Forbidden("Only registered participants can ask for the floor.")
    _ensure_no_open_request(ctx, item, participant.id)
    org = participant.organization
    entry = _new_entry(ctx, item, participant=participant, name=participant.name,
                       organization=org.name if org else "", category=org.category if org else "other",
                       channel=participant.channel, intervention_type=p.intervention_type, note=p.note,
                       added_by="participant")
    _changed(ctx)
    return {"entry_id": entry.id}


class WithdrawPayload(DialoguePayload):
    entry_id: int | None = Field(default=None, description="Default: your open request on the current item.")


@command("queue.withdraw_request", payload=WithdrawPayload, roles={Role.PARTICIPANT},
         operation_id="withdrawRequest", http_path="/dialogues/{dialogue_id}/queue/withdraw")
def withdraw_request(ctx: Context, p: WithdrawPayload):
    """Withdraw your own request for the floor (before you are called)."""
    if p.entry_id is not None:
        entry = _entry(ctx, p.entry_id)
    else:
        item = _require_item(ctx)
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
    _changed(ctx)
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
    item = _require_item(ctx)
    if p.participant_id is not None:
        participant = ctx.session.get(Participant, p.participant_id)
        if participant is None or participant.dialogue_id != item.dialogue_id:
            raise NotFound(f"Participant {p.participant_id} is not registered for this dialogue.")
        _ensure_no_open_request(ctx, item, participant.id)
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
    entry = _new_entry(ctx, item, participant=participant, name=name, organization=organization,
                       category=category, channel=channel, intervention_type=p.intervention_type, note=p.note,
                       added_by="moderator")
    _changed(ctx)
    return {"entry_id": entry.id}


class CallNextPayload(DialoguePayload):
    expected_entry_id: int | None = Field(
        default=None, description="The proposed speaker the console shows. If the proposal changed meanwhile "
        "(another moderator pressed next), nothing happens and the error says so.")


@command("queue.call_next", payload=CallNextPayload, roles=CHAIR, operation_id="callNextSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/next")
def call_next(ctx: Context, p: CallNextPayload):
    """Give the floor to the proposed next speaker (the current one's time ends).
    When that cuts someone off, the answer carries ``undo`` (see ``queue.undo``)."""
    _require_item(ctx)
    state = _state(ctx)
    proposed = state.proposed
    if proposed is None:
        raise Conflict("No one is waiting for the floor.")
    if p.expected_entry_id is not None and proposed.id != p.expected_entry_id:
        raise Conflict(f"The list has changed: {proposed.name} is proposed now. Nothing was done.")
    return _give_floor(ctx, state, proposed, "queue.call_next")


class EntryPayload(DialoguePayload):
    entry_id: int


@command("queue.call_speaker", payload=EntryPayload, roles=CHAIR, operation_id="callSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/call")
def call_speaker(ctx: Context, p: EntryPayload):
    """Give the floor to a particular waiting speaker instead of the proposed one.
    When that cuts someone off, the answer carries ``undo`` (see ``queue.undo``)."""
    entry = _waiting_entry(ctx, _require_item(ctx), p.entry_id)
    return _give_floor(ctx, _state(ctx), entry, "queue.call_speaker")


class OptionalEntryPayload(DialoguePayload):
    entry_id: int | None = Field(default=None, description="Default: the current speaker.")


def _current_speaker(ctx: Context, entry_id: int | None) -> SpeakerEntry:
    state = _state(ctx)
    if state.current is None or (entry_id is not None and state.current.id != entry_id):
        raise Conflict("That person does not have the floor (any more).")
    return state.current


@command("queue.end_speaker", payload=OptionalEntryPayload, roles=CHAIR, operation_id="endSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/end")
def end_speaker(ctx: Context, p: OptionalEntryPayload):
    """End the current speaker's intervention without calling the next."""
    entry = _current_speaker(ctx, p.entry_id)
    taken = undo.capture(ctx, [entry])
    _finish(entry, ctx.now)
    _changed(ctx, "statistics")
    return undo.offer(ctx, "queue.end_speaker", taken, {"ended_id": entry.id})


@command("queue.pause_speaker", payload=OptionalEntryPayload, roles=CHAIR, operation_id="pauseSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/pause")
def pause_speaker(ctx: Context, p: OptionalEntryPayload):
    """Stop the current speaker's clock (an interruption, a technical problem)."""
    entry = _current_speaker(ctx, p.entry_id)
    if entry.run_started_at is None:
        raise Conflict("The speaker's clock is already paused.")
    timers.stop(entry, ctx.now)
    _changed(ctx)
    return {"entry_id": entry.id}


@command("queue.resume_speaker", payload=OptionalEntryPayload, roles=CHAIR, operation_id="resumeSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/resume")
def resume_speaker(ctx: Context, p: OptionalEntryPayload):
    """Restart the current speaker's paused clock."""
    entry = _current_speaker(ctx, p.entry_id)
    if entry.run_started_at is not None:
        raise Conflict("The speaker's clock is already running.")
    timers.start(entry, ctx.now)
    _changed(ctx)
    return {"entry_id": entry.id}


class AddTimePayload(OptionalEntryPayload):
    seconds: int = Field(ge=-600, le=600, description="Seconds to add (negative to take away).")


@command("queue.adjust_speaker_time", payload=AddTimePayload, roles=CHAIR, operation_id="adjustSpeakerTime",
         http_path="/dialogues/{dialogue_id}/queue/adjust-time")
def adjust_speaker_time(ctx: Context, p: AddTimePayload):
    """Give the current speaker more (or less) time."""
    entry = _current_speaker(ctx, p.entry_id)
    entry.allotted_seconds = max(10, entry.allotted_seconds + p.seconds)
    _changed(ctx)
    return {"entry_id": entry.id, "allotted_seconds": entry.allotted_seconds}


class ReorderQueuePayload(DialoguePayload):
    entry_ids: list[int] = Field(max_length=500, description="Every waiting request of the current item, in "
                                 "the new order.")


@command("queue.reorder", payload=ReorderQueuePayload, roles=CHAIR, operation_id="reorderQueue",
         http_path="/dialogues/{dialogue_id}/queue/reorder")
def reorder(ctx: Context, p: ReorderQueuePayload):
    """Put the waiting speakers in a new order by hand; the policies no longer move them."""
    _require_item(ctx)
    state = _state(ctx)
    waiting = {e.id: e for e in state.waiting}
    if sorted(p.entry_ids) != sorted(waiting):
        raise Conflict("The list changed while you were reordering it; nothing was changed. "
                                       "Try again on the current list.")
    for rank, entry_id in enumerate(p.entry_ids):
        waiting[entry_id].manual_rank = float(rank)
    _changed(ctx)
    return {"entry_ids": p.entry_ids}


@command("queue.move_to_top", payload=EntryPayload, roles=CHAIR, operation_id="moveSpeakerToTop",
         http_path="/dialogues/{dialogue_id}/queue/move-to-top")
def move_to_top(ctx: Context, p: EntryPayload):
    """Move a waiting speaker to the top of the list."""
    entry = _waiting_entry(ctx, _require_item(ctx), p.entry_id)
    ranks = [e.manual_rank for e in _state(ctx).waiting if e.manual_rank is not None and e.id != entry.id]
    entry.manual_rank = (min(ranks) if ranks else 0.0) - 1.0
    _changed(ctx)
    return {"entry_id": entry.id}


@command("queue.remove", payload=EntryPayload, roles=CHAIR, operation_id="removeSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/remove")
def remove(ctx: Context, p: EntryPayload):
    """Take a waiting speaker off the list."""
    entry = _waiting_entry(ctx, _require_item(ctx), p.entry_id)
    taken = undo.capture(ctx, [entry])
    entry.status = SpeakerStatus.REMOVED.value
    entry.ended_at = ctx.now
    _changed(ctx)
    return undo.offer(ctx, "queue.remove", taken, {"entry_id": entry.id})


@command("queue.readd_last", payload=DialoguePayload, roles=CHAIR, operation_id="readdLastSpeaker",
         http_path="/dialogues/{dialogue_id}/queue/readd-last")
def readd_last(ctx: Context, p: DialoguePayload):
    """Put the last speaker of this item back at the top of the list (a follow-up, a cut-off line)."""
    item = _require_item(ctx)
    state = _state(ctx)
    last = state.last
    if last is None:
        raise Conflict("No one has spoken on this item yet.")
    if last.status == SPEAKING:
        raise Conflict(f"{last.name} has the floor now.")
    if last.participant_id is not None:
        _ensure_no_open_request(ctx, item, last.participant_id)
    elif any(e.participant_id is None and e.name == last.name and e.organization_key == last.organization_key
             for e in state.waiting):
        # A walk-in has no registration to check; without this a second press
        # (or a second moderator) would put the same person on the list twice.
        raise Conflict(f"{last.name} is already on the list again.")
    participant = ctx.session.get(Participant, last.participant_id) if last.participant_id else None
    entry = _new_entry(ctx, item, participant=participant, name=last.name, organization=last.organization,
                       category=last.category, channel=last.channel, intervention_type=last.intervention_type,
                       note=last.note, added_by="moderator")
    ranks = [e.manual_rank for e in state.waiting if e.manual_rank is not None]
    entry.manual_rank = (min(ranks) if ranks else 0.0) - 1.0
    _changed(ctx)
    return {"entry_id": entry.id}


@command("queue.use_automatic_order", payload=DialoguePayload, roles=CHAIR, operation_id="useAutomaticOrder",
         http_path="/dialogues/{dialogue_id}/queue/automatic")
def use_automatic_order(ctx: Context, p: DialoguePayload):
    """Drop the manual placements: the policies order the whole list again."""
    _require_item(ctx)
    for entry in _state(ctx).waiting:
        entry.manual_rank = None
    _changed(ctx)
    return {}


def _set_closed(ctx: Context, closed: bool) -> dict[str, Any]:
    item = _require_item(ctx)
    item.queue_closed = closed
    _changed(ctx)
    return {"item_id": item.id, "closed": closed}


@command("queue.close", payload=DialoguePayload, roles=CHAIR, operation_id="closeQueue",
         http_path="/dialogues/{dialogue_id}/queue/close")
def close(ctx: Context, p: DialoguePayload):
    """Close the list of speakers of the current item (points of order stay possible unless configured otherwise).
    While someone has the floor or people wait, the answer carries ``undo`` (see ``queue.undo``)."""
    item = _require_item(ctx)
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
    if p.speaking_seconds is not None:
        dialogue.speaking_seconds = p.speaking_seconds
    if p.speaking_seconds_by_type is not None:
        dialogue.speaking_seconds_by_type = dict(p.speaking_seconds_by_type)
    if p.warning_seconds is not None:
        dialogue.warning_seconds = p.warning_seconds
    if p.points_of_order_when_closed is not None:
        dialogue.points_of_order_when_closed = p.points_of_order_when_closed
    _changed(ctx)
    return {"policies": policy_names(dialogue)}
