"""Who is asking: the principal behind a request (session cookie or bearer
token) and the service that resolves it against the database. Every adapter
(pages, API, Socket.IO, feature pages) asks here, so none imports another."""
from __future__ import annotations

from flask import current_app, request, session
from flask_wtf.csrf import CSRFError, validate_csrf

from moderation.core.attempts import token_attempt
from moderation.core.auth import Principal, credential_for_token, token_not_valid
from moderation.core.errors import Forbidden, Unauthenticated
from moderation.core.service import Service

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def service() -> Service:
    """The application's service (one per app, set by ``moderation.create_app``)."""
    return current_app.extensions["moderation"]


def principal_from_session() -> Principal:
    """What the signed session cookie says (checked against the database later)."""
    if isinstance(session.get("uid"), int):
        return Principal(user_id=session["uid"], session_epoch=session.get("epoch"))
    if isinstance(session.get("cid"), int):
        return Principal(credential_id=session["cid"])
    return Principal()


def current_actor(dialogue_id: int | None):
    """The actor behind this browser's session, resolved from the database."""
    return service().actor(principal_from_session(), dialogue_id)


def api_principal() -> Principal:
    """Bearer token (API clients) or the session cookie (the app's own pages,
    which must then send the CSRF token on writes)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
        with token_attempt(), service().db.session() as s:
            credential = credential_for_token(s, token.strip(), kind="api")
            if credential is None:
                raise token_not_valid()
            return Principal(credential_id=credential.id)
    principal = principal_from_session()
    if not principal.anonymous and request.method in UNSAFE:
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except CSRFError as exc:
            raise Forbidden(f"CSRF check failed: {exc.description}") from None
        except Exception:
            raise Forbidden("CSRF check failed: send the X-CSRFToken header.") from None
    return principal
