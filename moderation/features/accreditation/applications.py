"""Applying: the form's fields and their checks, the application window
(open, deadline in its own time zone) and the commands that store an
application (new, late, or changed with its private edit token).

Kept apart from reviewing and reading because this is the only public
write of the feature: everything here must hold for anyone on the
internet, before anyone at the secretariat looks.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from moderation.core.auth import hash_token, new_token, resolve_actor
from moderation.core.commands import Context, DialoguePayload, Payload, command
from moderation.core.errors import Conflict, Forbidden, InvalidPayload
from moderation.core.localtime import DateTime, instant
from moderation.core.storable import SingleLine
from moderation.features.access.room import MAX_ALTERNATES, MAX_IN_PERSON, organization_key
from moderation.features.accreditation.invitations import writable_address
from moderation.features.dialogues.commands import deadline_warnings
from moderation.models import Application as ApplicationRow
from moderation.models import ApplicationStatus, Category, Dialogue, NominationMode, Nominee, Role

SECRETARIAT = {Role.SECRETARIAT}
MAX_NOMINEES = 20
ORGANIZATION_CATEGORIES = {"ngo": "NGO", "academia": "Academia", "private_sector": "Private sector",
                           "other": "Other"}
MODE_LABELS = {"in_person": "In person", "alternate": "Alternate (in person)", "online": "Online"}
STATUS_LABELS = {"pending": "Pending", "approved": "Approved", "rejected": "Rejected"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- fields --------------------------------------------------------------------------------
def check_email(value: str) -> str:
    if not EMAIL.match(value) or not writable_address(value):
        raise PydanticCustomError("email", "Enter an e-mail address such as name@example.org.")
    return value


def _website(value: str) -> str:
    if not value:
        return value
    candidate = value if "://" in value else "https://" + value
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc or " " in value:
        raise PydanticCustomError("url", "Enter a web address such as https://example.org.")
    return candidate


Name = Annotated[SingleLine, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=1000)]


class OrganizationInfo(Payload):
    name: Annotated[SingleLine, Field(min_length=1, max_length=300)]
    category: Literal["ngo", "academia", "private_sector", "other"]
    ecosoc_status: bool = Field(description="Whether the organization has ECOSOC consultative status "
                                            "(organizations with status apply too).")
    country: Annotated[SingleLine, Field(min_length=1, max_length=100)]
    website: Annotated[SingleLine, Field(max_length=300)] = ""
    grassroots: bool = False
    victim_led: bool = Field(default=False, description="A victim-led or victim-focused organization.")
    expertise: Annotated[str, Field(min_length=1, max_length=4000,
                                    description="The organization's expertise on the working group's topic.")]

    @field_validator("website")
    @classmethod
    def _check_website(cls, value):
        return _website(value)


class Person(Payload):
    """A name and an e-mail address: the contact person and each nominee."""

    name: Name
    email: Annotated[SingleLine, Field(max_length=254)]

    @field_validator("email")
    @classmethod
    def _check_email(cls, value):
        return check_email(value)


class ContactInfo(Person):
    pass


class NomineeInfo(Person):
    mode: Literal["in_person", "alternate", "online"]


class ApplicationFields(Payload):
    organization: OrganizationInfo
    contact: ContactInfo
    participants: list[NomineeInfo] = Field(min_length=1, max_length=MAX_NOMINEES)
    confirmed: bool = Field(description="The applicant confirms that in-person participants bear their own "
                                        "costs and agrees that the secretariat processes these data.")


class SubmitPayload(ApplicationFields):
    dialogue_ids: list[int] = Field(min_length=1, max_length=10,
                                    description="The dialogues applied for (one application each).")


# -- helpers -------------------------------------------------------------------------------
def participant_category(category: str, ecosoc_status: bool) -> str:
    """The stakeholder category used for attendance and statistics."""
    if category == "ngo":
        return Category.NGO_ECOSOC.value if ecosoc_status else Category.NGO.value
    return category


def nominee_problems(nominees: list[NomineeInfo]) -> list[dict[str, Any]]:
    """The in-person limit and duplicate people, with the field at fault."""
    problems = []
    in_person = [i for i, n in enumerate(nominees) if n.mode == NominationMode.IN_PERSON.value]
    alternates = [i for i, n in enumerate(nominees) if n.mode == NominationMode.ALTERNATE.value]
    for index in in_person[MAX_IN_PERSON:]:
        problems.append({"field": f"participants.{index}.mode",
                         "message": "Only one person per organization can attend in person (plus one "
                                    "alternate); everyone else joins online."})
    for index in alternates[MAX_ALTERNATES:]:
        problems.append({"field": f"participants.{index}.mode",
                         "message": "Only one alternate per organization; everyone else joins online."})
    if alternates and not in_person:
        problems.append({"field": f"participants.{alternates[0]}.mode",
                         "message": "An alternate stands in for the in-person participant: nominate the "
                                    "in-person participant first, or choose online."})
    seen: dict[str, int] = {}
    for index, nominee in enumerate(nominees):
        email = nominee.email.lower()
        if email in seen:
            problems.append({"field": f"participants.{index}.email",
                             "message": f"The same e-mail address as participant {seen[email] + 1}: each "
                                        "person needs their own address for their personal link."})
        seen.setdefault(email, index)
    return problems


def local_deadline(dialogue: Dialogue) -> dt.datetime | None:
    if dialogue.application_deadline is None:
        return None
    return dialogue.application_deadline.astimezone(ZoneInfo(dialogue.application_timezone))


def deadline_text(dialogue: Dialogue) -> str:
    """"1 May 2026, 24:00 (midnight) Europe/Vienna time": a deadline at
    00:00 is shown as the end of the day before, as people say it."""
    local = local_deadline(dialogue)
    if local is None:
        return ""
    zone = dialogue.application_timezone
    if (local.hour, local.minute) == (0, 0):
        day = local - dt.timedelta(days=1)
        return f"{day.day} {day:%B %Y}, 24:00 (midnight) {zone} time"
    return f"{local.day} {local:%B %Y}, {local:%H:%M} {zone} time"


def application_window(dialogue: Dialogue, now: dt.datetime) -> tuple[bool, str]:
    """(accepting, why not) for the public page and the command alike."""
    if dialogue.personal_data_deleted_at is not None or not dialogue.applications_open:
        return False, f"Applications for {dialogue.title} are not open."
    if dialogue.application_deadline is not None and now >= dialogue.application_deadline:
        return False, (f"The deadline for applications to {dialogue.title} passed on {deadline_text(dialogue)}. "
                       "Nothing was stored. Please write to the secretariat if you still wish to take part.")
    return True, ""


def _lock_dialogues(ctx: Context, ids: list[int]) -> list[Dialogue]:
    """Lock every dialogue applied for, in id order (no deadlocks between two
    multi-dialogue applications). SQLite has one writer anyway."""
    wanted = sorted(set(ids))
    found = list(ctx.session.scalars(select(Dialogue).where(Dialogue.id.in_(wanted))
                                     .order_by(Dialogue.id).with_for_update()))
    missing = sorted(set(wanted) - {d.id for d in found})
    if missing:
        raise InvalidPayload(f"There is no dialogue {missing[0]}.",
                           [{"field": "dialogue_ids", "message": f"unknown dialogue {missing[0]}"}])
    return found


def _store_application(ctx: Context, dialogue: Dialogue, p: ApplicationFields, application: ApplicationRow | None,
                       *, late: bool, token_hash: str) -> tuple[ApplicationRow, bool]:
    """Write the form into ``application``, or into a new one when None."""
    key = organization_key(p.organization.name)
    if not key:
        raise InvalidPayload("The organization's name needs letters or digits.",
                           [{"field": "organization.name", "message": "needs letters or digits"}])
    if application is not None and application.status != ApplicationStatus.PENDING.value:
        raise Conflict(f"The application of {application.organization_name} to {dialogue.title} "
                                       f"was already {application.status}; it can no longer be changed here. "
                                       "Please write to the secretariat. Nothing was stored.",
                           [{"field": "dialogue_ids", "message": f"already {application.status}"}])
    created = application is None
    if created:
        application = ApplicationRow(dialogue_id=dialogue.id, revision=1, status=ApplicationStatus.PENDING.value,
                                     submitted_at=ctx.now, travel_support="", late=late, edit_token_hash=token_hash)
        ctx.session.add(application)
    else:
        application.revision += 1
        application.late = application.late or late
    org = p.organization
    application.organization_key = key
    application.organization_name = org.name
    application.category = org.category
    application.ecosoc_status = org.ecosoc_status
    application.country = org.country
    application.website = org.website
    application.grassroots = org.grassroots
    application.victim_led = org.victim_led
    application.expertise = org.expertise
    application.contact_name = p.contact.name
    application.contact_email = p.contact.email
    application.updated_at = ctx.now
    application.nominees.clear()
    ctx.session.flush()
    for position, nominee in enumerate(p.participants):
        application.nominees.append(Nominee(position=position, name=nominee.name, email=nominee.email,
                                            mode=nominee.mode))
    ctx.session.flush()
    return application, created


def _check_application(p: ApplicationFields) -> None:
    if not p.confirmed:
        raise InvalidPayload("Please confirm the conditions at the end of the form.",
                           [{"field": "confirmed", "message": "Please confirm to apply."}])
    problems = nominee_problems(p.participants)
    if problems:
        raise InvalidPayload("Please check the participants: nothing was stored.", problems)


def _checked_dialogues(ctx: Context, p: SubmitPayload) -> list[Dialogue]:
    """The form checked, then the dialogues applied for, locked: the start
    of every command that stores the form."""
    _check_application(p)
    return _lock_dialogues(ctx, p.dialogue_ids)


def _application_results(stored: list[tuple]) -> dict[str, Any]:
    return {"applications": [{"dialogue_id": a.dialogue_id, "application_id": a.id, "updated": not created,
                              "revision": a.revision} for a, created in stored]}


def _new_applications(ctx: Context, dialogues: list[Dialogue], p: ApplicationFields, *, late: bool) -> dict:
    """One new application per dialogue, all changed later with one edit
    token: in the answer once, stored as its hash."""
    token = new_token()
    stored = [_store_application(ctx, d, p, None, late=late, token_hash=hash_token(token)) for d in dialogues]
    return {**_application_results(stored), "edit_token": token, "edit_path": edit_path(token)}


def edit_path(token: str) -> str:
    """The private edit link's path (the public form, filled in)."""
    return f"/apply/edit/{token}"


