"""Participant inputs and what hangs on them: earlier wordings, endorsements
and the themes rapporteurs group them by."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moderation.models.base import Base, utcnow
from moderation.models.people import Category, Channel


class InputKind(str, enum.Enum):
    COMMENT = "comment"
    SUGGESTION = "suggestion"      # a recommendation to States parties
    QUESTION = "question"          # to the panel
    STATEMENT = "statement"        # a long written statement, in the written-input window


INPUT_KIND_LABELS = {
    InputKind.COMMENT: "Comment",
    InputKind.SUGGESTION: "Suggestion to States parties",
    InputKind.QUESTION: "Question to the panel",
    InputKind.STATEMENT: "Written statement",
}


class InputStatus(str, enum.Enum):
    PENDING = "pending"        # waiting for moderation (moderation before publication)
    PUBLISHED = "published"
    HIDDEN = "hidden"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"          # merged into another input, kept and linked


class Input(Base):
    """A comment, suggestion, question or written statement from a
    participant, or the key points of an oral intervention recorded by a
    rapporteur."""

    __tablename__ = "inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="SET NULL"), nullable=True, index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), nullable=True, index=True)
    speaker_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("speaker_entries.id", ondelete="SET NULL"), nullable=True)
    # Copied at submission: the record must not change with a registration.
    author_name: Mapped[str] = mapped_column(String(200), default="")
    organization: Mapped[str] = mapped_column(String(300), default="")
    category: Mapped[str] = mapped_column(String(30), default=Category.OTHER.value)
    channel: Mapped[str] = mapped_column(String(10), default=Channel.ONLINE.value)
    named: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(20), default=InputKind.COMMENT.value)
    source: Mapped[str] = mapped_column(String(12), default="participant")
    text: Mapped[str] = mapped_column(Text)
    # The author's words before a rapporteur corrected them (None: never corrected).
    original_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default=InputStatus.PUBLISHED.value, index=True)
    flagged: Mapped[str] = mapped_column(String(300), default="")
    moderation_reason: Mapped[str] = mapped_column(String(300), default="")
    moderated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("inputs.id"), nullable=True)
    endorsement_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    addressed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InputRevision(Base):
    """Every earlier wording of an input, with who replaced it."""

    __tablename__ = "input_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    input_id: Mapped[int] = mapped_column(ForeignKey("inputs.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    replaced_by: Mapped[str] = mapped_column(String(20))   # "author" or "rapporteur"
    replaced_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Endorsement(Base):
    __tablename__ = "endorsements"
    __table_args__ = (UniqueConstraint("input_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    input_id: Mapped[int] = mapped_column(ForeignKey("inputs.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Theme(Base):
    __tablename__ = "themes"
    __table_args__ = (UniqueConstraint("dialogue_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class InputTheme(Base):
    __tablename__ = "input_themes"

    input_id: Mapped[int] = mapped_column(ForeignKey("inputs.id", ondelete="CASCADE"), primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
