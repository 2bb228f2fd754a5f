"""The queue as each audience sees it (the snapshot sections) and the
speaking statistics: built from ``state``, shared by snapshots and changes."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from moderation.core import timers
from moderation.core.timers import ms
from moderation.features.queue.state import DONE, allotted_for, policy_names, shared_state
from moderation.models import CATEGORY_LABELS, INTERVENTION_LABELS, Category, Dialogue, InterventionType, SpeakerEntry
from moderation.plugins import policies_by_name


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
