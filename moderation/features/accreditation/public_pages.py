"""The public pages: the application form (new, late, or changed through
the private edit link), its confirmation, and a participant's own
registration (travel support).

The application form works without JavaScript: a plain POST, every error
shown next to its field, nothing stored on error. ``static/js/apply.js``
only adds rows and explains the in-person limit as one types. The private
edit link (``/apply/edit/<token>``) opens the same form filled in; sent
again, it changes the application (``applications.update``).
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from flask import Response, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from pydantic import ValidationError
from sqlalchemy import select

from moderation.core.attempts import not_limited, public_attempt, retry_after_header
from moderation.core.auth import Principal
from moderation.core.errors import CommandError, Forbidden, InvalidPayload, NotFound, Unauthenticated, validation_details
from moderation.features.access.commands import participant_view
from moderation.features.accreditation.applications import (
    MAX_NOMINEES,
    MODE_LABELS,
    ORGANIZATION_CATEGORIES,
    STATUS_LABELS,
    SubmitPayload,
    application_window,
    applications_of_token,
    deadline_text,
    edit_path,
    nominee_problems,
)
from moderation.features.accreditation.invitations import SmtpSettings
from moderation.features.accreditation.travel import TRAVEL_LABELS, travel_eligible
from moderation.features.accreditation.web_shared import base_url, bp, dialogue_values, dispatch, friendly, when_text
from moderation.models import Application as ApplicationRow
from moderation.models import ApplicationStatus, Dialogue, Participant, Role
from moderation.web.principal import principal_from_session, service

FORM_ROWS = 3          # participant rows the form shows at first


FIELD_LABELS = {
    "dialogue_ids": "Dialogues", "organization.name": "Name of the organization",
    "organization.category": "Category", "organization.ecosoc_status": "ECOSOC consultative status",
    "organization.country": "Country", "organization.website": "Website",
    "organization.expertise": "Expertise", "contact.name": "Contact person's name",
    "contact.email": "Contact person's e-mail", "participants": "Participants", "confirmed": "Confirmation",
}
PARTICIPANT_FIELDS = {"name": "name", "email": "e-mail", "mode": "takes part"}


def field_label(field: str) -> str:
    """How the form names a field, for the list of errors at the top."""
    parts = field.split(".")
    if len(parts) == 3 and parts[0] == "participants" and parts[1].isdigit():
        return f"Participant {int(parts[1]) + 1}, {PARTICIPANT_FIELDS.get(parts[2], parts[2])}"
    return FIELD_LABELS.get(field, field)


# -- the public application form ---------------------------------------------------------------
def _accepting(session, now) -> list[Dialogue]:
    rows = session.scalars(select(Dialogue).where(Dialogue.applications_open.is_(True))
                           .order_by(Dialogue.starts_at, Dialogue.id))
    return [d for d in rows if application_window(d, now)[0]]


def _form_dialogues(session, dialogue: Dialogue, now, selected: set[int]) -> list[dict[str, Any]]:
    """The dialogue of the page first, then the Preparation Day linked to
    it, then every other dialogue taking applications."""
    linked = {d.id for d in session.scalars(select(Dialogue).where(
        (Dialogue.prepares_id == dialogue.id) | (Dialogue.id == (dialogue.prepares_id or -1))))}
    choices = [dialogue] + sorted((d for d in _accepting(session, now) if d.id != dialogue.id),
                                  key=lambda d: (d.id not in linked, d.starts_at or now, d.id))
    out = []
    for d in choices:
        accepting, why = application_window(d, now)
        out.append({"id": d.id, "title": d.title, "when": when_text(d), "accepting": accepting, "why": why,
                    "deadline": deadline_text(d), "linked": d.id in linked, "checked": d.id in selected})
    return out


def parse_application(form) -> tuple[dict[str, Any], list[int], list[dict[str, Any]]]:
    """The form as a command payload; (payload, form row of each nominee,
    problems found while reading it)."""
    problems = []
    ids = []
    for raw in form.getlist("dialogue_ids"):
        try:
            ids.append(int(raw))
        except ValueError:
            problems.append({"field": "dialogue_ids", "message": "Choose dialogues from the list."})
    org = {k: form.get(f"organization.{k}", "").strip()
           for k in ("name", "category", "country", "website", "expertise")}
    ecosoc = form.get("organization.ecosoc_status", "")
    if ecosoc in ("yes", "no"):
        org["ecosoc_status"] = ecosoc == "yes"
    org["grassroots"] = form.get("organization.grassroots") == "yes"
    org["victim_led"] = form.get("organization.victim_led") == "yes"
    if not org["category"]:
        del org["category"]
    nominees, rows = [], []
    for index in range(MAX_NOMINEES):
        name = form.get(f"participants.{index}.name", "").strip()
        email = form.get(f"participants.{index}.email", "").strip()
        mode = form.get(f"participants.{index}.mode", "online")
        if name or email:
            nominees.append({"name": name, "email": email, "mode": mode})
            rows.append(index)
    if not nominees:
        problems.append({"field": "participants", "message": "Nominate at least one participant."})
    payload = {"dialogue_ids": ids, "organization": org,
               "contact": {"name": form.get("contact.name", "").strip(),
                           "email": form.get("contact.email", "").strip()},
               "participants": nominees, "confirmed": form.get("confirmed") == "yes"}
    return payload, rows, problems


def field_errors(details, rows: list[int]) -> dict[str, str]:
    """Error details keyed by form field name (nominee rows as on the form)."""
    errors: dict[str, str] = {}
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        field = str(detail.get("field") or "form")
        parts = field.split(".")
        if parts[0] == "participants" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows):
            parts[1] = str(rows[int(parts[1])])
            field = ".".join(parts)
        errors.setdefault(field, friendly(str(detail.get("message", ""))))
    return errors


def _apply_errors(payload, rows, problems) -> tuple[CommandError | None, dict[str, str]]:
    """Everything wrong with the form at once: the fields' own checks and
    the in-person limit (the command checks them again)."""
    details = list(problems)
    try:
        SubmitPayload.model_validate(payload)
    except ValidationError as exc:
        details += [d for d in validation_details(exc)
                    if not (d["field"] == "participants" and any(p["field"] == "participants" for p in problems))]
    if not payload["confirmed"]:
        details.append({"field": "confirmed", "message": "Please confirm to apply."})
    details += nominee_problems([SimpleNamespace(**n) for n in payload["participants"]])
    if not details:
        return None, {}
    return (InvalidPayload("Please correct the fields marked below. Nothing was stored.", details),
            field_errors(details, rows))


@bp.get("/apply")
def apply_index():
    now = dt.datetime.now(dt.UTC)
    with service().db.session() as s:
        dialogues = [{"id": d.id, "title": d.title, "when": when_text(d), "deadline": deadline_text(d)}
                     for d in _accepting(s, now)]
    return render_template("accreditation/apply_index.html", dialogues=dialogues)


@bp.route("/d/<int:dialogue_id>/apply", methods=["GET", "POST"])
def apply(dialogue_id: int):
    now = dt.datetime.now(dt.UTC)
    dialogue_values(dialogue_id)
    principal = principal_from_session()
    try:
        secretariat = not principal.anonymous and Role.SECRETARIAT in service().actor(principal, dialogue_id).roles
    except CommandError:   # an ended session or a revoked link: apply like anyone
        secretariat = False
    error, errors, form, rows, selected = None, {}, {}, FORM_ROWS, {dialogue_id}
    edit_token = ""
    if request.method == "POST":
        form = request.form
        edit_token = form.get("edit_token", "").strip()
        payload, row_index, problems = parse_application(form)
        selected = set(payload["dialogue_ids"])
        rows = max(FORM_ROWS, (max(row_index) + 1) if row_index else 0)
        if form.get("action") == "add_row":
            rows = min(MAX_NOMINEES, rows + 1)
        else:
            error, errors = _apply_errors(payload, row_index, problems)
            if error is None:
                try:
                    return _send_application(principal, secretariat, payload, row_index, edit_token, now)
                except CommandError as exc:
                    error, errors = exc, field_errors(exc.details, row_index)
    response = _apply_page(dialogue_id, now, secretariat, form=form, rows=rows, selected=selected, error=error,
                           errors=errors, edit_token=edit_token)
    return retry_after_header(response, error) if error else response


def _send_application(principal: Principal, secretariat: bool, payload: dict, row_index: list[int], edit_token: str,
                      now: dt.datetime):
    """Store the form (new, late, or changed with the edit token), then show
    the confirmation page."""
    with service().db.session() as s:
        late = secretariat and not all(application_window(d, now)[0] for d in s.scalars(
            select(Dialogue).where(Dialogue.id.in_(payload["dialogue_ids"]))))
    if edit_token:
        name, payload = "applications.update", {**payload, "edit_token": edit_token}
    else:
        name = "applications.accept_late" if late else "applications.submit"
    g.application_receipt = None
    # The secretariat entering forms for others is not limited.
    with not_limited() if secretariat else public_attempt(name, payload):
        outcome = service().dispatch(principal if secretariat else Principal(), name, payload)
    with service().db.session() as s:
        titles = {d.id: d.title for d in s.scalars(select(Dialogue).where(
            Dialogue.id.in_(payload["dialogue_ids"])))}
    token = outcome.result.get("edit_token")
    session["applied"] = {
        "organization": payload["organization"]["name"], "late": late, "changed": bool(edit_token),
        "edit_link": base_url() + edit_path(token) if token else "",
        "contact": payload["contact"]["email"], "receipt": g.application_receipt,
        "applications": [{**a, "title": titles.get(a["dialogue_id"], "")} for a in outcome.result["applications"]]}
    return redirect(url_for("accreditation.apply_done"))


def _apply_page(dialogue_id: int, now: dt.datetime, secretariat: bool, *, form, rows: int, selected: set[int],
                error: CommandError | None = None, errors: dict | None = None, edit_token: str = "",
                decided: list | None = None) -> Response:
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        accepting, why = application_window(dialogue, now)
        context = {"dialogue": {"id": dialogue.id, "title": dialogue.title, "when": when_text(dialogue),
                                "deadline": deadline_text(dialogue), "venue": dialogue.venue},
                   "choices": _form_dialogues(s, dialogue, now, selected)}
    response = make_response(render_template(
        "accreditation/apply.html", field_label=field_label, accepting=accepting, why=why, secretariat=secretariat, form=form,
        error=error, errors=errors or {}, rows=rows, modes=MODE_LABELS, org_categories=ORGANIZATION_CATEGORIES,
        max_rows=MAX_NOMINEES, edit_token=edit_token, decided=decided or [], **context),
        error.status if error else 200)
    if edit_token:   # an application's personal data, and the link that changes it
        response.headers["Cache-Control"] = "no-store"
    return response


def application_form(application) -> dict[str, str]:
    """A stored application as the form's fields (the edit link's page)."""
    form = {"organization.name": application.organization_name, "organization.category": application.category,
            "organization.ecosoc_status": "yes" if application.ecosoc_status else "no",
            "organization.country": application.country, "organization.website": application.website,
            "organization.expertise": application.expertise, "contact.name": application.contact_name,
            "contact.email": application.contact_email}
    if application.grassroots:
        form["organization.grassroots"] = "yes"
    if application.victim_led:
        form["organization.victim_led"] = "yes"
    for index, nominee in enumerate(application.nominees):
        form.update({f"participants.{index}.name": nominee.name, f"participants.{index}.email": nominee.email,
                     f"participants.{index}.mode": nominee.mode})
    return form


@bp.get("/apply/edit/<token>")
def apply_edit(token: str):
    """The private edit link: the form filled in with the application, to
    change it and send it again (until it is decided)."""
    now = dt.datetime.now(dt.UTC)
    with service().db.session() as s:
        mine = applications_of_token(s, token)
        if not mine:
            raise NotFound("This edit link is not valid. Open the link from the confirmation page "
                                            "or e-mail of your application, or send a new application.")
        pending = [a for a in mine if a.status == ApplicationStatus.PENDING.value]
        latest = max(pending or mine, key=lambda a: (a.updated_at, a.id))
        form = application_form(latest)
        rows = max(FORM_ROWS, len(latest.nominees))
        decided = [{"title": s.get(Dialogue, a.dialogue_id).title, "status": STATUS_LABELS[a.status]}
                   for a in mine if a not in pending]
        dialogue_id = (pending or mine)[0].dialogue_id
        selected = {a.dialogue_id for a in pending}
    return _apply_page(dialogue_id, now, False, form=form, rows=rows, selected=selected, edit_token=token,
                       decided=decided)


@bp.get("/apply/done")
def apply_done():
    applied = session.pop("applied", None)
    if not applied:
        return redirect(url_for("accreditation.apply_index"))
    response = make_response(render_template("accreditation/apply_done.html", applied=applied,
                                             smtp=SmtpSettings.from_config(current_app.config)))
    response.headers["Cache-Control"] = "no-store"   # the edit link, shown once
    return response


# -- a participant's own registration ------------------------------------------------------------
@bp.route("/d/<int:dialogue_id>/registration", methods=["GET", "POST"])
def registration(dialogue_id: int):
    principal = principal_from_session()
    if principal.anonymous:
        raise Unauthenticated("Open the personal link from your invitation first.")
    actor = service().actor(principal, dialogue_id)
    if actor.participant_id is None or Role.PARTICIPANT not in actor.roles:
        raise Forbidden("This page shows a participant's own registration.")
    error = None
    if request.method == "POST":
        try:
            dispatch(principal, "travel.request", {"dialogue_id": dialogue_id,
                                                    "note": request.form.get("note", "").strip()[:1000]})
            flash("Thank you: the secretariat has your request and decides case by case.", "info")
            return redirect(url_for("accreditation.registration", dialogue_id=dialogue_id))
        except CommandError as exc:
            error = exc
    with service().db.session() as s:
        participant = s.get(Participant, actor.participant_id)
        dialogue = s.get(Dialogue, dialogue_id)
        application = s.get(ApplicationRow, participant.application_id) if participant.application_id else None
        me = participant_view(participant, with_personal=True)   # their own: with e-mail
        own = {"mode": "online" if participant.channel != "room" else (
            "alternate" if participant.alternate else "in_person"),
            "invited_at": participant.invited_at, "checked_in_at": participant.checked_in_at}
        app_view = None
        if application is not None:
            app_view = {"organization": application.organization_name, "status": application.status,
                        "travel_support": application.travel_support,
                        "travel_eligible": travel_eligible(application),
                        "travel_note": application.travel_request_note}
        return render_template("accreditation/registration.html", me=me, own=own, application=app_view, error=error,
                               modes=MODE_LABELS, travel_labels=TRAVEL_LABELS, tz=dialogue.timezone,
                               dialogue_title=dialogue.title, dialogue_id=dialogue_id), (error.status if error else 200)
