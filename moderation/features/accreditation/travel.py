"""Travel support: an invited organization that is grassroots or victim-led
or -focused may ask for it; the secretariat decides case by case.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, Forbidden
from moderation.features.accreditation.applications import SECRETARIAT, Text
from moderation.features.accreditation.review import dialogue_applications
from moderation.models import Application as ApplicationRow
from moderation.models import ApplicationStatus, Participant, Role, TravelSupport

TRAVEL_LABELS = {"": "—", "requested": "Requested", "granted": "Granted", "declined": "Declined"}


class TravelRequestPayload(DialoguePayload):
    note: Text = Field(default="", description="Anything the secretariat should know (optional).")


def travel_eligible(application: ApplicationRow) -> bool:
    return application.grassroots or application.victim_led


@command("travel.request", payload=TravelRequestPayload, roles={Role.PARTICIPANT},
         operation_id="requestTravelSupport", http_path="/dialogues/{dialogue_id}/travel-support/request")
def request_travel(ctx: Context, p: TravelRequestPayload):
    """Say that your organization is interested in travel support (grassroots and victim-led or -focused)."""
    participant = ctx.session.get(Participant, ctx.actor.participant_id) if ctx.actor.participant_id else None
    application = ctx.session.get(ApplicationRow, participant.application_id) \
        if participant is not None and participant.application_id else None
    if application is None or application.dialogue_id != ctx.require_dialogue().id:
        raise Forbidden("Travel support is for organizations that applied to this dialogue.")
    if application.status != ApplicationStatus.APPROVED.value or participant.invited_at is None:
        raise Forbidden("Travel support can be requested once you are invited.")
    if not travel_eligible(application):
        raise Forbidden(f"Travel support is for grassroots and victim-led or victim-focused "
                                        f"organizations; the application of {application.organization_name} "
                                        "says it is neither. Please write to the secretariat if that is wrong.")
    if application.travel_support in (TravelSupport.GRANTED.value, TravelSupport.DECLINED.value):
        raise Conflict(f"The secretariat already decided on travel support for "
                                       f"{application.organization_name}: {application.travel_support}.")
    application.travel_support = TravelSupport.REQUESTED.value
    application.travel_request_note = p.note
    application.travel_requested_at = ctx.now
    return {"application_id": application.id, "travel_support": application.travel_support}


class TravelDecisionPayload(DialoguePayload):
    application_id: int
    decision: Literal["granted", "declined"]
    note: Text = ""


@command("travel.decide", payload=TravelDecisionPayload, roles=SECRETARIAT, operation_id="decideTravelSupport",
         http_path="/dialogues/{dialogue_id}/travel-support/decide")
def decide_travel(ctx: Context, p: TravelDecisionPayload):
    """Record the secretariat's decision on an organization's travel support, case by case."""
    application = dialogue_applications(ctx, [p.application_id])[0]
    if application.status != ApplicationStatus.APPROVED.value or not travel_eligible(application):
        raise Conflict("Travel support is decided for approved grassroots and victim-led or "
                                       "victim-focused organizations only.")
    application.travel_support = p.decision
    application.travel_decision_note = p.note
    application.travel_decided_at = ctx.now
    return {"application_id": application.id, "travel_support": p.decision}
