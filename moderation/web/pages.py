"""Pages: sign-in, access links, the role pages and the secretariat's pages
(features add their own pages and template variables: joining with a code
is the access feature's). Pages render the current snapshot on the server;
small JavaScript modules in ``static/js`` keep them live over Socket.IO."""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from moderation.core.attempts import address_key, attempt, client_address, retry_after_header, security_log
from moderation.core.auth import check_password, credential_for_token, hash_password
from moderation.core.errors import (
    CommandError,
    Forbidden,
    Internal,
    InvalidPayload,
    LinkRevoked,
    NotFound,
    Unauthenticated,
)
from moderation.core.service import choose_role
from moderation.models import CATEGORY_LABELS, TOPICS, Credential, Dialogue, Participant, Role, RoleAssignment, User
from moderation.plugins import agenda_item_types
from moderation.web import sessions
from moderation.web.principal import current_actor, principal_from_session, service
from moderation.web.redirects import same_site_path
from moderation.web.responses import error_response

bp = Blueprint("web", __name__)
ROLE_PAGES = ("moderator", "participant", "display", "rapporteur")
# What a feature adds to the pages of a dialogue: page name ("display",
# "admin_dialogue", ...) -> builders of ``build(session, dialogue) -> dict``
# of template variables (the access feature's join code and QR link).
PAGE_EXTRAS: dict[str, list[Callable[[Session, Dialogue], dict[str, Any]]]] = {}


def page_extra(*pages: str) -> Callable[[Callable[[Session, Dialogue], dict[str, Any]]],
                                        Callable[[Session, Dialogue], dict[str, Any]]]:
    """Register ``build(session, dialogue)`` as template variables of ``pages``."""
    def register(build: Callable[[Session, Dialogue], dict[str, Any]]) -> Callable[[Session, Dialogue], dict[str, Any]]:
        for page in pages:
            PAGE_EXTRAS.setdefault(page, []).append(build)
        return build
    return register


def page_extras(page: str, dialogue_id: int, session: Session | None = None) -> dict[str, Any]:
    """The features' template variables for ``page``, read in ``session``
    when the page has one open (else in a session of their own)."""
    builders = PAGE_EXTRAS.get(page, ())
    if not builders:
        return {}
    if session is None:
        with service().db.session() as own:
            return page_extras(page, dialogue_id, own)
    dialogue = session.get(Dialogue, dialogue_id) or abort(404)
    extras: dict[str, Any] = {}
    for build in builders:
        extras.update(build(session, dialogue))
    return extras


def sign_in(*, user: User | None = None, credential: Credential | None = None) -> None:
    session.clear()
    session.permanent = True
    sessions.start(session)
    if user is not None:
        session["uid"], session["epoch"] = user.id, user.session_epoch
    elif credential is not None:
        session["cid"] = credential.id


@bp.app_template_filter("local_time")
def local_time(value, timezone: str = "UTC", fmt: str = "%H:%M") -> str:
    """A moment (epoch milliseconds or an aware datetime) as local time in the
    dialogue's time zone, for the first paint; static/js/timer.js formats
    the same way once the page is live."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return moment.astimezone(zone).strftime(fmt)


@bp.app_context_processor
def _choices():
    return {"categories": {category.value: label for category, label in CATEGORY_LABELS.items()}}


def page_for(role: Role, dialogue_id: int | None) -> str:
    if role is Role.SECRETARIAT:
        return url_for("web.admin_dialogue", dialogue_id=dialogue_id) if dialogue_id else url_for("web.admin")
    return url_for("web.role_page", dialogue_id=dialogue_id, role=role.value)


@bp.get("/")
def index():
    principal = principal_from_session()
    if principal.anonymous:
        return render_template("index.html")
    if principal.user_id is not None:
        return redirect(url_for("web.admin"))
    with service().db.session() as s:
        credential = s.get(Credential, principal.credential_id)
        if credential is None or credential.revoked_at is not None:
            session.clear()
            return render_template("index.html")
        return redirect(page_for(Role(credential.role), credential.dialogue_id))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a password. Failed attempts are limited per client
    address and per username; while limited, even the right password is
    refused (so the limit cannot be used to test passwords)."""
    error, status = None, 200
    notice = session.pop("notice", None)
    if request.method == "POST":
        username = request.form.get("username", "")[:80]
        password = request.form.get("password", "")  # checked as given: never cut or changed
        keys = [address_key(), ("account", username.casefold())]
        try:
            with attempt("sign_in", keys, counts=lambda exc: exc is not None):
                with service().db.session() as s:
                    user = s.scalar(select(User).where(User.username == username))
                    # An unknown name costs as much time as a wrong password;
                    # no stored password is longer than 200 characters.
                    matches = check_password(user.password_hash if user else _no_such_user(), password[:200])
                    if user is None or not matches or len(password) > 200:
                        raise Unauthenticated("The username or password is not correct.")
                    sign_in(user=user)
            security_log.info("signed in user=%s from %s", username, client_address())
            return redirect(same_site_path(request.args.get("next")) or url_for("web.admin"))
        except CommandError as exc:
            error, status = exc, exc.status
    response = make_response(render_template("login.html", error=error, notice=notice), status)
    return retry_after_header(response, error) if error else response


@cache
def _no_such_user() -> str:
    """A password hash checked when the name is unknown (the same work as a known one)."""
    return hash_password(secrets.token_urlsafe(16))


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("web.index"))


