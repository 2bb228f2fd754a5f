"""The data model. Every table is created by an Alembic migration
(``moderation/migrations``); ``tests/test_migrations.py`` checks that the
migrations and these classes agree.

One module per part of the domain; this package offers every name, so
``from moderation.models import X`` works wherever X is defined, and
importing it registers every table on ``Base.metadata`` (Alembic's
``migrations/env.py`` compares the database with that)."""
from __future__ import annotations

from moderation.models.accreditation import Application, ApplicationStatus, NominationMode, Nominee, TravelSupport
from moderation.models.assist import DismissedPair, InputVector
from moderation.models.base import NAMING, Base, UTCDateTime, utcnow
from moderation.models.dialogues import TOPICS, AgendaItem, Dialogue, DialogueKind, Format, ItemStatus
from moderation.models.inputs import (
    INPUT_KIND_LABELS,
    Endorsement,
    Input,
    InputKind,
    InputRevision,
    InputStatus,
    InputTheme,
    Theme,
)
from moderation.models.people import (
    CATEGORY_LABELS,
    Category,
    Channel,
    Credential,
    Organization,
    Participant,
    Role,
    RoleAssignment,
    User,
)
from moderation.models.records import AuditEntry, IdempotencyRecord, UndoRecord
from moderation.models.speakers import INTERVENTION_LABELS, InterventionType, SpeakerEntry, SpeakerStatus
from moderation.models.summary import SummarySection

# On SQLite a deleted row's id would go to the next row (the highest id plus
# one), and a command still naming the deleted theme or agenda item would act
# on the new one; AUTOINCREMENT never reuses an id, as PostgreSQL's sequences
# do not (migration 0012). Only tables with one integer primary key use it.
for _table in Base.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True

__all__ = [
    "AgendaItem",
    "Application",
    "ApplicationStatus",
    "AuditEntry",
    "Base",
    "CATEGORY_LABELS",
    "Category",
    "Channel",
    "Credential",
    "Dialogue",
    "DialogueKind",
    "DismissedPair",
    "Endorsement",
    "Format",
    "INPUT_KIND_LABELS",
    "INTERVENTION_LABELS",
    "IdempotencyRecord",
    "Input",
    "InputKind",
    "InputRevision",
    "InputStatus",
    "InputTheme",
    "InputVector",
    "InterventionType",
    "ItemStatus",
    "NAMING",
    "NominationMode",
    "Nominee",
    "Organization",
    "Participant",
    "Role",
    "RoleAssignment",
    "SpeakerEntry",
    "SpeakerStatus",
    "SummarySection",
    "TOPICS",
    "Theme",
    "TravelSupport",
    "UTCDateTime",
    "UndoRecord",
    "User",
    "utcnow",
]
