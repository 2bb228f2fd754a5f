"""Accreditation: who takes part, known before the session starts.

Before each dialogue, non-governmental organizations apply on a public page
(one application per dialogue; an organization may apply for several
dialogues at once, the Preparation Day included). The secretariat reviews the
applications and records the body that decided (the Extended Bureau, say);
approval turns the nominees into participants, and invitations give each a
personal link (a QR code for those coming in person). State party and
intergovernmental delegates are added by the secretariat without applying.
On the day, the secretariat checks people in at the door; the counts in the
room and online are a section every screen sees.

The rules that hold everywhere (the form, the API, the channel switch):

- at most one in-person participant plus one alternate per organization;
  everyone else joins online (``room.enter_room``, which every way into the
  room goes through);
- after the deadline (an instant, stated in its own time zone) nothing is
  stored; the secretariat can move the deadline or accept a late
  application by hand;
- an application is changed only with its private edit token (given once,
  with the edit link, when applying; stored hashed) until it is decided; the
  same organization applying again without it makes a new application,
  which the secretariat sees as a possible duplicate;
- personal data (names, e-mail addresses) is the secretariat's; it can be
  deleted once the summary is published, keeping anonymous counts.

Tokens are stored hashed, so invitations are written when the links are
issued (``invitations.issue``); ``moderation.features.accreditation.invitations`` turns them into
e-mails or files.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import weakref
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import func, select

from moderation.core.auth import hash_token, new_token, resolve_actor
from moderation.core.commands import Context, DialoguePayload, Payload, command
from moderation.core.csv import neutralize
from moderation.core.errors import Conflict, Forbidden, InvalidPayload, NotFound, validation_details
from moderation.core.localtime import DateTime, instant
from moderation.core.storable import SingleLine
from moderation.core.timers import ms
from moderation.features.access.commands import find_or_create_organization, participant_view
from moderation.features.access.room import MAX_ALTERNATES, MAX_IN_PERSON, enter_room, organization_key
from moderation.features.accreditation.invitations import writable_address
from moderation.features.dialogues.commands import deadline_warnings
from moderation.models import (
    CATEGORY_LABELS,
    ApplicationStatus,
    AuditEntry,
    Category,
    Channel,
    Credential,
    Dialogue,
    IdempotencyRecord,
    Input,
    NominationMode,
    Nominee,
    Participant,
    Role,
    SpeakerEntry,
    TravelSupport,
)
from moderation.models import Application as ApplicationRow

SECRETARIAT = {Role.SECRETARIAT}
MAX_NOMINEES = 20
DELETED = "(deleted)"
ORGANIZATION_CATEGORIES = {"ngo": "NGO", "academia": "Academia", "private_sector": "Private sector",
                           "other": "Other"}
MODE_LABELS = {"in_person": "In person", "alternate": "Alternate (in person)", "online": "Online"}
STATUS_LABELS = {"pending": "Pending", "approved": "Approved", "rejected": "Rejected"}
TRAVEL_LABELS = {"": "—", "requested": "Requested", "granted": "Granted", "declined": "Declined"}
DELEGATE_CATEGORIES = {"state_party": "State party", "igo": "Intergovernmental organization"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- fields --------------------------------------------------------------------------------
def _email(value: str) -> str:
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


class ContactInfo(Payload):
    name: Name
    email: Annotated[SingleLine, Field(max_length=254)]

    @field_validator("email")
    @classmethod
    def _check_email(cls, value):
        return _email(value)


class NomineeInfo(Payload):
    name: Name
    email: Annotated[SingleLine, Field(max_length=254)]
    mode: Literal["in_person", "alternate", "online"]

    @field_validator("email")
    @classmethod
    def _check_email(cls, value):
        return _email(value)


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
    _check_application(p)
    dialogues = _lock_dialogues(ctx, p.dialogue_ids)
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
    _check_application(p)
    dialogues = _lock_dialogues(ctx, p.dialogue_ids)
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
    _check_application(p)
    dialogues = _lock_dialogues(ctx, p.dialogue_ids)
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


# -- reviewing -----------------------------------------------------------------------------
class DecidePayload(DialoguePayload):
    application_ids: list[int] = Field(min_length=1, max_length=500, description="One or more (bulk).")
    decision: Literal["approve", "reject"]
    reason: Text = Field(default="", description="Why (required to reject).")
    decided_by_body: Annotated[SingleLine, Field(max_length=200)] = Field(
        default="", description="The body that decided, e.g. the Extended Bureau.")


def _applications(ctx: Context, ids: list[int]) -> list[ApplicationRow]:
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
    for application in _applications(ctx, p.application_ids):
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


# -- invitations ---------------------------------------------------------------------------
class IssuePayload(DialoguePayload):
    participant_ids: list[int] | None = Field(
        default=None, max_length=2000,
        description="Whom to invite; an invited participant's old link is revoked. Default: every participant "
                    "who has no link yet (approved nominees, delegates).")
    revoke_old: bool = Field(
        default=True, description="False: each participant's current link stays valid until "
                                  "invitations.record_delivery reports the new one delivered (and withdraws the "
                                  "new one if it could not be delivered), so a failed delivery changes nothing "
                                  "for them. The secretariat's pages and invitations/send work this way.")


def _live_links(session, participant_id: int) -> list[Credential]:
    return list(session.scalars(select(Credential).where(
        Credential.participant_id == participant_id, Credential.kind == "link",
        Credential.role == Role.PARTICIPANT.value, Credential.revoked_at.is_(None))))


def invitation_view(session, participant: Participant, token: str, credential_id: int) -> dict[str, Any]:
    """What an invitation says: for the e-mail or file written from it."""
    view = participant_view(participant, with_personal=True)
    application = session.get(ApplicationRow, participant.application_id) if participant.application_id else None
    return {**view, "participant_id": participant.id, "credential_id": credential_id, "token": token,
            "link_path": f"/l/{token}", "travel_eligible": bool(application and travel_eligible(application))}


@command("invitations.issue", payload=IssuePayload, roles=SECRETARIAT, operation_id="issueInvitations",
         http_path="/dialogues/{dialogue_id}/invitations", secret=("token", "link_path"))
def issue_invitations(ctx: Context, p: IssuePayload):
    """Issue personal links for invitations (re-issuing revokes the old link); the tokens are in the answer once."""
    dialogue = ctx.require_dialogue()
    if dialogue.personal_data_deleted_at is not None:
        raise Conflict("The personal data of this dialogue was deleted.")
    if p.participant_ids is None:
        candidates = ctx.session.scalars(select(Participant).where(
            Participant.dialogue_id == dialogue.id, Participant.invited_at.is_(None)).order_by(Participant.id))
        targets = [x for x in candidates if not _live_links(ctx.session, x.id)]
    else:
        by_id = {x.id: x for x in ctx.session.scalars(select(Participant).where(
            Participant.id.in_(set(p.participant_ids)), Participant.dialogue_id == dialogue.id))}
        missing = [i for i in p.participant_ids if i not in by_id]
        if missing:
            raise NotFound(f"Participant {missing[0]} is not registered for this dialogue.",
                               [{"field": "participant_ids", "message": f"unknown participant {missing[0]}"}])
        targets = [by_id[i] for i in dict.fromkeys(p.participant_ids)]
    invitations, revoked = [], []
    for participant in targets:
        if p.revoke_old:
            revoked += _revoke_links(ctx, participant.id)
        token = new_token()
        credential = Credential(token_hash=hash_token(token), kind="link", role=Role.PARTICIPANT.value,
                                dialogue_id=dialogue.id, participant_id=participant.id, label=participant.name,
                                created_at=ctx.now)
        ctx.session.add(credential)
        ctx.session.flush()
        if p.revoke_old:
            _invited(participant, ctx.now)
        invitations.append(invitation_view(ctx.session, participant, token, credential.id))
    if invitations:
        ctx.touch("participants")
    return {"invitations": invitations, "revoked": revoked}


def _revoke_links(ctx: Context, participant_id: int, older_than: int | None = None) -> list[int]:
    """Revoke a participant's live links (those issued before the link
    ``older_than``, when given); their connections are closed."""
    revoked = []
    for credential in _live_links(ctx.session, participant_id):
        if older_than is None or credential.id < older_than:
            credential.revoked_at = ctx.now
            revoked.append(credential.id)
            ctx.after_commit("disconnect_credential", credential.id)
    return revoked


def _invited(participant: Participant, now: dt.datetime, method: str = "") -> None:
    participant.invited_at = now
    participant.invitation_delivery = method
    participant.invitation_delivered_at = now if method else None


class DeliveryPayload(DialoguePayload):
    participant_ids: list[int] = Field(default_factory=list, max_length=2000,
                                       description="Participants whose invitation (from invitations.issue) was "
                                                   "delivered.")
    method: Literal["email", "download"]
    delivered_credential_ids: list[int] = Field(
        default_factory=list, max_length=2000,
        description="Links issued with revoke_old false that were delivered: their participants' older links are "
                    "revoked now.")
    undelivered_credential_ids: list[int] = Field(
        default_factory=list, max_length=2000,
        description="Links issued with revoke_old false that could not be delivered: withdrawn; their participants "
                    "keep the links they had.")


def _issued_links(ctx: Context, ids: list[int], field: str) -> list[Credential]:
    rows = list(ctx.session.scalars(select(Credential).where(Credential.id.in_(set(ids)))))
    if len(rows) != len(set(ids)) or any(
            c.dialogue_id != ctx.require_dialogue().id or c.participant_id is None or c.kind != "link" for c in rows):
        raise NotFound("Some of these links are not invitations to this dialogue.",
                           [{"field": field, "message": "unknown invitation link"}])
    return rows


@command("invitations.record_delivery", payload=DeliveryPayload, roles=SECRETARIAT,
         operation_id="recordInvitationDelivery", http_path="/dialogues/{dialogue_id}/invitations/delivered")
def record_delivery(ctx: Context, p: DeliveryPayload):
    """Record which invitations were sent by e-mail or downloaded as files, and withdraw those that were not."""
    dialogue = ctx.require_dialogue()
    if not (p.participant_ids or p.delivered_credential_ids or p.undelivered_credential_ids):
        raise InvalidPayload("Say which invitations were delivered.",
                           [{"field": "participant_ids", "message": "give participant_ids or credential ids"}])
    rows = list(ctx.session.scalars(select(Participant).where(
        Participant.id.in_(set(p.participant_ids)), Participant.dialogue_id == dialogue.id)))
    if len(rows) != len(set(p.participant_ids)):
        raise NotFound("Some of these participants are not registered for this dialogue.",
                           [{"field": "participant_ids", "message": "unknown participant"}])
    delivered = _issued_links(ctx, p.delivered_credential_ids, "delivered_credential_ids")
    undelivered = _issued_links(ctx, p.undelivered_credential_ids, "undelivered_credential_ids")
    for participant in rows:  # invited by invitations.issue already
        participant.invitation_delivery = p.method
        participant.invitation_delivered_at = ctx.now
    revoked = []
    for credential in delivered:
        revoked += _revoke_links(ctx, credential.participant_id, older_than=credential.id)
        participant = ctx.session.get(Participant, credential.participant_id)
        _invited(participant, ctx.now, p.method)
        rows.append(participant)
    withdrawn = []
    for credential in undelivered:
        if credential.revoked_at is None:
            credential.revoked_at = ctx.now
            withdrawn.append(credential.id)
            ctx.after_commit("disconnect_credential", credential.id)
    ctx.touch("participants")
    return {"participant_ids": sorted({x.id for x in rows}), "method": p.method, "revoked": sorted(revoked),
            "withdrawn": withdrawn}


# -- travel support ------------------------------------------------------------------------
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
    application = _applications(ctx, [p.application_id])[0]
    if application.status != ApplicationStatus.APPROVED.value or not travel_eligible(application):
        raise Conflict("Travel support is decided for approved grassroots and victim-led or "
                                       "victim-focused organizations only.")
    application.travel_support = p.decision
    application.travel_decision_note = p.note
    application.travel_decided_at = ctx.now
    return {"application_id": application.id, "travel_support": p.decision}


# -- delegates -----------------------------------------------------------------------------
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
        return _email(value) if value else value


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


# -- on the day ----------------------------------------------------------------------------
class CheckInPayload(DialoguePayload):
    token: Annotated[SingleLine, Field(max_length=2000, description="The scanned QR code: the personal link or its "
                                                            "token.")] | None = None
    participant_id: int | None = Field(default=None, description="Or the participant found by name.")


def token_from_scan(scanned: str) -> str:
    """A scanned QR code is the whole link (…/l/<token>); a USB scanner
    types it, a person may paste the token alone."""
    text = scanned.strip()
    if "/l/" in text:
        text = text.rsplit("/l/", 1)[1]
    return re.split(r"[?#/\s]", text, maxsplit=1)[0]


def _scanned_participant(ctx: Context, scanned: str) -> Participant:
    dialogue = ctx.require_dialogue()
    token = token_from_scan(scanned)
    credential = ctx.session.scalar(select(Credential).where(Credential.token_hash == hash_token(token))) \
        if token else None
    if credential is None or credential.participant_id is None or credential.kind != "link":
        raise NotFound("This code is not an invitation: it may be forged or mistyped. Search the "
                                        "name instead.", [{"field": "token", "message": "not an invitation"}])
    if credential.dialogue_id != dialogue.id:
        other = ctx.session.get(Dialogue, credential.dialogue_id) if credential.dialogue_id else None
        raise Forbidden(f"This invitation is for {other.title if other else 'another dialogue'}, "
                                        "not for this one.", [{"field": "token", "message": "another dialogue"}])
    if credential.revoked_at is not None:
        raise Forbidden("This invitation link was revoked (a newer one may have been sent). "
                                        "Ask for the newer invitation, or search the name.",
                           [{"field": "token", "message": "revoked"}])
    return ctx.session.get(Participant, credential.participant_id)


def in_room_count(session, dialogue_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Participant).where(
        Participant.dialogue_id == dialogue_id, Participant.checked_in_at.is_not(None))) or 0


def _participant(ctx: Context, participant_id: int) -> Participant:
    participant = ctx.session.get(Participant, participant_id)
    if participant is None or participant.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"Participant {participant_id} is not registered for this dialogue.",
                           [{"field": "participant_id", "message": "unknown participant"}])
    return participant


@command("participants.check_in", payload=CheckInPayload, roles=SECRETARIAT, operation_id="checkIn",
         http_path="/dialogues/{dialogue_id}/check-in", redact=("token",))
def check_in(ctx: Context, p: CheckInPayload):
    """Check a participant in at the door, by the scanned QR code or by id after a name search."""
    if (p.token is None) == (p.participant_id is None):
        raise InvalidPayload("Scan a code or choose a participant.",
                           [{"field": "token", "message": "give the token or participant_id"}])
    participant = _scanned_participant(ctx, p.token) if p.token is not None else _participant(ctx, p.participant_id)
    if participant.channel != Channel.ROOM.value:
        raise Conflict(f"{participant.name} is registered to take part online. Switch them to in "
                                       "person first (one in-person participant plus one alternate per "
                                       "organization).", [{"field": "channel", "message": "online"}])
    already = participant.checked_in_at is not None
    if not already:
        participant.checked_in_at = ctx.now
        participant.checked_in_by = ctx.actor.label[:200]
        ctx.touch("attendance", "participants")
    return {"participant": participant_view(participant), "already": already,
            "checked_in_at": ms(participant.checked_in_at),
            "in_room": in_room_count(ctx.session, participant.dialogue_id)}


class ParticipantPayload(DialoguePayload):
    participant_id: int


@command("participants.cancel_check_in", payload=ParticipantPayload, roles=SECRETARIAT,
         operation_id="cancelCheckIn", http_path="/dialogues/{dialogue_id}/check-in/cancel")
def cancel_check_in(ctx: Context, p: ParticipantPayload):
    """Undo a check-in made by mistake."""
    participant = _participant(ctx, p.participant_id)
    if participant.checked_in_at is not None:
        participant.checked_in_at = None
        participant.checked_in_by = ""
        ctx.touch("attendance", "participants")
    return {"participant_id": participant.id, "in_room": in_room_count(ctx.session, participant.dialogue_id)}


class ConnectionsPayload(DialoguePayload):
    participant_ids: list[int] = Field(min_length=1, max_length=5000)


@command("attendance.record_connections", payload=ConnectionsPayload, roles=SECRETARIAT,
         operation_id="recordConnections", http_path="/dialogues/{dialogue_id}/attendance/connections")
def record_connections(ctx: Context, p: ConnectionsPayload):
    """Record participants' first connection (online attendance); sent by the server itself, in batches."""
    rows = ctx.session.scalars(select(Participant).where(
        Participant.id.in_(set(p.participant_ids)), Participant.dialogue_id == ctx.require_dialogue().id,
        Participant.connected_at.is_(None)))
    recorded = []
    for participant in rows:
        participant.connected_at = ctx.now
        recorded.append(participant.id)
    return {"recorded": sorted(recorded)}


