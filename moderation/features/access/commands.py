"""Who may take part: participants, access links, API tokens, role
assignments, joining with a code, and user accounts."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from moderation.core.auth import hash_password, hash_token, new_token
from moderation.core.commands import Context, DialoguePayload, Payload, command
from moderation.core.errors import Conflict, Forbidden, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.core.timers import ms
from moderation.features.access.join_codes import code_matches, keys_of, room_pass_matches
from moderation.features.access.room import enter_room, leave_room
from moderation.features.accreditation.invitations import writable_address
from moderation.models import (
    CATEGORY_LABELS,
    Category,
    Channel,
    Credential,
    Organization,
    Participant,
    Role,
    RoleAssignment,
    SpeakerEntry,
    SpeakerStatus,
    User,
)

Name = Annotated[SingleLine, Field(min_length=1, max_length=200)]
Label = Annotated[SingleLine, Field(max_length=200)]
ChannelName = Literal["room", "online"]
CategoryName = Literal["ngo_ecosoc", "ngo", "academia", "private_sector", "state_party", "igo", "other"]
# The result field that carries a new link's or API token's secret (shown once).
TOKEN = ("token",)


def _writable_email(value: str) -> str:
    """An address an e-mail header can carry (no commas, angle brackets, ...)."""
    if value and not writable_address(value):
        raise PydanticCustomError("email", "Enter an e-mail address such as name@example.org.")
    return value


Email = Annotated[SingleLine, Field(max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"),
                  AfterValidator(_writable_email)]


def participant_view(participant: Participant, *, with_personal: bool = False) -> dict[str, Any]:
    org = participant.organization
    category = org.category if org else Category.OTHER.value
    view = {
        "id": participant.id,
        "name": participant.name,
        "organization": org.name if org else "",
        "category": category,
        "category_label": CATEGORY_LABELS.get(Category(category), category),
        "channel": participant.channel,
    }
    view["alternate"] = participant.alternate
    view["checked_in"] = ms(participant.checked_in_at)
    if with_personal:
        view["email"] = participant.email
    return view


def participants_section(session, dialogue, now, plugins, *, with_personal: bool = False):
    rows = session.scalars(select(Participant).where(Participant.dialogue_id == dialogue.id)
                           .order_by(Participant.name))
    return [participant_view(p, with_personal=with_personal) for p in rows]


def find_or_create_organization(session, name: str, category: str, country: str = "") -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name,
                                                    Organization.category == category))
    if org is None:
        org = Organization(name=name, category=category, country=country)
        session.add(org)
        session.flush()
    return org


def _issue(ctx: Context, role: Role, *, kind: str = "link", participant_id: int | None = None,
           label: str = "", user_id: int | None = None, dialogue_id: int | None = None,
           whole_site: bool = False) -> dict[str, Any]:
    """A new credential (by default for the command's dialogue): its id and,
    once, its token."""
    token = new_token()
    if dialogue_id is None and user_id is None and not whole_site:
        dialogue_id = ctx.require_dialogue().id
    credential = Credential(token_hash=hash_token(token), kind=kind, role=role.value,
                            dialogue_id=dialogue_id,
                            participant_id=participant_id, user_id=user_id, label=label, created_at=ctx.now)
    ctx.session.add(credential)
    ctx.session.flush()
    return {"credential_id": credential.id, "token": token}


def _participant(ctx: Context, participant_id: int) -> Participant:
    participant = ctx.session.get(Participant, participant_id)
    if participant is None or participant.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"Participant {participant_id} is not registered for this dialogue.")
    return participant


class OrganizationFields(Payload):
    name: Annotated[SingleLine, Field(min_length=1, max_length=300)]
    category: CategoryName
    country: Annotated[SingleLine, Field(max_length=100)] = ""


class RegisterPayload(DialoguePayload):
    name: Name
    email: Email = ""
    channel: ChannelName = "online"
    organization: OrganizationFields | None = None


@command("participant.register", payload=RegisterPayload, roles={Role.SECRETARIAT},
         operation_id="registerParticipant", http_path="/dialogues/{dialogue_id}/participants",
         secret=TOKEN)
def register_participant(ctx: Context, p: RegisterPayload):
    """Register a participant and issue their personal invitation link."""
    org = find_or_create_organization(ctx.session, p.organization.name, p.organization.category,
                                      p.organization.country) if p.organization else None
    participant = Participant(dialogue_id=ctx.require_dialogue().id, name=p.name, email=p.email,
                              channel=Channel.ONLINE.value, organization_id=org.id if org else None,
                              created_at=ctx.now)
    ctx.session.add(participant)
    ctx.session.flush()
    if p.channel == Channel.ROOM.value:  # the organization's in-person places, as everywhere
        enter_room(ctx.session, participant)
    ctx.touch("participants")
    return {"participant_id": participant.id,
            **_issue(ctx, Role.PARTICIPANT, participant_id=participant.id, label=p.name)}


class IssueLinkPayload(DialoguePayload):
    role: Literal["moderator", "rapporteur", "display", "participant"]
    participant_id: int | None = None
    label: Label = ""


@command("access.issue_link", payload=IssueLinkPayload, roles={Role.SECRETARIAT},
         operation_id="issueAccessLink", http_path="/dialogues/{dialogue_id}/links", secret=TOKEN)
def issue_link(ctx: Context, p: IssueLinkPayload):
    """Issue a personal access link for a role (participants: for a registered participant)."""
    role = Role(p.role)
    if (role is Role.PARTICIPANT) != (p.participant_id is not None):
        raise InvalidPayload("A participant link needs participant_id; other roles take none.",
                           [{"field": "participant_id", "message": "required exactly for role participant"}])
    label = p.label
    if p.participant_id is not None:
        label = label or _participant(ctx, p.participant_id).name
    return _issue(ctx, role, participant_id=p.participant_id, label=label or role.value)


class ApiTokenPayload(DialoguePayload):
    role: Literal["secretariat", "moderator", "rapporteur", "display"]
    label: Label = ""


@command("access.issue_api_token", payload=ApiTokenPayload, roles={Role.SECRETARIAT},
         operation_id="issueApiToken", http_path="/dialogues/{dialogue_id}/api-tokens", secret=TOKEN)
def issue_api_token(ctx: Context, p: ApiTokenPayload):
    """Issue a bearer token for API clients, limited to one dialogue and one role."""
    return _issue(ctx, Role(p.role), kind="api", label=p.label or f"API ({p.role})")


class RevokePayload(DialoguePayload):
    credential_id: int


@command("access.revoke", payload=RevokePayload, roles={Role.SECRETARIAT}, operation_id="revokeCredential",
         http_path="/dialogues/{dialogue_id}/credentials/revoke")
def revoke(ctx: Context, p: RevokePayload):
    """Revoke an access link or API token; its open connections are closed."""
    credential = ctx.session.get(Credential, p.credential_id)
    if credential is None or credential.dialogue_id != ctx.require_dialogue().id:
        raise NotFound("No such link or token in this dialogue.")
    return _revoke(ctx, credential)


def _revoke(ctx: Context, credential: Credential) -> dict[str, Any]:
    if credential.revoked_at is None:
        credential.revoked_at = ctx.now
    ctx.after_commit("disconnect_credential", credential.id)
    return {"credential_id": credential.id}


# -- API tokens for the whole site --------------------------------------------------------------
# A secretariat API token not tied to one dialogue: how an API client (an
# integration, a script) creates dialogues and then works in each of them,
# as a secretariat account does. Stored hashed, revocable, listed on /admin.
def is_site_api_token(credential: Credential) -> bool:
    return credential.kind == "api" and credential.dialogue_id is None and credential.user_id is None


class SiteTokenPayload(Payload):
    label: Label = ""


@command("access.issue_site_api_token", payload=SiteTokenPayload, roles={Role.SECRETARIAT},
         operation_id="issueSiteApiToken", http_path="/api-tokens", secret=TOKEN)
def issue_site_api_token(ctx: Context, p: SiteTokenPayload):
    """Issue a secretariat bearer token for the whole site: it creates dialogues and acts in every one."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat of the whole site may issue such tokens.")
    return _issue(ctx, Role.SECRETARIAT, kind="api", label=p.label or "API (secretariat, whole site)",
                  whole_site=True)


