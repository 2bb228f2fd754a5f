"""A dialogue and its agenda: the settings every feature reads (queue,
inputs, summary, accreditation live on the dialogue row) and the agenda
items with their timers."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation.models.base import Base, utcnow


class DialogueKind(str, enum.Enum):
    PREPARATION_DAY = "preparation_day"
    CONSTRUCTIVE_DIALOGUE = "constructive_dialogue"


class Format(str, enum.Enum):
    HYBRID = "hybrid"
    IN_PERSON = "in_person"
    ONLINE = "online"


TOPICS = {
    "firearms": "Firearms",
    "technical_assistance": "Technical Assistance",
    "international_cooperation": "International Cooperation",
    "trafficking_in_persons": "Trafficking in Persons",
    "smuggling_of_migrants": "Smuggling of Migrants",
}


class ItemStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"


class Dialogue(Base):
    __tablename__ = "dialogues"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    topic: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30), default=DialogueKind.CONSTRUCTIVE_DIALOGUE.value)
    # A Preparation Day points at the dialogue it prepares.
    prepares_id: Mapped[int | None] = mapped_column(ForeignKey("dialogues.id"), nullable=True)
    starts_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Vienna")
    venue: Mapped[str] = mapped_column(String(300), default="")
    format: Mapped[str] = mapped_column(String(20), default=Format.HYBRID.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    join_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set only for a code the secretariat chose; a generated code is derived
    # from SECRET_KEY and the generation (moderation/features/access/join_codes.py), which
    # each new code increments: old codes and QR values stop working.
    join_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    join_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The speaker queue: ordering policies (plugin names, most important
    # first), speaking time per intervention, and the warning before its end.
    queue_policies: Mapped[list] = mapped_column(JSON, default=list)
    speaking_seconds: Mapped[int] = mapped_column(Integer, default=180)
    speaking_seconds_by_type: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warning_seconds: Mapped[int] = mapped_column(Integer, default=30)
    points_of_order_when_closed: Mapped[bool] = mapped_column(Boolean, default=True)
    # Participant inputs: moderation before or after publication, the length
    # limit, the written-input window (UTC) and the input pinned to the display.
    moderation_mode: Mapped[str] = mapped_column(String(10), default="post")
    max_input_chars: Mapped[int] = mapped_column(Integer, default=2000)
    input_window_opens_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    input_window_closes_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    pinned_input_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The last version each role was sent a change for. Changes that show a
    # role nothing are not sent to it; its next change names the version it
    # follows (``prev_version``), so clients still detect a missed message.
    stream_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A digest of each section's value as last built for a change (by
    # section, or section:role): a section that reads what a command wrote
    # is sent only when its value differs (see moderation/core/sections.py).
    section_digests: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The summary: who chairs (as printed), whether points name organizations
    # (off: the chairs' summaries group points by theme without naming
    # speakers), and whether the annex lists the participating organizations.
    chairs: Mapped[str] = mapped_column(String(500), default="")
    summary_attribution: Mapped[bool] = mapped_column(Boolean, default=False)
    summary_list_organizations: Mapped[bool] = mapped_column(Boolean, default=False)
    # Accreditation: whether the public application page takes applications,
    # until when (an instant, UTC) and the time zone the deadline is stated in
    # ("midnight Vienna time"), when the summary was published, and when the
    # personal data was deleted (the counts are kept).
    applications_open: Mapped[bool] = mapped_column(Boolean, default=False)
    application_deadline: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    application_timezone: Mapped[str] = mapped_column(String(64), default="Europe/Vienna")
    summary_published_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    personal_data_deleted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="dialogue", order_by="AgendaItem.position",
        cascade="all, delete-orphan")


class AgendaItem(Base):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_type: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    planned_seconds: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.PENDING.value)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # While running: when the current run began. Elapsed time of earlier runs
    # (before pauses) is kept in elapsed_seconds, so the timer is exact.
    run_started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    queue_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    presenters: Mapped[str] = mapped_column(Text, default="")  # panellists or presenters, one per line

    dialogue: Mapped[Dialogue] = relationship(back_populates="items")
