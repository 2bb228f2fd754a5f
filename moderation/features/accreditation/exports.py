"""Reading: the secretariat's list of applications (filters, possible
duplicates), the participants with their invitation and attendance, and
the CSV exports built from them. Personal data: for the secretariat only.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import func, select

from moderation.core.commands import Payload
from moderation.core.csv import csv_safe, write_csv
from moderation.core.storable import SingleLine
from moderation.features.access.commands import participant_view
from moderation.features.accreditation.applications import MODE_LABELS, ORGANIZATION_CATEGORIES, STATUS_LABELS
from moderation.features.accreditation.delegates import DELEGATE_CATEGORIES
from moderation.features.accreditation.links import live_links
from moderation.features.accreditation.travel import TRAVEL_LABELS, travel_eligible
from moderation.models import CATEGORY_LABELS, Category, Dialogue, Participant
from moderation.models import Application as ApplicationRow


def application_view(application: ApplicationRow, duplicate_of: int | None = None) -> dict[str, Any]:
    """Everything about one application: for the secretariat only.
    ``duplicate_of``: the first application to the dialogue under the same
    organization name, when this is a later one (``first_applications``)."""
    modes = [n.mode for n in application.nominees]
    return {
        "id": application.id, "dialogue_id": application.dialogue_id,
        "organization": application.organization_name, "category": application.category,
        "category_label": ORGANIZATION_CATEGORIES.get(application.category, application.category),
        "ecosoc_status": application.ecosoc_status, "country": application.country,
        "website": application.website, "grassroots": application.grassroots,
        "victim_led": application.victim_led, "expertise": application.expertise,
        "contact": {"name": application.contact_name, "email": application.contact_email},
        "participants": [{"id": n.id, "name": n.name, "email": n.email, "mode": n.mode,
                          "mode_label": MODE_LABELS.get(n.mode, n.mode), "participant_id": n.participant_id}
                         for n in application.nominees],
        "in_person": modes.count("in_person"), "alternates": modes.count("alternate"),
        "online": modes.count("online"),
        "status": application.status, "status_label": STATUS_LABELS.get(application.status, application.status),
        "decision_reason": application.decision_reason, "decided_by_body": application.decided_by_body,
        "decided_by": application.decided_by,
        "decided_at": application.decided_at.isoformat() if application.decided_at else None,
        "late": application.late, "revision": application.revision,
        "submitted_at": application.submitted_at.isoformat(), "updated_at": application.updated_at.isoformat(),
        "travel_support": application.travel_support,
        "travel_support_label": TRAVEL_LABELS.get(application.travel_support, application.travel_support),
        "travel_request_note": application.travel_request_note,
        "travel_decision_note": application.travel_decision_note,
        "travel_eligible": travel_eligible(application),
        "possible_duplicate_of": duplicate_of,
    }


def first_applications(session, dialogue_id: int) -> dict[str, int]:
    """The first application to a dialogue under each organization name:
    later ones with the same name are possible duplicates (an organization
    that applied again without its edit link, or someone else using its
    name). Worked out when read, so it follows every change of name."""
    rows = session.execute(select(ApplicationRow.organization_key, func.min(ApplicationRow.id))
                           .where(ApplicationRow.dialogue_id == dialogue_id)
                           .group_by(ApplicationRow.organization_key)).all()
    return dict(rows)


SORTS = {"submitted": ApplicationRow.submitted_at, "updated": ApplicationRow.updated_at,
         "organization": ApplicationRow.organization_key, "country": ApplicationRow.country,
         "category": ApplicationRow.category, "status": ApplicationRow.status}


class ListApplicationsQuery(Payload):
    """Filters and order of the secretariat's list (query string of listApplications)."""

    model_config = {**Payload.model_config, "strict": False}
    status: Literal["pending", "approved", "rejected"] | None = None
    category: Literal["ngo", "academia", "private_sector", "other"] | None = None
    ecosoc: bool | None = None
    grassroots: bool | None = Field(default=None, description="Grassroots or victim-led / victim-focused.")
    in_person: bool | None = Field(default=None, description="Nominated someone to attend in person.")
    travel: Literal["requested", "granted", "declined", "any"] | None = None
    q: Annotated[SingleLine, Field(max_length=100)] = Field(default="", description="Text in the organization, country, "
                                                                            "contact or participants.")
    duplicate: bool | None = Field(default=None, description="A possible duplicate: a later application under "
                                                             "the name of an earlier one.")
    sort: Literal["submitted", "updated", "organization", "country", "category", "status"] = "submitted"
    order: Literal["asc", "desc"] = "asc"