class SiteRevokePayload(Payload):
    credential_id: int


@command("access.revoke_site_api_token", payload=SiteRevokePayload, roles={Role.SECRETARIAT},
         operation_id="revokeSiteApiToken", http_path="/api-tokens/revoke")
def revoke_site_api_token(ctx: Context, p: SiteRevokePayload):
    """Revoke a secretariat API token of the whole site; its open connections are closed."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat of the whole site may revoke such tokens.")
    credential = ctx.session.get(Credential, p.credential_id)
    if credential is None or not is_site_api_token(credential):
        raise NotFound("No such API token of the whole site.")
    return _revoke(ctx, credential)


class AssignPayload(DialoguePayload):
    username: Annotated[SingleLine, Field(min_length=1, max_length=80)]
    role: Literal["moderator", "rapporteur"]


def _user(ctx: Context, username: str) -> User:
    user = ctx.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"There is no user named {username!r}.")
    return user


@command("access.assign_role", payload=AssignPayload, roles={Role.SECRETARIAT}, operation_id="assignRole",
         http_path="/dialogues/{dialogue_id}/roles/assign")
def assign_role(ctx: Context, p: AssignPayload):
    """Give a user account the moderator or rapporteur role in this dialogue."""
    user = _user(ctx, p.username)
    exists = ctx.session.scalar(select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.dialogue_id == p.dialogue_id,
        RoleAssignment.role == p.role))
    if exists is None:
        ctx.session.add(RoleAssignment(user_id=user.id, dialogue_id=p.dialogue_id, role=p.role))
    return {"user_id": user.id, "role": p.role}


@command("access.unassign_role", payload=AssignPayload, roles={Role.SECRETARIAT}, operation_id="unassignRole",
         http_path="/dialogues/{dialogue_id}/roles/unassign")
def unassign_role(ctx: Context, p: AssignPayload):
    """Take the moderator or rapporteur role in this dialogue away from a user."""
    user = _user(ctx, p.username)
    assignment = ctx.session.scalar(select(RoleAssignment).where(
        RoleAssignment.user_id == user.id, RoleAssignment.dialogue_id == p.dialogue_id,
        RoleAssignment.role == p.role))
    if assignment is None:
        raise NotFound(f"{p.username} does not hold that role here.")
    ctx.session.delete(assignment)
    ctx.after_commit("refresh_user", user.id)
    return {"user_id": user.id, "role": p.role}


class JoinPayload(DialoguePayload):
    code: Annotated[SingleLine, Field(min_length=1, max_length=40)] | None = Field(
        default=None, description="The join code (shown on the display under its QR code).")
    room_pass: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")] | None = Field(
        default=None, description="Instead of the code: the signed value in the link of the display's QR code "
                                  "(`t` in `/d/{id}/join?t=...`). It stops working when a new code is issued.")
    name: Name
    organization: Annotated[SingleLine, Field(min_length=1, max_length=300)]
    category: CategoryName = "other"
    channel: ChannelName = "online"


STALE_PASS = ("This QR code is no longer valid: a new join code has been issued. Scan the code on the screen "
              "again, or type the join code shown under it.")


def _may_join(ctx: Context, dialogue, p: JoinPayload) -> None:
    """The code or the QR value is the current one; else ``forbidden`` (counted as a guess)."""
    if (p.code is None) == (p.room_pass is None):
        raise InvalidPayload("Give the join code.",
                           [{"field": "code", "message": "required (or the QR code's room_pass, not both)"}])
    keys = keys_of(ctx)
    if p.room_pass is not None:
        if not dialogue.join_enabled:
            raise Forbidden("Joining with a code is not open for this session.")
        if not room_pass_matches(keys, dialogue, p.room_pass):
            raise Forbidden(STALE_PASS)
    elif not dialogue.join_enabled or not code_matches(keys, dialogue, p.code):
        raise Forbidden("This join code is not valid for this dialogue.")


@command("participant.join_with_code", payload=JoinPayload, public=True, operation_id="joinWithCode",
         http_path="/dialogues/{dialogue_id}/join", redact=("code", "room_pass"), secret=TOKEN)
def join_with_code(ctx: Context, p: JoinPayload):
    """Join a dialogue with its join code (or the display's QR code), a name and an organization.

    In the room, the organization's in-person places hold: one in-person
    participant plus one alternate (States parties and IGOs unlimited)."""
    dialogue = ctx.require_dialogue()
    _may_join(ctx, dialogue, p)
    org = find_or_create_organization(ctx.session, p.organization, p.category)
    participant = Participant(dialogue_id=dialogue.id, name=p.name, channel=Channel.ONLINE.value,
                              organization_id=org.id, self_registered=True, created_at=ctx.now)
    ctx.session.add(participant)
    ctx.session.flush()
    if p.channel == Channel.ROOM.value:  # the organization's in-person places, as everywhere
        enter_room(ctx.session, participant)
    ctx.touch("participants")
    return {"participant_id": participant.id,
            **_issue(ctx, Role.PARTICIPANT, participant_id=participant.id, label=p.name)}


class ChannelPayload(DialoguePayload):
    channel: ChannelName
    participant_id: int | None = Field(default=None, description="Default: yourself (participants).")


@command("participant.set_channel", payload=ChannelPayload,
         roles={Role.PARTICIPANT, Role.SECRETARIAT, Role.MODERATOR}, operation_id="setParticipantChannel",
         http_path="/dialogues/{dialogue_id}/participants/channel")
def set_channel(ctx: Context, p: ChannelPayload):
    """Switch a participant between the room and online (one in-person place plus an alternate per organization)."""
    target = p.participant_id or ctx.actor.participant_id
    if target is None:
        raise InvalidPayload("Say which participant.", [{"field": "participant_id",
                                                                           "message": "required"}])
    if not ctx.actor.has(Role.SECRETARIAT, Role.MODERATOR) and target != ctx.actor.participant_id:
        raise Forbidden("You may only change your own channel.")
    participant = _participant(ctx, target)
    if p.channel == Channel.ROOM.value and participant.channel != Channel.ROOM.value:
        enter_room(ctx.session, participant)
    elif p.channel == Channel.ONLINE.value:
        leave_room(participant)
        if participant.checked_in_at is not None:  # left the room
            participant.checked_in_at = None
            ctx.touch("attendance")
    # A waiting request moves with its speaker: alternation reads its channel.
    for entry in ctx.session.scalars(select(SpeakerEntry).where(
            SpeakerEntry.participant_id == participant.id, SpeakerEntry.status == SpeakerStatus.WAITING.value)):
        entry.channel = participant.channel
        ctx.touch("queue", "queue_staff")
    ctx.touch("participants")
    ctx.record("participants", participant.id)
    return {"participant_id": participant.id, "channel": participant.channel}


class CreateUserPayload(Payload):
    username: Annotated[SingleLine, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: Annotated[str, Field(min_length=10, max_length=200)]
    display_name: Annotated[SingleLine, Field(max_length=200)] = ""
    is_admin: bool = False


@command("user.create", payload=CreateUserPayload, roles={Role.SECRETARIAT}, operation_id="createUser",
         http_path="/users", redact=("password",))
def create_user(ctx: Context, p: CreateUserPayload):
    """Create a user account (secretariat staff, moderators, rapporteurs)."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat may create accounts.")
    if ctx.session.scalar(select(User).where(User.username == p.username)) is not None:
        raise Conflict(f"The username {p.username!r} is taken.")
    user = User(username=p.username, display_name=p.display_name or p.username,
                password_hash=hash_password(p.password), is_admin=p.is_admin, session_epoch=0,
                created_at=ctx.now)
    ctx.session.add(user)
    ctx.session.flush()
    return {"user_id": user.id}


