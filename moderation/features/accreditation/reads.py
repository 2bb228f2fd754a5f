"""The accreditation's reads: applications and personal data, for the
secretariat only. Declared once here; the API and the secretariat's pages
read through them."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from moderation.core.errors import NotFound
from moderation.core.reads import ReadContext, read
from moderation.features.accreditation.exports import (
    ListApplicationsQuery,
    list_applications,
    participant_rows,
    participants_csv,
    travel_csv,
)
from moderation.models import Role

SECRETARIAT_ONLY = "Applications and personal data are for the secretariat only."
PARTICIPANT_FORMATS = ("csv", "json")


class ParticipantsQuery(BaseModel):
    format: str = "csv"


@read("accreditation.applications", roles={Role.SECRETARIAT}, query=ListApplicationsQuery, refused=SECRETARIAT_ONLY)
def applications(ctx: ReadContext) -> list[dict[str, Any]]:
    """The applications, filtered and sorted."""
    return list_applications(ctx.session, ctx.dialogue.id, ctx.query)


@read("accreditation.participants", roles={Role.SECRETARIAT}, query=ParticipantsQuery, refused=SECRETARIAT_ONLY)
def participants(ctx: ReadContext) -> list[dict[str, Any]] | bytes:
    """Every participant with mode, invitation, check-in and travel support:
    rows (``json``) or a CSV file (``csv``)."""
    if ctx.query.format not in PARTICIPANT_FORMATS:
        raise NotFound(f"Unknown export format {ctx.query.format[:40]!r}.", {"formats": list(PARTICIPANT_FORMATS)})
    if ctx.query.format == "json":
        return participant_rows(ctx.session, ctx.dialogue)
    return participants_csv(ctx.session, ctx.dialogue)


@read("accreditation.travel_support", roles={Role.SECRETARIAT}, refused=SECRETARIAT_ONLY)
def travel_support(ctx: ReadContext) -> bytes:
    """The organizations interested in travel support and the decisions, as CSV."""
    return travel_csv(ctx.session, ctx.dialogue)
