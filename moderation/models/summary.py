"""The rapporteurs' own text of the summary, part by part."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moderation.models.base import Base, utcnow


class SummarySection(Base):
    """The rapporteurs' own text for one part of the summary. ``revision``
    counts saves, so that two people editing the same part are told instead
    of overwriting each other."""

    __tablename__ = "summary_sections"
    __table_args__ = (UniqueConstraint("dialogue_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))   # "introduction", "item:<id>", "conclusions"
    text: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
