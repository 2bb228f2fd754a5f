"""What the queue is right now: the current item's open requests in the order
the policies and the moderator's placements give, and the facts the order
and the views depend on. Reading only: commands and views both build on it."""
from __future__ import annotations

import datetime as dt
import statistics

from sqlalchemy import func, select

from moderation.features.queue.order import Candidate, QueueContext, order
from moderation.models import AgendaItem, Dialogue, InterventionType, ItemStatus, SpeakerEntry, SpeakerStatus
from moderation.plugins import policies_by_name
from moderation.plugins.queue_policies import DEFAULT_COMBINATION

WAITING, SPEAKING, DONE = SpeakerStatus.WAITING.value, SpeakerStatus.SPEAKING.value, SpeakerStatus.DONE.value
OPEN = (WAITING, SPEAKING)
MIN_SAMPLES_FOR_MEDIAN = 3


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


def shared_state(session, dialogue: Dialogue, plugins, now) -> QueueState:
    """One ordering per built change or snapshot: the public and the staff
    sections share it (kept in the session, keyed by the version)."""
    key = ("queue_state", dialogue.id, dialogue.version)
    if key not in session.info:
        session.info[key] = QueueState(session, dialogue, plugins, now)
    return session.info[key]