# -- the attendance section ----------------------------------------------------------------
# Who is connected comes from the realtime layer: each app registers its
# source of connections under its database engine, so that sections built
# anywhere (a command, a snapshot) find it. With several processes the source
# counts every process's connections through Redis (moderation/presence.py).
_CONNECTIONS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def register_connections(engine, source) -> None:
    """``source.participant_ids(dialogue_id)``: the participants connected
    now (presence.py); or ``source.connections``, a mapping of Socket.IO ids
    to connections with ``dialogue_id``, ``role`` and ``participant_id``."""
    _CONNECTIONS[engine] = source


def connected_participants(session, dialogue_id: int) -> set[int] | None:
    source = _CONNECTIONS.get(session.get_bind())
    if source is None:
        return None
    if hasattr(source, "participant_ids"):
        return source.participant_ids(dialogue_id)
    return participants_among(source.connections, dialogue_id)


def participants_among(connections: dict[str, Any], dialogue_id: int) -> set[int]:
    """The participants of ``dialogue_id`` among ``connections``."""
    return {c.participant_id for c in list(connections.values())
            if c.dialogue_id == dialogue_id and c.participant_id is not None and c.role is Role.PARTICIPANT}


def checked_in_ids(session, dialogue_id: int) -> frozenset[int]:
    return frozenset(session.scalars(select(Participant.id).where(
        Participant.dialogue_id == dialogue_id, Participant.checked_in_at.is_not(None))))


