"""The data model. Every table is created by an Alembic migration
(``moderation/migrations``); ``tests/test_migrations.py`` checks that the
migrations and these classes agree."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


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
    # from SECRET_KEY and the generation (moderation/join_codes.py), which
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
    # is sent only when its value differs (see moderation/snapshot.py).
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


class AuditEntry(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    command: Mapped[str] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    """The stored answer to a write, so that a retry gets the same answer."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(100))
    command: Mapped[str] = mapped_column(String(80))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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


class UndoRecord(Base):
    """What a disruptive console command (next item, end speaker, ...) took
    away, so that one ``undo`` command can put exactly that back for a few
    seconds (``moderation.features.queue.undo``). ``version`` is the dialogue version the
    command made; ``rows`` the speaker entries and agenda items as they were."""

    __tablename__ = "undo_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    dialogue_id: Mapped[int] = mapped_column(ForeignKey("dialogues.id", ondelete="CASCADE"), index=True)
    command: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    rows: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    undone_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
