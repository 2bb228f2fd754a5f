"""Delegates: State party and intergovernmental delegates are added by the
secretariat, one by one or from a CSV list, without applying.
"""
from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from sqlalchemy import select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import InvalidPayload, validation_details
from moderation.core.storable import SingleLine
from moderation.features.access.commands import find_or_create_organization
from moderation.features.access.room import enter_room
from moderation.features.accreditation.applications import SECRETARIAT, Name, check_email
from moderation.models import Channel, Participant

DELEGATE_CATEGORIES = {"state_party": "State party", "igo": "Intergovernmental organization"}


class DelegatePayload(DialoguePayload):
    name: Name
    email: Annotated[SingleLine, Field(max_length=254)] = ""
    delegation: Annotated[SingleLine, Field(min_length=1, max_length=300,
                                     description="The State party or the organization (e.g. Austria, INTERPOL).")]
    category: Literal["state_party", "igo"]
    channel: Literal["room", "online"] = "room"

    @field_validator("email")
    @classmethod
    def _optional_email(cls, value):
        return check_email(value) if value else value


def _add_delegate(ctx: Context, d: DelegatePayload) -> Participant:
    org = find_or_create_organization(ctx.session, d.delegation, d.category)
    participant = Participant(dialogue_id=ctx.require_dialogue().id, organization_id=org.id, name=d.name,
                              email=d.email, channel=Channel.ONLINE.value, self_registered=False, alternate=False,
                              created_at=ctx.now)
    ctx.session.add(participant)
    ctx.session.flush()
    if d.channel == Channel.ROOM.value:   # delegations are not limited, but the rule says so in one place
        enter_room(ctx.session, participant)
    return participant


@command("delegates.add", payload=DelegatePayload, roles=SECRETARIAT, operation_id="addDelegate",
         http_path="/dialogues/{dialogue_id}/delegates")
def add_delegate(ctx: Context, p: DelegatePayload):
    """Add a State party or intergovernmental delegate (no application needed); invite with invitations.issue."""
    participant = _add_delegate(ctx, p)
    ctx.touch("participants")
    return {"participant_id": participant.id}


class ImportPayload(DialoguePayload):
    csv: Annotated[str, Field(min_length=1, max_length=500_000, description=(
        "CSV text with a header row: name, email, delegation, category (state_party or igo), channel (room or "
        "online). Separators , or ; are recognized."))]


COLUMN_ALIASES = {"name": "name", "full name": "name", "email": "email", "e-mail": "email",
                  "delegation": "delegation", "organization": "delegation", "country": "delegation",
                  "category": "category", "type": "category", "channel": "channel", "mode": "channel"}
CATEGORY_WORDS = {"state_party": "state_party", "state party": "state_party", "state": "state_party",
                  "igo": "igo", "intergovernmental organization": "igo", "intergovernmental": "igo"}
CHANNEL_WORDS = {"room": "room", "in person": "room", "in-person": "room", "in_person": "room",
                 "online": "online", "remote": "online"}


def parse_delegates(text: str, dialogue_id: int) -> tuple[list[DelegatePayload], list[dict[str, Any]]]:
    """Every row checked; (delegates, problems with row and column)."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), dialect)
    rows = [row for row in reader]
    if not rows:
        return [], [{"field": "csv", "row": 1, "message": "The file is empty."}]
    header = [COLUMN_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    missing = [c for c in ("name", "delegation", "category") if c not in header]
    if missing:
        return [], [{"field": "csv", "row": 1, "message": f"The header row needs the columns name, email, "
                                                          f"delegation, category, channel; missing: "
                                                          f"{', '.join(missing)}."}]
    delegates, problems, seen = [], [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        data = {"dialogue_id": dialogue_id, "name": values.get("name", ""), "email": values.get("email", ""),
                "delegation": values.get("delegation", ""),
                "category": CATEGORY_WORDS.get(values.get("category", "").lower(), values.get("category", "")),
                "channel": CHANNEL_WORDS.get((values.get("channel") or "room").lower(), values.get("channel"))}
        try:
            delegate = DelegatePayload.model_validate(data)
        except ValidationError as exc:
            for detail in validation_details(exc):
                column = (detail["field"] or "row").split(".")[0]
                problems.append({"field": f"csv.row{number}.{column}", "row": number, "column": column,
                                 "message": detail["message"]})
            continue
        identity = delegate.email.lower() or f"{delegate.name.lower()}|{delegate.delegation.lower()}"
        if identity in seen:
            problems.append({"field": f"csv.row{number}", "row": number, "column": "email",
                             "message": f"The same person as row {seen[identity]}."})
            continue
        seen[identity] = number
        delegates.append(delegate)
    return delegates, problems


@command("delegates.import_csv", payload=ImportPayload, roles=SECRETARIAT, operation_id="importDelegates",
         http_path="/dialogues/{dialogue_id}/delegates/import")
def import_delegates(ctx: Context, p: ImportPayload):
    """Import delegates from CSV: every bad row is reported and then nothing is stored."""
    dialogue = ctx.require_dialogue()
    delegates, problems = parse_delegates(p.csv, dialogue.id)
    if problems:
        rows = sorted({x["row"] for x in problems})
        raise InvalidPayload(f"{len(rows)} row(s) have problems ({', '.join(map(str, rows[:10]))}"
                                              f"{'…' if len(rows) > 10 else ''}); nothing was imported.", problems)
    existing = ctx.session.scalars(select(Participant).where(Participant.dialogue_id == dialogue.id))
    known = {x.email.lower() for x in existing if x.email}
    added, skipped = [], []
    for delegate in delegates:
        if delegate.email and delegate.email.lower() in known:
            skipped.append(delegate.email)
            continue
        added.append(_add_delegate(ctx, delegate).id)
    if added:
        ctx.touch("participants")
    return {"participant_ids": added, "skipped": skipped}
