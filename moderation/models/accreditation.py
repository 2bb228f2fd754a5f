"""Accreditation: organizations apply to take part and nominate people,
who become participants once the application is approved."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation.models.base import Base, utcnow


class ApplicationStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class NominationMode(str, enum.Enum):
    IN_PERSON = "in_person"
    ALTERNATE = "alternate"      # the in-person participant's alternate, who may come too
    ONLINE = "online"


class TravelSupport(str, enum.Enum):
    NONE = ""
    REQUESTED = "requested"
    GRANTED = "granted"
    DECLINED = "declined"


class Application(Base):
    """One organization's application to take part in one dialogue. Applying
    for several dialogues at once makes one application per dialogue, all
    with the same edit token (its hash): whoever holds the token may change
    them until they are decided. Applying again without it makes a new
    application, which the secretariat sees as a possible duplicate of the
    first one with the same normalized name."""

    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_dialogue_id_organization_key", "dialogue_id", "organization_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), nullable=True)
    organization_key: Mapped[str] = mapped_column(String(320))
    edit_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    organization_name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(30))          # ngo, academia, private_sector, other
    ecosoc_status: Mapped[bool] = mapped_column(Boolean, default=False)
    country: Mapped[str] = mapped_column(String(100), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    grassroots: Mapped[bool] = mapped_column(Boolean, default=False)
    victim_led: Mapped[bool] = mapped_column(Boolean, default=False)  # victim-led or victim-focused
    expertise: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    status: Mapped[str] = mapped_column(String(12), default=ApplicationStatus.PENDING.value, index=True)
    decision_reason: Mapped[str] = mapped_column(String(1000), default="")
    decided_by_body: Mapped[str] = mapped_column(String(200), default="")   # e.g. "Extended Bureau"
    decided_by: Mapped[str] = mapped_column(String(200), default="")        # who recorded it
    decided_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)     # accepted after the deadline by hand
    revision: Mapped[int] = mapped_column(Integer, default=1)      # how often it was submitted
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    travel_support: Mapped[str] = mapped_column(String(12), default="")
    travel_request_note: Mapped[str] = mapped_column(String(1000), default="")
    travel_requested_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    travel_decision_note: Mapped[str] = mapped_column(String(1000), default="")
    travel_decided_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    nominees: Mapped[list[Nominee]] = relationship(
        back_populates="application", order_by="Nominee.position", cascade="all, delete-orphan")


class Nominee(Base):
    """A person an organization nominates, in person, as alternate or
    online. Becomes a participant when the application is approved."""

    __tablename__ = "nominees"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    mode: Mapped[str] = mapped_column(String(12), default=NominationMode.ONLINE.value)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), nullable=True)

    application: Mapped[Application] = relationship(back_populates="nominees")