def online_now(session, dialogue_id: int, checked_in: frozenset[int] | None = None) -> int | None:
    """Participants connected now who are not checked in at the door: a
    participant in the room following on a phone counts in the room.
    ``checked_in`` (``checked_in_ids``, e.g. kept for the version) spares a
    query whose size grows with the room: snapshots ask this on every
    connection."""
    ids = connected_participants(session, dialogue_id)
    if ids is None:
        return None
    if not ids:
        return 0
    if checked_in is not None:
        return len(ids - checked_in)
    return session.scalar(select(func.count()).select_from(Participant).where(
        Participant.id.in_(ids), Participant.dialogue_id == dialogue_id, Participant.checked_in_at.is_(None))) or 0


def attendance_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    """Counts only (no names): every screen may show them."""
    return {"in_room": in_room_count(session, dialogue.id), "online": online_now(session, dialogue.id)}


# -- privacy -------------------------------------------------------------------------------
# Commands whose audit payload or stored answer may hold names, addresses or
# personal notes.
PERSONAL_COMMANDS = ("participant.register", "participant.join_with_code", "delegates.add",
                     "delegates.import_csv", "invitations.issue", "access.issue_link", "participants.check_in",
                     "travel.request", "travel.decide")


class DeletePayload(DialoguePayload):
    confirm: Literal[True] = Field(description="Must be true: the deletion cannot be undone.")


