"""What the accreditation's pages, API reads and deliveries share: the
pages' blueprint, who may open a secretariat page, a dialogue as plain
values, and the form's wording of the command layer's messages. Kept in
one place so that the page modules do not import each other.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, redirect, request, url_for

from moderation.core.auth import Principal
from moderation.core.errors import NotFound, not_allowed
from moderation.models import Dialogue, Role
from moderation.web.principal import principal_from_session, service

bp = Blueprint("accreditation", __name__)


# -- helpers ---------------------------------------------------------------------------------
def base_url() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def dialogue_values(dialogue_id: int) -> dict[str, Any]:
    """What the adapters need of a dialogue (plain values: the session is
    gone when they are used)."""
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        if dialogue is None:
            raise NotFound(f"Dialogue {dialogue_id} does not exist.")
        return {"id": dialogue.id, "title": dialogue.title, "when": when_text(dialogue), "venue": dialogue.venue,
                "timezone": dialogue.timezone}


def require_secretariat(dialogue_id: int) -> Principal:
    """The signed-in secretariat of this dialogue (a page: others are sent
    to sign in, or refused)."""
    principal = principal_from_session()
    dialogue_values(dialogue_id)
    if principal.anonymous and request.method == "GET":
        abort(redirect(url_for("web.login", next=request.full_path.rstrip("?"))))
    actor = service().actor(principal, dialogue_id)
    if Role.SECRETARIAT not in actor.roles:
        raise not_allowed(principal.anonymous, "This page is for the secretariat." if not principal.anonymous
                           else "Please sign in as the secretariat.")
    return principal


def when_text(dialogue: Dialogue) -> str:
    if dialogue.starts_at is None:
        return ""
    local = dialogue.starts_at.astimezone(ZoneInfo(dialogue.timezone))
    return f"{local.day} {local:%B %Y}, {local:%H:%M} ({dialogue.timezone})"


# The form's wording for a few of the command layer's messages (the API
# keeps those, which name the allowed values).
FRIENDLY = (
    ("Field required", "Required."),
    ("This field is required", "Required."),
    ("String should have at least 1 character", "Required."),
    ("List should have at least 1 item", "Choose at least one."),
    ("Too few entries: at least 1", "Choose at least one."),
    ("Input should be", "Choose one of the options."),
    ("Must be one of", "Choose one of the options."),
)


def friendly(message: str) -> str:
    for start, text in FRIENDLY:
        if message.startswith(start):
            return text
    return message


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dispatch(principal: Principal, name: str, payload: dict) -> Any:
    return service().dispatch(principal, name, payload).result
