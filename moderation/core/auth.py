"""Who is asking: principals (what the request carries) and actors (what the
database says they may do right now). An actor is resolved from the database
for every command and every event, never trusted from a cookie or a socket."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from moderation.core.errors import CommandError, LinkRevoked, Unauthenticated
from moderation.models import Credential, Participant, Role, RoleAssignment, User

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Tokens are long random strings, so a plain SHA-256 is the right hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(stored: str, password: str) -> bool:
    return check_password_hash(stored, password)


@dataclass(frozen=True)
class Principal:
    """What a request carries: a logged-in user, a credential, the local
    operator (CLI), or nobody."""

    user_id: int | None = None
    session_epoch: int | None = None
    credential_id: int | None = None
    system: bool = False

    @property
    def scope(self) -> str:
        """Namespace for idempotency keys."""
        if self.system:
            return "system"
        if self.user_id is not None:
            return f"u{self.user_id}"
        if self.credential_id is not None:
            return f"c{self.credential_id}"
        return "anonymous"

    @property
    def anonymous(self) -> bool:
        return not (self.system or self.user_id is not None or self.credential_id is not None)


ANONYMOUS = Principal()
SYSTEM = Principal(system=True)


@dataclass(frozen=True)
class Actor:
    principal: Principal
    roles: frozenset[Role] = field(default_factory=frozenset)
    label: str = "anonymous"
    is_admin: bool = False
    participant_id: int | None = None
    user_id: int | None = None
    credential_id: int | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def primary_role(self) -> Role | None:
        for role in (Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR, Role.PARTICIPANT, Role.DISPLAY):
            if role in self.roles:
                return role
        return None


def resolve_actor(session: Session, principal: Principal, dialogue_id: int | None) -> Actor:
    """The roles ``principal`` holds now in ``dialogue_id`` (or globally).

    Raises ``unauthenticated``/``link_revoked`` when what the request carries
    is no longer valid, so that a revoked link stops working at once."""
    if principal.system:
        return Actor(principal, frozenset({Role.SECRETARIAT}), "operator (CLI)", is_admin=True)
    if principal.user_id is not None:
        user = session.get(User, principal.user_id)
        if user is None or user.session_epoch != principal.session_epoch:
            raise Unauthenticated("Your session has ended. Please sign in again.")
        roles: set[Role] = {Role.SECRETARIAT} if user.is_admin else set()
        if dialogue_id is not None:
            roles.update(Role(r) for r in session.scalars(
                select(RoleAssignment.role).where(RoleAssignment.user_id == user.id,
                                                  RoleAssignment.dialogue_id == dialogue_id)))
        return Actor(principal, frozenset(roles), user.display_name or user.username,
                     is_admin=user.is_admin, user_id=user.id)
    if principal.credential_id is not None:
        credential = session.get(Credential, principal.credential_id)
        if credential is None or credential.revoked_at is not None:
            raise LinkRevoked("This access link has been revoked or has expired.")
        role = Role(credential.role)
        global_secretariat = role is Role.SECRETARIAT and credential.dialogue_id is None
        in_scope = dialogue_id is None or credential.dialogue_id == dialogue_id or global_secretariat
        label = credential.label or role.value
        if credential.participant_id is not None:
            participant = session.get(Participant, credential.participant_id)
            label = participant.name if participant else label
        return Actor(principal, frozenset({role}) if in_scope else frozenset(), label,
                     is_admin=global_secretariat, participant_id=credential.participant_id,
                     credential_id=credential.id)
    return Actor(principal)


def credential_for_token(session: Session, token: str, kind: str | None = None) -> Credential | None:
    """The live credential a token names, or None (unknown, revoked, wrong kind)."""
    if not token or len(token) > 200 or not token.isascii():  # tokens are URL-safe base64
        return None
    credential = session.scalar(select(Credential).where(Credential.token_hash == hash_token(token)))
    if credential is None or credential.revoked_at is not None:
        return None
    if kind is not None and credential.kind != kind:
        return None
    return credential


def token_not_valid() -> CommandError:
    """The one answer, on every adapter, to a link or token that was
    presented but is unknown, revoked or not for this door (a link as a
    bearer token). (Nothing presented at all is ``unauthenticated``.)"""
    return LinkRevoked("This link or token is not valid: it was revoked or replaced, "
                                        "or it is mistyped.")


def principal_for_token(session: Session, token: str) -> Principal:
    """Who a Socket.IO connection's token names: the user behind it (with
    their current session epoch) or the credential itself."""
    credential = credential_for_token(session, token)
    if credential is None:
        raise token_not_valid()
    if credential.user_id is not None:
        user = session.get(User, credential.user_id)
        if user is None:  # the user was removed since
            raise token_not_valid()
        return Principal(user_id=user.id, session_epoch=user.session_epoch)
    return Principal(credential_id=credential.id)
