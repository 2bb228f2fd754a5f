"""Reviewing: the secretariat approves or rejects applications, and an
approval turns the nominees into participants (with the in-person rule
applied once, here).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from sqlalchemy import select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.features.access.commands import find_or_create_organization
from moderation.features.access.room import enter_room
from moderation.features.accreditation.applications import SECRETARIAT, Text, participant_category
from moderation.models import Application as ApplicationRow
from moderation.models import ApplicationStatus, Channel, NominationMode, Participant


class DecidePayload(DialoguePayload):
    application_ids: list[int] = Field(min_length=1, max_length=500, description="One or more (bulk).")
    decision: Literal["approve", "reject"]
    reason: Text = Field(default="", description="Why (required to reject).")
    decided_by_body: Annotated[SingleLine, Field(max_length=200)] = Field(
        default="", description="The body that decided, e.g. the Extended Bureau.")


def dialogue_applications(ctx: Context, ids: list[int]) -> list[ApplicationRow]:
    dialogue = ctx.require_dialogue()
    rows = list(ctx.session.scalars(select(ApplicationRow).where(ApplicationRow.id.in_(set(ids)))
                                    .order_by(ApplicationRow.id)))
    found = {a.id for a in rows if a.dialogue_id == dialogue.id}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"Application {missing[0]} is not an application to this dialogue. "
                                        "Nothing was decided.",
                           [{"field": "application_ids", "message": f"unknown application {missing[0]}"}])
    return rows


def create_participants(ctx: Context, application: ApplicationRow) -> list[Participant]:
    """The approved nominees become participants (once), with their mode."""
    category = participant_category(application.category, application.ecosoc_status)
    org = find_or_create_organization(ctx.session, application.organization_name, category, application.country)
    org.website = org.website or application.website
    application.organization_id = org.id
    created = []
    for nominee in application.nominees:
        if nominee.participant_id is not None:
            continue
        participant = Participant(dialogue_id=application.dialogue_id, organization_id=org.id, name=nominee.name,
                                  email=nominee.email, channel=Channel.ONLINE.value, self_registered=False,
                                  application_id=application.id, alternate=False, created_at=ctx.now)
        ctx.session.add(participant)
        ctx.session.flush()
        if nominee.mode in (NominationMode.IN_PERSON.value, NominationMode.ALTERNATE.value):
            # Refused when the organization's places are taken (by another way in).
            enter_room(ctx.session, participant, as_alternate=nominee.mode == NominationMode.ALTERNATE.value)
            ctx.session.flush()
        nominee.participant_id = participant.id
        created.append(participant)
    return created


@command("applications.decide", payload=DecidePayload, roles=SECRETARIAT, operation_id="decideApplication",
         http_path="/dialogues/{dialogue_id}/applications/decide")
def decide(ctx: Context, p: DecidePayload):
    """Approve or reject one or more applications, with the reason and the body that decided."""
    if p.decision == "reject" and not p.reason:
        raise InvalidPayload("Say why the application is rejected: the reason is kept with the "
                                              "decision.", [{"field": "reason", "message": "required to reject"}])
    if ctx.require_dialogue().personal_data_deleted_at is not None:
        raise Conflict("The personal data of this dialogue was deleted.")
    status = ApplicationStatus.APPROVED.value if p.decision == "approve" else ApplicationStatus.REJECTED.value
    decided, unchanged, new_participants = [], [], []
    for application in dialogue_applications(ctx, p.application_ids):
        if application.status == status:
            unchanged.append(application.id)
            continue
        if application.status == ApplicationStatus.APPROVED.value:
            raise Conflict(f"{application.organization_name} was already approved and its "
                                           "participants registered: revoke their links on the participants "
                                           "page instead. Nothing was decided.",
                               [{"field": "application_ids", "message": f"{application.id} already approved"}])
        application.status = status
        application.decision_reason = p.reason
        application.decided_by_body = p.decided_by_body
        application.decided_by = ctx.actor.label[:200]
        application.decided_at = ctx.now
        if status == ApplicationStatus.APPROVED.value:
            new_participants += [x.id for x in create_participants(ctx, application)]
        decided.append(application.id)
    if new_participants:
        ctx.touch("participants")
    return {"decided": decided, "unchanged": unchanged, "status": status, "participant_ids": new_participants}
