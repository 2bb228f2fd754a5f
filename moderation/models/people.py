"""Who takes part and who may act: roles, channels and stakeholder
categories, user accounts, organizations, participants, role assignments
and credentials (the secrets that grant a role)."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation.models.base import Base, utcnow


class Role(str, enum.Enum):
    SECRETARIAT = "secretariat"
    MODERATOR = "moderator"
    RAPPORTEUR = "rapporteur"
    PARTICIPANT = "participant"
    DISPLAY = "display"


class Channel(str, enum.Enum):
    ROOM = "room"
    ONLINE = "online"


class Category(str, enum.Enum):
    """Stakeholder categories used for attendance and statistics."""

    NGO_ECOSOC = "ngo_ecosoc"
    NGO = "ngo"
    ACADEMIA = "academia"
    PRIVATE_SECTOR = "private_sector"
    STATE_PARTY = "state_party"
    IGO = "igo"
    OTHER = "other"


CATEGORY_LABELS = {
    Category.NGO_ECOSOC: "NGO with ECOSOC consultative status",
    Category.NGO: "NGO without ECOSOC status",
    Category.ACADEMIA: "Academia",
    Category.PRIVATE_SECTOR: "Private sector",
    Category.STATE_PARTY: "State party",
    Category.IGO: "Intergovernmental organization",
    Category.OTHER: "Other",
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped to end every session of this user at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(30), default=Category.OTHER.value)
    country: Mapped[str] = mapped_column(String(100), default="")
    website: Mapped[str] = mapped_column(String(300), default="")


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    channel: Mapped[str] = mapped_column(String(10), default=Channel.ONLINE.value)
    self_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Accreditation: the application the participant was nominated in, the
    # alternate of the organization's in-person participant, the check-in at
    # the door, the first connection (online attendance), and the invitation.
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="SET NULL"), nullable=True, index=True)
    alternate: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    checked_in_by: Mapped[str] = mapped_column(String(200), default="")
    connected_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    invited_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    invitation_delivery: Mapped[str] = mapped_column(String(10), default="")   # "email" or "download"
    invitation_delivered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)

    organization: Mapped[Organization | None] = relationship()


class RoleAssignment(Base):
    """A user account holding a role (moderator, rapporteur) in one dialogue."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "dialogue_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))


class Credential(Base):
    """A secret that grants one role: a personal access link (``kind='link'``)
    or an API bearer token (``kind='api'``). Only the SHA-256 of the token is
    stored; the token itself is shown once."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="link")
    role: Mapped[str] = mapped_column(String(20))
    dialogue_id: Mapped[int | None] = mapped_column(
        ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=True, index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
