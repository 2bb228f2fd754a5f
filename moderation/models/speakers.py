"""The speaker queue's records: a request for the floor is kept, once called,
as the record of the intervention (the statistics and the summary count them)."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from moderation.models.base import Base, utcnow
from moderation.models.people import Category


class InterventionType(str, enum.Enum):
    STATEMENT = "statement"
    QUESTION = "question"
    POINT_OF_ORDER = "point_of_order"
    REPLY = "reply"


INTERVENTION_LABELS = {
    InterventionType.STATEMENT: "Statement",
    InterventionType.QUESTION: "Question to the panel",
    InterventionType.POINT_OF_ORDER: "Point of order",
    InterventionType.REPLY: "Reply",
}


class SpeakerStatus(str, enum.Enum):
    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"


class SpeakerEntry(Base):
    """A request for the floor and, once called, the record of the
    intervention (who, organization, category, channel, type, start, end)."""

    __tablename__ = "speaker_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), nullable=True, index=True)
    # Copied at request time: the record must not change when a registration does.
    name: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(300), default="")
    # Identifies an organization across entries, for "first time" and counts.
    organization_key: Mapped[str] = mapped_column(String(320), default="")
    category: Mapped[str] = mapped_column(String(30), default=Category.OTHER.value)
    channel: Mapped[str] = mapped_column(String(10))
    intervention_type: Mapped[str] = mapped_column(String(20), default=InterventionType.STATEMENT.value)
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(12), default=SpeakerStatus.WAITING.value, index=True)
    added_by: Mapped[str] = mapped_column(String(12), default="participant")
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set when the moderator places the entry by hand; ranked entries keep
    # their order until the moderator returns to the automatic order.
    manual_rank: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    run_started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    allotted_seconds: Mapped[int] = mapped_column(Integer, default=180)