@bp.get("/l/<token>")
def access_link(token: str):
    """A personal link: remember the credential in the session, then go to
    the role's page (the token leaves the address bar)."""
    with attempt("sign_in", [address_key()], counts=lambda exc: exc is not None), service().db.session() as s:
        credential = credential_for_token(s, token, kind="link")
        if credential is None:
            raise LinkRevoked("This link is not valid. It may have been revoked or mistyped; "
                                               "ask the secretariat for a new one.")
        if credential.user_id is not None:
            user = s.get(User, credential.user_id)
            sign_in(user=user)
        else:
            sign_in(credential=credential)
        security_log.info("signed in with link credential=%s role=%s from %s", credential.id, credential.role,
                          client_address())
        return redirect(page_for(Role(credential.role), credential.dialogue_id))


@bp.get("/d/<int:dialogue_id>/<role>")
def role_page(dialogue_id: int, role: str):
    if role not in ROLE_PAGES:
        abort(404)
    principal = principal_from_session()
    if principal.anonymous:
        return redirect(url_for("web.login", next=request.path))
    snapshot = service().snapshot(principal, dialogue_id, role)
    return render_template(f"{role}.html", snapshot=snapshot, sections=snapshot["sections"],
                           dialogue_id=dialogue_id, role=role, **page_extras(role, dialogue_id))


# -- the secretariat ---------------------------------------------------------------
def _require_admin():
    principal = principal_from_session()
    if principal.anonymous:
        return None, redirect(url_for("web.login", next=request.path))
    actor = current_actor(None)
    if not actor.is_admin:
        raise Forbidden("This page is for the secretariat.")
    return actor, None


@bp.get("/admin")
def admin():
    actor, response = _require_admin()
    if response:
        return response
    with service().db.session() as s:
        dialogues = s.scalars(select(Dialogue).order_by(Dialogue.starts_at, Dialogue.id)).all()
        site_tokens = s.scalars(select(Credential).where(  # secretariat API tokens of the whole site
            Credential.kind == "api", Credential.dialogue_id.is_(None), Credential.user_id.is_(None))
            .order_by(Credential.id)).all()
        return render_template("admin.html", dialogues=dialogues, topics=TOPICS, actor=actor,
                               site_tokens=site_tokens)


@bp.get("/admin/d/<int:dialogue_id>")
def admin_dialogue(dialogue_id: int):
    actor, response = _require_admin()
    if response:
        return response
    snapshot = service().snapshot(principal_from_session(), dialogue_id, Role.SECRETARIAT)
    with service().db.session() as s:
        credentials = s.scalars(select(Credential).where(Credential.dialogue_id == dialogue_id)
                                .order_by(Credential.role, Credential.id)).all()
        participants = {p.id: p for p in s.scalars(select(Participant).where(
            Participant.dialogue_id == dialogue_id))}
        users = s.scalars(select(User).order_by(User.username)).all()
        assignments = s.execute(select(User.username, RoleAssignment.role).join(
            RoleAssignment, RoleAssignment.user_id == User.id).where(RoleAssignment.dialogue_id == dialogue_id)
            .order_by(RoleAssignment.role, User.username)).all()
        return render_template("admin_dialogue.html", snapshot=snapshot, sections=snapshot["sections"],
                               **page_extras("admin_dialogue", dialogue_id, s),
                               dialogue_id=dialogue_id, credentials=credentials, participants=participants,
                               users=users, assignments=assignments, item_types=agenda_item_types(service().plugins).values(),
                               topics=TOPICS, role="secretariat", actor=actor)


def _account_sessions_ended() -> bool:
    """The cookie names an account whose sessions have since been ended."""
    uid = session.get("uid")
    if not isinstance(uid, int):
        return False
    with service().db.session() as s:
        user = s.get(User, uid)
        return user is None or user.session_epoch != session.get("epoch")


@bp.app_errorhandler(CommandError)
def _command_error(exc: CommandError):
    if request.path.startswith("/api/"):
        return error_response(exc)
    if exc.code == "unauthenticated" and _account_sessions_ended():
        # The account's sessions were ended (or its password set): forget
        # the cookie, so that the start page and sign-in work again.
        session.clear()
        session["notice"] = exc.message
        if request.method == "GET":
            return redirect(url_for("web.login", next=request.path))
    return retry_after_header(make_response(render_template("error.html", error=exc), exc.status), exc)


@bp.app_errorhandler(404)
def _not_found(_exc):
    if request.path.startswith("/api/"):
        return error_response(NotFound("There is nothing at this address."))
    return render_template("error.html", error=NotFound("There is nothing at this address.")), 404


@bp.app_errorhandler(405)
def _not_allowed(exc):
    error = InvalidPayload("This address does not take that method.")
    if request.path.startswith("/api/"):
        response = error_response(error)
    else:
        response = make_response(render_template("error.html", error=error))
    response.status_code = 405
    response.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
    return response


@bp.app_errorhandler(Exception)
def _unexpected(exc):
    if isinstance(exc, HTTPException):
        return exc
    from moderation.core.db import is_unavailable, unavailable_error
    if is_unavailable(exc):  # the database is away for a while: say so (503), do not call it a bug
        current_app.logger.warning("database unavailable on %s: %s", request.path, type(exc).__name__)
        return _command_error(unavailable_error())
    current_app.logger.exception("unhandled error on %s", request.path)
    error = Internal("Something went wrong on the server. Nothing was changed; please try again.")
    if request.path.startswith("/api/"):
        response = error_response(error)
        response.status_code = 500
        return response
    return render_template("error.html", error=error), 500


__all__ = ["bp", "current_actor", "choose_role"]