def applications_of_token(session, token: str) -> list[ApplicationRow]:
    """The applications an edit token may change (none for a wrong token)."""
    if not token or len(token) > 100:
        return []
    return list(session.scalars(select(ApplicationRow).where(ApplicationRow.edit_token_hash == hash_token(token))
                                .order_by(ApplicationRow.dialogue_id)))


# -- applying ------------------------------------------------------------------------------
# The answer's fields that open the application for changes (shown once).
EDIT_LINK = ("edit_token", "edit_path")


@command("applications.submit", payload=SubmitPayload, public=True, operation_id="submitApplication",
         http_path="/applications", redact=("contact", "participants"), secret=EDIT_LINK)
def submit(ctx: Context, p: SubmitPayload):
    """Apply to take part in one or more dialogues (public; before the deadline); the answer has the edit token once."""
    dialogues = _checked_dialogues(ctx, p)
    for dialogue in dialogues:
        accepting, why = application_window(dialogue, ctx.now)
        if not accepting:
            raise Forbidden(why, [{"field": "dialogue_ids", "message": why}])
    return _new_applications(ctx, dialogues, p, late=False)


class UpdatePayload(SubmitPayload):
    edit_token: Annotated[SingleLine, Field(min_length=20, max_length=100, description=(
        "The private edit token from the answer of applications.submit (the last part of the edit link)."))]


