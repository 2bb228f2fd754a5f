"""Who takes part: the participants section (for the staff; e-mail addresses
for the secretariat alone) and each person's own ``me``, sent to them
privately when their row or their organization's changes."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.core import writes
from moderation.core.sections import PRIVATE, STAFF, personal, section
from moderation.features.access.commands import participant_view, participants_section
from moderation.models import Participant, Role

# Participant columns that their own ``me`` does not show: writing only
# these (recording a first connection) sends them nothing privately.
NOT_IN_ME = frozenset({"connected_at"})


@section("participants", STAFF, reads={"participants", "organizations"}, per_role=True)
def _participants(session, dialogue, now, plugins, role):
    # E-mail addresses are personal data: the secretariat's alone.
    return participants_section(session, dialogue, now, plugins, with_personal=role is Role.SECRETARIAT)


@personal("me")
def me_section(session: Session, role: Role, participant_id: int | None, label: str) -> dict[str, Any]:
    me: dict[str, Any] = {"role": role.value, "name": label, "participant": None}
    if participant_id is not None:
        participant = session.get(Participant, participant_id)
        if participant is not None:
            me["participant"] = participant_view(participant)
            me["name"] = participant.name
    return me


def _participants_written(session: Session, dialogue_id: int) -> set[int]:
    """The participants of this dialogue whose row, or whose organization's
    row, the command wrote."""
    ids = writes.written_rows(session, "participants", ignoring=NOT_IN_ME)
    organizations = writes.written_rows(session, "organizations")
    if not ids and not organizations:
        return set()
    return set(session.scalars(select(Participant.id).where(
        Participant.dialogue_id == dialogue_id,
        Participant.id.in_(ids) | Participant.organization_id.in_(organizations))))


def _own_rows_told(session, dialogue, outcome):
    """A participant's own row (or their organization's) written: their ``me``."""
    own = set(outcome.records.get("participants", ())) | _participants_written(session, dialogue.id)
    for participant_id in sorted(own):
        yield participant_id, "sections", "me", me_section(session, Role.PARTICIPANT, participant_id, "")


PRIVATE.append(_own_rows_told)
