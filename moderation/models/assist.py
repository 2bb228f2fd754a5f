"""What the rapporteur's assistant keeps: each input's vector (computed once,
off the live path, by ``moderation.features.assist.vectors``) and the pairs
of inputs the staff said are not duplicates."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moderation.models.base import Base, utcnow


class InputVector(Base):
    """One input's vector from one similarity backend: float32 values, L2
    normalized. ``digest`` is the hash of the text it was computed from, so
    a corrected wording is encoded again. Derived data, not a change of the
    dialogue: written without a command, never versioned or audited."""

    __tablename__ = "input_vectors"

    input_id: Mapped[int] = mapped_column(ForeignKey("inputs.id", ondelete="CASCADE"), primary_key=True)
    backend: Mapped[str] = mapped_column(String(40), primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    dimensions: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DismissedPair(Base):
    """Two inputs a staff member said make different points: never proposed
    as duplicates again (``assist.dismiss_duplicate``). Stored with the lower
    id first."""

    __tablename__ = "dismissed_pairs"
    __table_args__ = (UniqueConstraint("first_id", "second_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(ForeignKey("inputs.id", ondelete="CASCADE"), index=True)
    second_id: Mapped[int] = mapped_column(ForeignKey("inputs.id", ondelete="CASCADE"), index=True)
    dismissed_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