@command("privacy.delete_personal_data", payload=DeletePayload, roles=SECRETARIAT,
         operation_id="deletePersonalData", http_path="/dialogues/{dialogue_id}/personal-data/delete")
def delete_personal_data(ctx: Context, p: DeletePayload):
    """Delete the dialogue's personal data once the summary is published, keeping anonymous counts."""
    dialogue = ctx.require_dialogue()
    if dialogue.summary_published_at is None:
        raise Conflict("Publish the summary first: the personal data is deleted after it, so "
                                       "that the summary can still be checked against who took part.")
    session = ctx.session
    participants = list(session.scalars(select(Participant).where(Participant.dialogue_id == dialogue.id)))
    for participant in participants:
        participant.name, participant.email, participant.checked_in_by = DELETED, "", ""
    applications = list(session.scalars(select(ApplicationRow).where(ApplicationRow.dialogue_id == dialogue.id)))
    for application in applications:
        application.edit_token_hash = None   # its edit link opens nothing any more
        application.contact_name = application.contact_email = application.decided_by = ""
        application.travel_request_note = application.travel_decision_note = ""
        for nominee in application.nominees:
            nominee.name, nominee.email = DELETED, ""
    for entry in session.scalars(select(SpeakerEntry).where(SpeakerEntry.dialogue_id == dialogue.id)):
        entry.name = DELETED
    for inp in session.scalars(select(Input).where(Input.dialogue_id == dialogue.id)):
        inp.author_name = ""
    revoked = []
    for credential in session.scalars(select(Credential).where(
            Credential.dialogue_id == dialogue.id, Credential.participant_id.is_not(None))):
        credential.label = ""
        if credential.revoked_at is None:
            credential.revoked_at = ctx.now
            revoked.append(credential.id)
            ctx.after_commit("disconnect_credential", credential.id)
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.dialogue_id == dialogue.id)):
        if entry.role == Role.PARTICIPANT.value:
            entry.actor = Role.PARTICIPANT.value
        if entry.command in PERSONAL_COMMANDS:
            entry.payload = {"personal_data": "deleted"}
    for record in session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.command.in_(PERSONAL_COMMANDS))):
        if isinstance(record.response, dict) and record.response.get("dialogue_id") == dialogue.id:
            session.delete(record)
    dialogue.personal_data_deleted_at = ctx.now
    dialogue.applications_open = False
    ctx.touch("participants")
    return {"participants": len(participants), "applications": len(applications), "revoked": len(revoked)}


# -- reading (the secretariat's lists and exports) -------------------------------------------
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
        live = _live_links(session, participant.id)
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


def csv_safe(value: Any) -> str:
    """A CSV cell that spreadsheets cannot run as a formula (``spreadsheet``)."""
    return neutralize("" if value is None else str(value))


def to_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")   # the BOM makes Excel read UTF-8


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