def _late(ctx: Context, dialogue: Dialogue) -> bool:
    """False while the dialogue takes applications; True when the
    secretariat changes one after that (a late change); else refused."""
    accepting, why = application_window(dialogue, ctx.now)
    if accepting:
        return False
    if dialogue.personal_data_deleted_at is None and \
            Role.SECRETARIAT in resolve_actor(ctx.session, ctx.actor.principal, dialogue.id).roles:
        return True
    raise Forbidden(why, [{"field": "dialogue_ids", "message": why}])


@command("applications.update", payload=UpdatePayload, public=True, operation_id="updateApplication",
         http_path="/applications/update", redact=("contact", "participants", "edit_token"))
def update(ctx: Context, p: UpdatePayload):
    """Change your pending application (public; the edit token from applying proves it is yours)."""
    dialogues = _checked_dialogues(ctx, p)
    mine = {a.dialogue_id: a for a in applications_of_token(ctx.session, p.edit_token)}
    if not mine:
        raise Forbidden("This edit link is not valid: open the link from the confirmation page or "
                                        "e-mail of your application, or send a new application. Nothing was stored.",
                           [{"field": "edit_token", "message": "not an edit token"}])
    # A dialogue added to the list gets a new application with the same token.
    return _application_results([_store_application(ctx, d, p, mine.get(d.id), late=_late(ctx, d),
                                                    token_hash=hash_token(p.edit_token)) for d in dialogues])


