"""The access feature's pages: joining a dialogue with the room's code or
the display's QR code, and the current code for the display and the staff."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from moderation.core.attempts import public_attempt, retry_after_header
from moderation.core.auth import Principal
from moderation.core.errors import CommandError, Forbidden
from moderation.features.access.commands import STALE_PASS
from moderation.features.access.join_codes import room_pass_matches
from moderation.features.access.reads import joining_of
from moderation.models import Credential, Dialogue
from moderation.web.pages import page_extra, sign_in
from moderation.web.principal import principal_from_session, service

bp = Blueprint("access", __name__)


@bp.route("/d/<int:dialogue_id>/join", methods=["GET", "POST"])
def join(dialogue_id: int):
    """Join with the code, or with the display's QR code: its link carries a
    signed value (``?t=``) that stands for the code, and the form then
    starts from "In the room"."""
    room_pass = request.values.get("t", "")[:200] or request.form.get("room_pass", "")[:200]
    error, form = None, {}
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id) or abort(404)
        title, enabled = dialogue.title, dialogue.join_enabled
        if room_pass and request.method == "GET" and enabled \
                and not room_pass_matches(service().join_keys, dialogue, room_pass):
            error, room_pass = Forbidden(STALE_PASS), ""
    if request.method == "POST":
        form = {k: request.form.get(k, "")[:300] for k in ("code", "name", "organization", "category", "channel")}
        payload = {"dialogue_id": dialogue_id, **form}
        if room_pass:
            del payload["code"]
            payload["room_pass"] = room_pass
        try:
            with public_attempt("participant.join_with_code", payload):
                outcome = service().dispatch(Principal(), "participant.join_with_code", payload)
            with service().db.session() as s:
                sign_in(credential=s.get(Credential, outcome.result["credential_id"]))
            return redirect(url_for("web.role_page", dialogue_id=dialogue_id, role="participant"))
        except CommandError as exc:
            error = exc
            if room_pass and exc.code == "forbidden":  # stale: the code shown on the screen still works
                room_pass = ""
    response = make_response(render_template("access/join.html", dialogue_id=dialogue_id, title=title, enabled=enabled,
                                             error=error, form=form, room_pass=room_pass),
                             (error.status if error and request.method == "POST" else 200))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return retry_after_header(response, error) if error else response


@bp.get("/d/<int:dialogue_id>/join-code")
def join_code(dialogue_id: int):
    """The current join code and QR link, for the display and staff (never
    participants): the display asks again when ``join_generation`` in its
    ``dialogue`` section changes. Nothing secret travels over Socket.IO."""
    response = make_response(with_link(service().read(principal_from_session(), dialogue_id, "access.join_code"),
                                       dialogue_id))
    response.headers["Cache-Control"] = "no-store"
    return response


@page_extra("display", "admin_dialogue")  # rendered into the page, never sent over Socket.IO
def joining(_session: Session, dialogue: Dialogue) -> dict[str, Any]:
    return {"joining": with_link(joining_of(service().join_keys, dialogue), dialogue.id)}


def with_link(view: dict[str, Any], dialogue_id: int) -> dict[str, Any]:
    """The QR code's value as the link it opens."""
    view = dict(view)
    room_pass = view.pop("room_pass")
    view["path"] = url_for("access.join", dialogue_id=dialogue_id, t=room_pass) if room_pass else None
    return view