def list_applications(session, dialogue_id: int, query: ListApplicationsQuery) -> list[dict[str, Any]]:
    statement = select(ApplicationRow).where(ApplicationRow.dialogue_id == dialogue_id)
    if query.status:
        statement = statement.where(ApplicationRow.status == query.status)
    if query.category:
        statement = statement.where(ApplicationRow.category == query.category)
    if query.ecosoc is not None:
        statement = statement.where(ApplicationRow.ecosoc_status == query.ecosoc)
    if query.grassroots is not None:
        eligible = ApplicationRow.grassroots | ApplicationRow.victim_led
        statement = statement.where(eligible if query.grassroots else ~eligible)
    if query.travel == "any":
        statement = statement.where(ApplicationRow.travel_support != "")
    elif query.travel:
        statement = statement.where(ApplicationRow.travel_support == query.travel)
    column = SORTS[query.sort]
    statement = statement.order_by(column.desc() if query.order == "desc" else column.asc(), ApplicationRow.id)
    first = first_applications(session, dialogue_id)
    views = [application_view(a, None if first[a.organization_key] == a.id else first[a.organization_key])
             for a in session.scalars(statement)]
    if query.duplicate is not None:
        views = [v for v in views if (v["possible_duplicate_of"] is not None) == query.duplicate]
    if query.in_person is not None:
        views = [v for v in views if bool(v["in_person"] + v["alternates"]) == query.in_person]
    if query.q:
        needle = query.q.casefold()
        views = [v for v in views if needle in " ".join([
            v["organization"], v["country"], v["contact"]["name"], v["contact"]["email"], v["expertise"],
            *(f"{n['name']} {n['email']}" for n in v["participants"])]).casefold()]
    return views


def participant_rows(session, dialogue: Dialogue) -> list[dict[str, Any]]:
    """Every participant with their invitation and attendance (secretariat)."""
    applications = {a.id: a for a in session.scalars(select(ApplicationRow).where(
        ApplicationRow.dialogue_id == dialogue.id))}
    rows = []
    for participant in session.scalars(select(Participant).where(Participant.dialogue_id == dialogue.id)
                                       .order_by(Participant.name, Participant.id)):
        view = participant_view(participant, with_personal=True)
        application = applications.get(participant.application_id)
        live = live_links(session, participant.id)
        mode = "online" if participant.channel != "room" else ("alternate" if participant.alternate else "in_person")
        rows.append({**view, "mode": mode, "mode_label": MODE_LABELS[mode],
                     "source": "application" if application else (
                         "delegate" if view["category"] in DELEGATE_CATEGORIES else "registered"),
                     "application_id": participant.application_id, "has_link": bool(live),
                     "invited_at": participant.invited_at, "delivery": participant.invitation_delivery,
                     "delivered_at": participant.invitation_delivered_at,
                     "checked_in_at": participant.checked_in_at, "connected_at": participant.connected_at,
                     "travel_support": application.travel_support if application else "",
                     "grassroots": bool(application and application.grassroots),
                     "victim_led": bool(application and application.victim_led)})
    return rows


def to_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    return write_csv(rows, header, cell=csv_safe).encode("utf-8")


def _iso(moment: dt.datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes") if moment else ""


def participants_csv(session, dialogue: Dialogue) -> bytes:
    rows = participant_rows(session, dialogue)
    return to_csv(["id", "name", "email", "organization", "category", "mode", "source", "invited",
                   "invitation", "checked_in", "connected", "travel_support"],
                  [[r["id"], r["name"], r.get("email", ""), r["organization"], r["category_label"], r["mode_label"],
                    r["source"], _iso(r["invited_at"], dialogue.timezone), r["delivery"],
                    _iso(r["checked_in_at"], dialogue.timezone), _iso(r["connected_at"], dialogue.timezone),
                    TRAVEL_LABELS.get(r["travel_support"], "")] for r in rows])


def travel_csv(session, dialogue: Dialogue) -> bytes:
    applications = session.scalars(select(ApplicationRow).where(
        ApplicationRow.dialogue_id == dialogue.id, ApplicationRow.travel_support != "")
        .order_by(ApplicationRow.organization_key))
    rows = []
    for a in applications:
        in_person = [n for n in a.nominees if n.mode != "online"]
        rows.append([a.id, a.organization_name, a.country, "yes" if a.grassroots else "no",
                     "yes" if a.victim_led else "no", TRAVEL_LABELS.get(a.travel_support, a.travel_support),
                     a.travel_request_note, a.travel_decision_note, _iso(a.travel_requested_at, dialogue.timezone),
                     _iso(a.travel_decided_at, dialogue.timezone), "; ".join(n.name for n in in_person),
                     a.contact_name, a.contact_email])
    return to_csv(["application", "organization", "country", "grassroots", "victim_led_or_focused", "travel_support",
                   "request_note", "decision_note", "requested", "decided", "in_person", "contact", "contact_email"],
                  rows)


def category_label(category: str) -> str:
    try:
        return CATEGORY_LABELS[Category(category)]
    except ValueError:
        return category