class EndSessionsPayload(Payload):
    username: Annotated[SingleLine, Field(min_length=1, max_length=80)]


@command("user.end_sessions", payload=EndSessionsPayload, roles={Role.SECRETARIAT},
         operation_id="endUserSessions", http_path="/users/end-sessions")
def end_sessions(ctx: Context, p: EndSessionsPayload):
    """End every open session of a user account and revoke its sign-in links (after a lost laptop, say)."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat may end sessions.")
    user = _user(ctx, p.username)
    user.session_epoch += 1
    # A sign-in link would open a new session at once: it goes too (the
    # secretariat issues a new one).
    links = ctx.session.scalars(select(Credential).where(Credential.user_id == user.id,
                                                         Credential.revoked_at.is_(None))).all()
    for link in links:
        link.revoked_at = ctx.now
    ctx.after_commit("refresh_user", user.id)
    return {"user_id": user.id, "revoked_links": len(links)}


class SetPasswordPayload(Payload):
    username: Annotated[SingleLine, Field(min_length=1, max_length=80)]
    password: Annotated[str, Field(min_length=10, max_length=200)]


@command("user.set_password", payload=SetPasswordPayload, roles={Role.SECRETARIAT},
         operation_id="setUserPassword", http_path="/users/password", redact=("password",))
def set_password(ctx: Context, p: SetPasswordPayload):
    """Set a user's password; their open sessions end."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat may set passwords.")
    user = _user(ctx, p.username)
    user.password_hash = hash_password(p.password)
    user.session_epoch += 1
    ctx.after_commit("refresh_user", user.id)
    return {"user_id": user.id}


class SignInLinkPayload(Payload):
    username: Annotated[SingleLine, Field(min_length=1, max_length=80)]


@command("user.issue_sign_in_link", payload=SignInLinkPayload, roles={Role.SECRETARIAT},
         operation_id="issueSignInLink", http_path="/users/sign-in-link", secret=TOKEN)
def issue_sign_in_link(ctx: Context, p: SignInLinkPayload):
    """Issue a personal sign-in link for a secretariat account (instead of a password)."""
    if not ctx.actor.is_admin:
        raise Forbidden("Only the secretariat may issue sign-in links.")
    user = _user(ctx, p.username)
    if not user.is_admin:
        raise InvalidPayload("Sign-in links are for secretariat accounts; give others a "
                                              "role in a dialogue and a personal link.")
    return _issue(ctx, Role.SECRETARIAT, user_id=user.id, label=f"sign-in link for {user.username}",
                  dialogue_id=None)
