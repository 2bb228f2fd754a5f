"""What the inputs show: the settings (is the window open), the overview
(counts, and for participants and displays the published page), the themes,
the pinned input; each input as a record for the staff; each author's own
inputs privately; and the public hint that new inputs were published.

Participants and displays do not follow inputs record by record: the
overview reaches them only through the throttled hint (``hinted``), and
they fetch the page they show."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from moderation.core.sections import ALL_ROLES, HINTS, PRIVATE, STAFF, personal, record_kind, section
from moderation.features.inputs.commands import (
    audience_for,
    input_records,
    input_settings_section,
    input_view,
    my_inputs,
    overview_section,
    pinned_section,
    themes_section,
)
from moderation.models import Input, Role

section("input_settings", ALL_ROLES, reads={"dialogues", "agenda_items"})(input_settings_section)
section("inputs_overview", ALL_ROLES, reads={"inputs"}, per_role=True, hinted=True)(overview_section)
section("themes", STAFF, reads={"themes", "input_themes"})(themes_section)
section("pinned", ALL_ROLES, reads={"dialogues", "inputs"})(pinned_section)
record_kind("inputs", STAFF, audience=audience_for)(input_records)


@personal("my_inputs", participants_only=True)
def _my_inputs(session, role: Role, participant_id: int | None, label: str) -> list[dict[str, Any]]:
    assert participant_id is not None
    return my_inputs(session, participant_id)


def _authors_told(session, dialogue, outcome):
    """Each author sees their own inputs as they change (approved, merged, ...)."""
    ids = sorted(outcome.records.get("inputs", ()))
    if not ids:
        return
    for inp in session.scalars(select(Input).where(Input.id.in_(ids))):
        if inp.participant_id is not None and inp.source == "participant":
            yield inp.participant_id, "records", "my_inputs", input_view(inp, "author")


def _published_hint(session, dialogue, outcome, now, plugins) -> dict[str, Any] | None:
    """How many inputs are published: participants and displays fetch the page they show."""
    if not outcome.records.get("inputs"):
        return None
    return {"published": overview_section(session, dialogue, now, plugins, Role.PARTICIPANT)["published"]}


PRIVATE.append(_authors_told)
HINTS.append(_published_hint)