@command("applications.accept_late", payload=SubmitPayload, roles=SECRETARIAT, operation_id="acceptLateApplication",
         http_path="/applications/late", redact=("contact", "participants"), secret=EDIT_LINK)
def accept_late(ctx: Context, p: SubmitPayload):
    """Enter an application after the deadline (or while applications are closed), marked late."""
    dialogues = _checked_dialogues(ctx, p)
    for dialogue in dialogues:
        # The command is not scoped to one dialogue: check the role in each.
        if Role.SECRETARIAT not in resolve_actor(ctx.session, ctx.actor.principal, dialogue.id).roles:
            raise Forbidden(f"You are not the secretariat of {dialogue.title}.")
        if dialogue.personal_data_deleted_at is not None:
            raise Conflict(f"The personal data of {dialogue.title} was deleted; it takes no "
                                           "more applications.")
    return _new_applications(ctx, dialogues, p, late=True)


class WindowPayload(DialoguePayload):
    open: bool = Field(description="Whether the public application page takes applications.")
    deadline: DateTime | None = Field(default=None, description=(
        "Local date and time of the deadline in `timezone` (ISO 8601 without offset, e.g. 2026-05-02T00:00 "
        "for midnight at the end of 1 May); null for none."))
    timezone: Annotated[SingleLine, Field(max_length=64)] = "Europe/Vienna"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value):
        if value not in available_timezones():
            raise PydanticCustomError("timezone", "Not a known time zone (for example Europe/Vienna).")
        return value


@command("applications.configure", payload=WindowPayload, roles=SECRETARIAT, operation_id="configureApplications",
         http_path="/dialogues/{dialogue_id}/applications/settings")
def configure(ctx: Context, p: WindowPayload):
    """Open or close applications and set (or extend) the deadline in its time zone; warns of one after the start.

    The answer's `warnings` list `{field, code, message}`: `deadline_after_start` when the deadline is after
    the dialogue's start (stored all the same: the secretariat may mean it)."""
    dialogue = ctx.require_dialogue()
    if p.open and dialogue.personal_data_deleted_at is not None:
        raise Conflict("The personal data of this dialogue was deleted; it takes no more "
                                       "applications.")
    deadline = instant(p.deadline, p.timezone, "deadline") if p.deadline is not None else None
    dialogue.applications_open = p.open
    dialogue.application_deadline = deadline
    dialogue.application_timezone = p.timezone
    return {"open": p.open, "deadline": deadline.isoformat() if deadline else None,
            "deadline_text": deadline_text(dialogue), "warnings": deadline_warnings(dialogue)}
