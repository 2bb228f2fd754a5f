"""Pages and API reads for accreditation: the public application form, the
secretariat's applications, participants and check-in pages, a
participant's own registration, the exports, and the delivery of
invitations (e-mail or files). Every write is a command from
``moderation.features.accreditation.commands``; this module only adapts forms and files.

The application form works without JavaScript: a plain POST, every error
shown next to its field, nothing stored on error. ``static/js/apply.js``
only adds rows and explains the in-person limit as one types. The private
edit link (``/apply/edit/<token>``) opens the same form filled in; sent
again, it changes the application (``applications.update``).
"""
from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace
from typing import Any, Literal
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from pydantic import Field, ValidationError
from sqlalchemy import select

from moderation.core import storable
from moderation.core.attempts import not_limited, public_attempt, retry_after_header
from moderation.core.auth import Principal
from moderation.core.commands import Payload
from moderation.core.errors import (
    CommandError,
    Conflict,
    Forbidden,
    InvalidPayload,
    NotFound,
    Unauthenticated,
    not_allowed,
    validation_details,
)
from moderation.features.accreditation import commands as acc
from moderation.features.accreditation import presence
from moderation.features.accreditation.invitations import (
    SmtpSettings,
    header_text,
    invitations_zip,
    letter,
    receipt,
    send,
    send_messages,
)
from moderation.features.accreditation.presence import PresenceWatcher  # noqa: F401 - where it used to be
from moderation.models import ApplicationStatus, Dialogue, Participant, Role
from moderation.web.api import EXTRA_PATHS
from moderation.web.bodies import json_object, largest_json, sized
from moderation.web.principal import api_principal, principal_from_session, service
from moderation.web.redirects import with_query

log = logging.getLogger(__name__)
bp = Blueprint("accreditation", __name__)
api_bp = Blueprint("accreditation_api", __name__, url_prefix="/api/v1")
FORM_ROWS = 3          # participant rows the form shows at first


def init_app(app) -> None:
    """Register the pages, the API reads and the online-attendance watcher."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.extensions["csrf"].exempt(api_bp)  # checked per request for cookie sessions (api_principal)
    presence.init_app(app)  # online attendance (moderation/presence.py)
    app.extensions["moderation"].follow_ups.append(ApplicationReceipts(app))


# -- helpers ---------------------------------------------------------------------------------
def base_url() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")


def _dialogue(dialogue_id: int) -> dict[str, Any]:
    """What the adapters need of a dialogue (plain values: the session is
    gone when they are used)."""
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        if dialogue is None:
            raise NotFound(f"Dialogue {dialogue_id} does not exist.")
        return {"id": dialogue.id, "title": dialogue.title, "when": when_text(dialogue), "venue": dialogue.venue,
                "timezone": dialogue.timezone}


def _secretariat(dialogue_id: int) -> Principal:
    """The signed-in secretariat of this dialogue (a page: others are sent
    to sign in, or refused)."""
    principal = principal_from_session()
    _dialogue(dialogue_id)
    if principal.anonymous and request.method == "GET":
        abort(redirect(url_for("web.login", next=request.full_path.rstrip("?"))))
    actor = service().actor(principal, dialogue_id)
    if Role.SECRETARIAT not in actor.roles:
        raise not_allowed(principal.anonymous, "This page is for the secretariat." if not principal.anonymous
                           else "Please sign in as the secretariat.")
    return principal


def _require_reader(principal: Principal, dialogue_id: int) -> None:
    _dialogue(dialogue_id)
    if Role.SECRETARIAT not in service().actor(principal, dialogue_id).roles:
        raise not_allowed(principal.anonymous, "Applications and personal data are for the secretariat only.")


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


def friendly(message: str) -> str:
    for start, text in FRIENDLY:
        if message.startswith(start):
            return text
    return message


# -- the public application form ---------------------------------------------------------------
def _accepting(session, now) -> list[Dialogue]:
    rows = session.scalars(select(Dialogue).where(Dialogue.applications_open.is_(True))
                           .order_by(Dialogue.starts_at, Dialogue.id))
    return [d for d in rows if acc.application_window(d, now)[0]]


def _form_dialogues(session, dialogue: Dialogue, now, selected: set[int]) -> list[dict[str, Any]]:
    """The dialogue of the page first, then the Preparation Day linked to
    it, then every other dialogue taking applications."""
    linked = {d.id for d in session.scalars(select(Dialogue).where(
        (Dialogue.prepares_id == dialogue.id) | (Dialogue.id == (dialogue.prepares_id or -1))))}
    choices = [dialogue] + sorted((d for d in _accepting(session, now) if d.id != dialogue.id),
                                  key=lambda d: (d.id not in linked, d.starts_at or now, d.id))
    out = []
    for d in choices:
        accepting, why = acc.application_window(d, now)
        out.append({"id": d.id, "title": d.title, "when": when_text(d), "accepting": accepting, "why": why,
                    "deadline": acc.deadline_text(d), "linked": d.id in linked, "checked": d.id in selected})
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
    for index in range(acc.MAX_NOMINEES):
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
        acc.SubmitPayload.model_validate(payload)
    except ValidationError as exc:
        details += [d for d in validation_details(exc)
                    if not (d["field"] == "participants" and any(p["field"] == "participants" for p in problems))]
    if not payload["confirmed"]:
        details.append({"field": "confirmed", "message": "Please confirm to apply."})
    details += acc.nominee_problems([SimpleNamespace(**n) for n in payload["participants"]])
    if not details:
        return None, {}
    return (InvalidPayload("Please correct the fields marked below. Nothing was stored.", details),
            field_errors(details, rows))


@bp.get("/apply")
def apply_index():
    now = dt.datetime.now(dt.UTC)
    with service().db.session() as s:
        dialogues = [{"id": d.id, "title": d.title, "when": when_text(d), "deadline": acc.deadline_text(d)}
                     for d in _accepting(s, now)]
    return render_template("apply_index.html", dialogues=dialogues)


@bp.route("/d/<int:dialogue_id>/apply", methods=["GET", "POST"])
def apply(dialogue_id: int):
    now = dt.datetime.now(dt.UTC)
    _dialogue(dialogue_id)
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
            rows = min(acc.MAX_NOMINEES, rows + 1)
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
        late = secretariat and not all(acc.application_window(d, now)[0] for d in s.scalars(
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
        "edit_link": base_url() + acc.edit_path(token) if token else "",
        "contact": payload["contact"]["email"], "receipt": g.application_receipt,
        "applications": [{**a, "title": titles.get(a["dialogue_id"], "")} for a in outcome.result["applications"]]}
    return redirect(url_for("accreditation.apply_done"))


def _apply_page(dialogue_id: int, now: dt.datetime, secretariat: bool, *, form, rows: int, selected: set[int],
                error: CommandError | None = None, errors: dict | None = None, edit_token: str = "",
                decided: list | None = None) -> Response:
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        accepting, why = acc.application_window(dialogue, now)
        context = {"dialogue": {"id": dialogue.id, "title": dialogue.title, "when": when_text(dialogue),
                                "deadline": acc.deadline_text(dialogue), "venue": dialogue.venue},
                   "choices": _form_dialogues(s, dialogue, now, selected)}
    response = make_response(render_template(
        "apply.html", field_label=field_label, accepting=accepting, why=why, secretariat=secretariat, form=form,
        error=error, errors=errors or {}, rows=rows, modes=acc.MODE_LABELS, org_categories=acc.ORGANIZATION_CATEGORIES,
        max_rows=acc.MAX_NOMINEES, edit_token=edit_token, decided=decided or [], **context),
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
        mine = acc.applications_of_token(s, token)
        if not mine:
            raise NotFound("This edit link is not valid. Open the link from the confirmation page "
                                            "or e-mail of your application, or send a new application.")
        pending = [a for a in mine if a.status == ApplicationStatus.PENDING.value]
        latest = max(pending or mine, key=lambda a: (a.updated_at, a.id))
        form = application_form(latest)
        rows = max(FORM_ROWS, len(latest.nominees))
        decided = [{"title": s.get(Dialogue, a.dialogue_id).title, "status": acc.STATUS_LABELS[a.status]}
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
    response = make_response(render_template("apply_done.html", applied=applied,
                                             smtp=SmtpSettings.from_config(current_app.config)))
    response.headers["Cache-Control"] = "no-store"   # the edit link, shown once
    return response


class ApplicationReceipts:
    """E-mails the contact person of an application what was stored and,
    for a new one, the private edit link — wherever the application came
    from (the form, the API), once a mail server is configured. A
    service follow-up (it needs the edit link, which no plugin sees): it
    runs after the commit, outside the dialogue's lock; whether it was sent
    is in ``g.application_receipt`` (None or the reason) for the
    confirmation page."""

    COMMANDS = ("applications.submit", "applications.accept_late", "applications.update")

    def __init__(self, app):
        self.app = app

    def __call__(self, outcome) -> None:
        app = self.app
        if outcome.replayed or outcome.command not in self.COMMANDS:
            return
        smtp = SmtpSettings.from_config(app.config)
        if smtp is None:
            return
        reason = self.send(app, smtp, outcome)
        if has_request_context():
            g.application_receipt = reason
        if reason:
            log.warning("the receipt of application %s was not sent: %s",
                        [a["application_id"] for a in outcome.result["applications"]], reason)

    def send(self, app, smtp: SmtpSettings, outcome) -> str | None:
        ids = [a["application_id"] for a in outcome.result["applications"]]
        with app.extensions["moderation"].db.session() as s:
            rows = list(s.scalars(select(acc.ApplicationRow).where(acc.ApplicationRow.id.in_(ids))
                                  .order_by(acc.ApplicationRow.id)))
            listed = [(s.get(Dialogue, a.dialogue_id).title, a.id, acc.deadline_text(s.get(Dialogue, a.dialogue_id)))
                      for a in rows]
            first = rows[0]
            contact, organization = (first.contact_name, first.contact_email), first.organization_name
        token = outcome.result.get("edit_token")
        base = app.config.get("PUBLIC_URL") or (request.host_url if has_request_context() else "")
        link = base.rstrip("/") + acc.edit_path(token) if token and base else None
        sender = smtp.sender or (_sender(smtp) if has_request_context() else None)
        if sender is None:
            return "no sender address (MODERATION_SMTP_FROM)"
        try:
            message = receipt(contact, organization, listed, sender, edit_link=link,
                              changed=outcome.command == "applications.update")
        except ValueError as exc:
            return str(exc)
        return send_messages(smtp, {"receipt": message})["receipt"]


# -- the secretariat: applications -------------------------------------------------------------
def _query(args) -> tuple[acc.ListApplicationsQuery, str | None]:
    values = {k: v for k, v in args.items() if v != "" and k in acc.ListApplicationsQuery.model_fields}
    for key in ("ecosoc", "grassroots", "in_person", "duplicate"):
        if key in values:
            values[key] = values[key] in ("1", "true", "yes")
    try:
        return acc.ListApplicationsQuery.model_validate(values), None
    except ValidationError:
        return acc.ListApplicationsQuery(), "Some filters were not understood and were reset."


def _nav(dialogue: Dialogue, current: str) -> dict[str, Any]:
    return {"dialogue": dialogue, "current": current, "dialogue_id": dialogue.id}


@bp.get("/admin/d/<int:dialogue_id>/applications")
def applications_page(dialogue_id: int):
    _secretariat(dialogue_id)
    query, problem = _query(request.args)
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        items = acc.list_applications(s, dialogue_id, query)
        counts = {status.value: 0 for status in ApplicationStatus}
        for a in acc.list_applications(s, dialogue_id, acc.ListApplicationsQuery()):
            counts[a["status"]] += 1
        local = acc.local_deadline(dialogue)
        window = {"open": dialogue.applications_open, "accepting": acc.application_window(dialogue, _now())[0],
                  "deadline": local.strftime("%Y-%m-%dT%H:%M") if local else "",
                  "timezone": dialogue.application_timezone, "text": acc.deadline_text(dialogue),
                  "deleted": dialogue.personal_data_deleted_at is not None,
                  "warnings": {w["field"]: w["message"] for w in acc.deadline_warnings(dialogue)}}
        return render_template("applications.html", items=items, query=query, counts=counts, window=window,
                               problem=problem, public_url=base_url() + url_for("accreditation.apply",
                                                                                dialogue_id=dialogue_id),
                               smtp=SmtpSettings.from_config(current_app.config),
                               org_categories=acc.ORGANIZATION_CATEGORIES, **_nav(dialogue, "applications"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _back(dialogue_id: int, page: str = "applications"):
    target = {"applications": "accreditation.applications_page", "participants": "accreditation.participants_page",
              "checkin": "accreditation.checkin_page"}[page]
    return redirect(with_query(url_for(target, dialogue_id=dialogue_id), request.form.get("return_query")))


def form_number(text: str) -> int | None:
    """A whole number from a form field: ASCII digits only (``"²".isdigit()``
    is true, and ``int("²")`` fails)."""
    return int(text) if text.isascii() and text.isdigit() else None


def form_numbers(texts: list[str]) -> list[int]:
    return [number for number in map(form_number, texts) if number is not None]


def _dispatch(principal: Principal, name: str, payload: dict) -> Any:
    return service().dispatch(principal, name, payload).result


@bp.post("/admin/d/<int:dialogue_id>/applications/settings")
def applications_settings(dialogue_id: int):
    principal = _secretariat(dialogue_id)
    deadline = request.form.get("deadline", "").strip() or None
    try:
        result = _dispatch(principal, "applications.configure", {
            "dialogue_id": dialogue_id, "open": request.form.get("open") == "yes", "deadline": deadline,
            "timezone": request.form.get("timezone", "Europe/Vienna").strip() or "Europe/Vienna"})
    except CommandError as exc:
        flash(_error_text(exc), "error")
    else:
        state = "open" if result["open"] else "closed"
        flash(f"Applications are {state}" + (f"; deadline {result['deadline_text']}." if result["deadline_text"]
                                              else "; no deadline."), "info")
        for warning in result.get("warnings", []):   # also shown beside the field while it holds
            flash(warning["message"], "error")
    return _back(dialogue_id)


def _error_text(exc: CommandError) -> str:
    details = [f"{d.get('field')}: {friendly(str(d.get('message')))}" for d in (exc.details or [])
               if isinstance(d, dict) and d.get("field")]
    return exc.message + (" (" + "; ".join(details[:5]) + ")" if details else "")


@bp.post("/admin/d/<int:dialogue_id>/applications/decide")
def applications_decide(dialogue_id: int):
    principal = _secretariat(dialogue_id)
    row = request.form.get("row_decision", "")
    if row:
        decision, _, only = row.partition(":")
        ids = [number] if (number := form_number(only)) is not None else []
    else:
        decision = request.form.get("decision", "")
        ids = form_numbers(request.form.getlist("application_ids"))
    if not ids:
        flash("Select at least one application first.", "error")
        return _back(dialogue_id)
    try:
        result = _dispatch(principal, "applications.decide", {
            "dialogue_id": dialogue_id, "application_ids": ids, "decision": decision,
            "reason": request.form.get("reason", "").strip(),
            "decided_by_body": request.form.get("decided_by_body", "").strip()})
    except CommandError as exc:
        flash(_error_text(exc), "error")
        return _back(dialogue_id)
    done = len(result["decided"])
    flash(f"{done} application(s) {result['status']}" + (
        f"; {len(result['unchanged'])} already were." if result["unchanged"] else "."), "info")
    new = result["participant_ids"]
    if new:
        smtp = SmtpSettings.from_config(current_app.config)
        if smtp is not None:
            report = deliver(principal, dialogue_id, new, "email")
            flash(report["message"], "info" if not report["failed"] else "error")
        else:
            session["pending_download"] = new
            flash(f"{len(new)} participant(s) registered. No mail server is configured: download their "
                  "invitations on the participants page.", "info")
    return _back(dialogue_id)


# -- invitations: issue, then e-mail or files ----------------------------------------------------
def _dialogue_text(dialogue_id: int) -> dict[str, Any]:
    return {**_dialogue(dialogue_id),
            "registration_path": url_for("accreditation.registration", dialogue_id=dialogue_id)}


def _sender(smtp: SmtpSettings | None) -> str:
    if smtp is not None and smtp.sender:
        return smtp.sender
    host = (current_app.config.get("PUBLIC_URL") or request.host_url).split("://", 1)[-1].split("/")[0]
    return f"The secretariat <secretariat@{host.split(':')[0] or 'localhost'}>"


def deliver(principal: Principal, dialogue_id: int, participant_ids: list[int] | None, method: str) -> dict:
    """Issue the links (``invitations.issue`` keeping the old ones), send
    them by e-mail or pack them as files, then record what was delivered
    (``invitations.record_delivery``: the old links of those reached are
    revoked, the new links that did not reach anyone are withdrawn). So a
    message that cannot be written or sent leaves its participant with the
    link they had. For a download the answer carries ``zip`` (bytes)."""
    smtp = SmtpSettings.from_config(current_app.config)
    if method == "email" and smtp is None:
        raise Conflict("No mail server is configured (MODERATION_SMTP_HOST): download the "
                                       "invitations instead.", [{"field": "delivery", "message": "no SMTP"}])
    issued = service().dispatch(principal, "invitations.issue", {
        "dialogue_id": dialogue_id, "participant_ids": participant_ids, "revoke_old": False}).result
    invitations = issued["invitations"]
    if not invitations:
        return {"message": "Everyone already has an invitation.", "sent": [], "failed": {}, "names": {},
                "zip": None, "count": 0}
    names = {i["participant_id"]: header_text(i["name"]) for i in invitations}
    links = {i["participant_id"]: i["credential_id"] for i in invitations}
    failed: dict[int, str] = {}
    data, sent = None, []
    try:
        items = _letters(invitations, dialogue_id, smtp, strict=method == "email", failed=failed)
        if method == "email":
            for pid, reason in send(smtp, items).items():
                if reason is None:
                    sent.append(pid)
                else:
                    failed[pid] = reason
        else:
            data = invitations_zip(items)
            sent = [item.participant_id for item in items]
    finally:
        # Whatever happened above: what was not delivered is withdrawn.
        service().dispatch(principal, "invitations.record_delivery", {
            "dialogue_id": dialogue_id, "method": method,
            "delivered_credential_ids": [links[pid] for pid in sent],
            "undelivered_credential_ids": [links[pid] for pid in links if pid not in sent]})
    if method == "email":
        message = f"{len(sent)} invitation(s) sent by e-mail."
    else:
        message = f"{len(sent)} invitation(s) in the download."
    if failed:
        message += " Not sent: " + "; ".join(f"{names[p]} ({r})" for p, r in list(failed.items())[:10]) + \
            ". They keep the link they had (if any): correct the address or the mail server and send again."
    return {"message": message, "sent": sent, "failed": failed, "names": names, "zip": data,
            "count": len(invitations)}


def _letters(invitations: list[dict], dialogue_id: int, smtp: SmtpSettings | None, *, strict: bool,
             failed: dict[int, str]) -> list:
    """The letters that can be written; the others go to ``failed`` with
    the reason."""
    dialogue = _dialogue_text(dialogue_id)
    sender = _sender(smtp)
    items = []
    for index, invitation in enumerate(invitations, start=1):
        try:
            items.append(letter(invitation, dialogue, base_url(), sender, index, strict=strict))
        except ValueError as exc:
            failed[invitation["participant_id"]] = str(exc)
    return items


def zip_response(data: bytes, dialogue_id: int) -> Response:
    stamp = _now().strftime("%Y%m%d-%H%M")
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="invitations-dialogue-{dialogue_id}-{stamp}.zip"'
    response.headers["Cache-Control"] = "no-store"   # personal links
    return response


@bp.post("/admin/d/<int:dialogue_id>/invitations")
def invitations_send(dialogue_id: int):
    principal = _secretariat(dialogue_id)
    method = request.form.get("delivery") or request.form.get("delivery_default", "download")
    everyone_new = request.form.get("scope") == "new"
    ids = [] if everyone_new else form_numbers(request.form.getlist("participant_ids"))
    if not ids and not everyone_new:
        flash("Select participants first, or invite everyone not yet invited.", "error")
        return _back(dialogue_id, "participants")
    try:
        report = deliver(principal, dialogue_id, ids or None, method)
    except CommandError as exc:
        flash(_error_text(exc), "error")
        return _back(dialogue_id, "participants")
    session.pop("pending_download", None)
    if report["zip"] is not None:
        return zip_response(report["zip"], dialogue_id)
    flash(report["message"], "error" if report["failed"] else "info")
    return _back(dialogue_id, "participants")


# -- the secretariat: participants, delegates, travel support, privacy --------------------------
@bp.get("/admin/d/<int:dialogue_id>/participants")
def participants_page(dialogue_id: int):
    _secretariat(dialogue_id)
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        rows = acc.participant_rows(s, dialogue)
        travel = [acc.application_view(a) for a in s.scalars(select(acc.ApplicationRow).where(
            acc.ApplicationRow.dialogue_id == dialogue_id,
            acc.ApplicationRow.status == ApplicationStatus.APPROVED.value)
            .order_by(acc.ApplicationRow.organization_key))
            if acc.travel_eligible(a)]
        return render_template("participants_admin.html", rows=rows, travel=travel,
                               smtp=SmtpSettings.from_config(current_app.config),
                               pending_download=session.get("pending_download") or [],
                               published=dialogue.summary_published_at, deleted=dialogue.personal_data_deleted_at,
                               delegate_categories=acc.DELEGATE_CATEGORIES, tz=dialogue.timezone,
                               **_nav(dialogue, "participants"))


def _form_command(dialogue_id: int, name: str, payload: dict, ok: str, page: str = "participants"):
    principal = _secretariat(dialogue_id)
    try:
        result = _dispatch(principal, name, {"dialogue_id": dialogue_id, **payload})
    except CommandError as exc:
        flash(_error_text(exc), "error")
    else:
        flash(ok.format(**result) if "{" in ok else ok, "info")
    return _back(dialogue_id, page)


@bp.post("/admin/d/<int:dialogue_id>/delegates")
def delegates_add(dialogue_id: int):
    form = request.form
    return _form_command(dialogue_id, "delegates.add", {
        "name": form.get("name", "").strip(), "email": form.get("email", "").strip(),
        "delegation": form.get("delegation", "").strip(), "category": form.get("category", ""),
        "channel": form.get("channel", "room")}, "Delegate added (participant {participant_id}); invite them below.")


@bp.post("/admin/d/<int:dialogue_id>/delegates/import")
@sized(largest_json(acc.ImportPayload.model_json_schema()))  # the file or pasted text, as large as the API takes
def delegates_import(dialogue_id: int):
    upload = request.files.get("file")
    text = request.form.get("csv", "")
    if upload is not None and upload.filename:
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    if not text.strip():
        _secretariat(dialogue_id)
        flash("Choose a CSV file (or paste the rows) first.", "error")
        return _back(dialogue_id, "participants")
    principal = _secretariat(dialogue_id)
    try:
        result = _dispatch(principal, "delegates.import_csv", {"dialogue_id": dialogue_id, "csv": text})
    except CommandError as exc:
        problems = [d for d in (exc.details or []) if isinstance(d, dict) and d.get("row")]
        flash(exc.message, "error")
        for problem in problems[:20]:
            flash(f"Row {problem['row']}" + (f", {problem['column']}" if problem.get("column") else "")
                  + f": {friendly(str(problem['message']))}", "error")
    else:
        flash(f"{len(result['participant_ids'])} delegate(s) imported" + (
            f"; {len(result['skipped'])} already registered were skipped." if result["skipped"] else "."), "info")
    return _back(dialogue_id, "participants")


@bp.post("/admin/d/<int:dialogue_id>/participants/<int:participant_id>/channel")
def participant_channel(dialogue_id: int, participant_id: int):
    return _form_command(dialogue_id, "participant.set_channel",
                         {"participant_id": participant_id, "channel": request.form.get("channel", "")},
                         "Switched to {channel}.")


@bp.post("/admin/d/<int:dialogue_id>/travel/decide")
def travel_decide(dialogue_id: int):
    application_id = request.form.get("application_id", "")
    return _form_command(dialogue_id, "travel.decide", {
        "application_id": form_number(application_id) or 0,
        "decision": request.form.get("decision", ""), "note": request.form.get("note", "").strip()},
        "Travel support {travel_support}.")


@bp.post("/admin/d/<int:dialogue_id>/summary/published")
def summary_published(dialogue_id: int):
    return _form_command(dialogue_id, "summary.mark_published",
                         {"published": request.form.get("published") != "no"}, "Saved.")


@bp.post("/admin/d/<int:dialogue_id>/privacy/delete")
def privacy_delete(dialogue_id: int):
    if request.form.get("confirm") != "yes":
        _secretariat(dialogue_id)
        flash("Tick the box to confirm: the deletion cannot be undone.", "error")
        return _back(dialogue_id, "participants")
    return _form_command(dialogue_id, "privacy.delete_personal_data", {"confirm": True},
                         "Personal data deleted: {participants} participants and {applications} applications "
                         "anonymized; the counts are kept.")


# -- check-in ----------------------------------------------------------------------------------------
def search_participants(dialogue_id: int, text: str, limit: int = 20) -> list[dict[str, Any]]:
    needle = text.strip().casefold()
    if not needle:
        return []
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        rows = acc.participant_rows(s, dialogue)
    return [r for r in rows if needle in f"{r['name']} {r['organization']} {r.get('email', '')}".casefold()][:limit]


@bp.route("/admin/d/<int:dialogue_id>/checkin", methods=["GET", "POST"])
def checkin_page(dialogue_id: int):
    principal = _secretariat(dialogue_id)
    result, error, query = None, None, request.values.get("q", "")
    if request.method == "POST":
        payload: dict[str, Any] = {"dialogue_id": dialogue_id}
        number = form_number(request.form.get("participant_id", ""))
        if number is not None:
            payload["participant_id"] = number
        else:
            payload["token"] = request.form.get("token", "")
        try:
            result = _dispatch(principal, "participants.check_in", payload)
        except CommandError as exc:
            error = exc
    snapshot = service().snapshot(principal, dialogue_id, Role.SECRETARIAT)
    with service().db.session() as s:
        recent = sorted((r for r in acc.participant_rows(s, s.get(Dialogue, dialogue_id)) if r["checked_in_at"]),
                        key=lambda r: r["checked_in_at"], reverse=True)[:8]
    return render_template("checkin.html", snapshot=snapshot, sections=snapshot["sections"], dialogue_id=dialogue_id,
                           role="secretariat", result=result, error=error, query=query,
                           matches=search_participants(dialogue_id, query), recent=recent,
                           tz=snapshot["sections"]["dialogue"]["timezone"]), (error.status if error else 200)


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
            _dispatch(principal, "travel.request", {"dialogue_id": dialogue_id,
                                                    "note": request.form.get("note", "").strip()[:1000]})
            flash("Thank you: the secretariat has your request and decides case by case.", "info")
            return redirect(url_for("accreditation.registration", dialogue_id=dialogue_id))
        except CommandError as exc:
            error = exc
    with service().db.session() as s:
        participant = s.get(Participant, actor.participant_id)
        dialogue = s.get(Dialogue, dialogue_id)
        application = s.get(acc.ApplicationRow, participant.application_id) if participant.application_id else None
        me = acc.participant_view(participant, with_personal=True)   # their own: with e-mail
        own = {"mode": "online" if participant.channel != "room" else (
            "alternate" if participant.alternate else "in_person"),
            "invited_at": participant.invited_at, "checked_in_at": participant.checked_in_at}
        app_view = None
        if application is not None:
            app_view = {"organization": application.organization_name, "status": application.status,
                        "travel_support": application.travel_support,
                        "travel_eligible": acc.travel_eligible(application),
                        "travel_note": application.travel_request_note}
        return render_template("registration.html", me=me, own=own, application=app_view, error=error,
                               modes=acc.MODE_LABELS, travel_labels=acc.TRAVEL_LABELS, tz=dialogue.timezone,
                               dialogue_title=dialogue.title, dialogue_id=dialogue_id), (error.status if error else 200)


# -- the JSON API: reads, exports, sending invitations ----------------------------------------------
@api_bp.get("/dialogues/<int:dialogue_id>/applications")
def listApplications(dialogue_id: int):  # noqa: N802 - the endpoint is the operationId
    principal = api_principal()
    _require_reader(principal, dialogue_id)
    values = {k: v for k, v in request.args.items() if v != ""}
    try:
        query = acc.ListApplicationsQuery.model_validate(values)
    except ValidationError as exc:
        raise InvalidPayload("Some filters are invalid.", validation_details(exc)) from None
    with service().db.session() as s:
        items = acc.list_applications(s, dialogue_id, query)
    return jsonify({"ok": True, "applications": items, "total": len(items)})


def _csv(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.get("/dialogues/<int:dialogue_id>/participants/export")
def exportParticipants(dialogue_id: int):  # noqa: N802
    principal = api_principal()
    _require_reader(principal, dialogue_id)
    format_name = request.args.get("format", "csv")
    if format_name not in ("csv", "json"):
        raise NotFound(f"Unknown export format {format_name[:40]!r}.", {"formats": ["csv", "json"]})
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        if format_name == "json":
            rows = acc.participant_rows(s, dialogue)
            for row in rows:
                for key in ("invited_at", "delivered_at", "checked_in_at", "connected_at"):
                    row[key] = row[key].isoformat() if row[key] else None
            return jsonify({"ok": True, "participants": rows})
        return _csv(acc.participants_csv(s, dialogue), f"participants-dialogue-{dialogue_id}.csv")


@api_bp.get("/dialogues/<int:dialogue_id>/travel-support/export")
def exportTravelSupport(dialogue_id: int):  # noqa: N802
    principal = api_principal()
    _require_reader(principal, dialogue_id)
    with service().db.session() as s:
        return _csv(acc.travel_csv(s, s.get(Dialogue, dialogue_id)), f"travel-support-dialogue-{dialogue_id}.csv")


class SendBody(Payload):
    participant_ids: list[int] | None = Field(default=None, max_length=2000,
                                              description="Default: everyone without a link yet.")
    delivery: Literal["auto", "email", "download"] = "auto"


@api_bp.post("/dialogues/<int:dialogue_id>/invitations/send")
@sized(largest_json(SendBody.model_json_schema()))
def sendInvitations(dialogue_id: int):  # noqa: N802
    principal = api_principal()
    body = json_object()
    storable.check(body)
    try:
        sending = SendBody.model_validate(body)
    except ValidationError as exc:
        raise InvalidPayload("Some fields are missing or invalid.", validation_details(exc)) from None
    ids, method = sending.participant_ids, sending.delivery
    if method == "auto":
        method = "email" if SmtpSettings.from_config(current_app.config) else "download"
    report = deliver(principal, dialogue_id, ids, method)
    if report["zip"] is not None:
        return zip_response(report["zip"], dialogue_id)
    return jsonify({"ok": True, "sent": report["sent"], "count": report["count"],
                    "failed": [{"participant_id": p, "name": report["names"][p], "reason": r}
                               for p, r in report["failed"].items()],
                    "message": report["message"]})


def openapi_paths(errors, path_params) -> dict[str, Any]:
    """The operations above, for /api/v1/openapi.json."""
    params = path_params("/dialogues/{dialogue_id}")
    query = [{"name": name, "in": "query", "required": False, "schema": schema, **(
        {"description": schema["description"]} if "description" in schema else {})}
             for name, schema in acc.ListApplicationsQuery.model_json_schema()["properties"].items()]
    csv_ok = {"200": {"description": "CSV (UTF-8 with BOM)", "content": {"text/csv": {"schema": {"type": "string"}}}}}
    return {
        "/dialogues/{dialogue_id}/applications": {"get": {
            "operationId": "listApplications",
            "summary": "The applications to a dialogue, filtered and sorted (secretariat only: personal data).",
            "parameters": params + query,
            "responses": {"200": {"description": "The applications", "content": {"application/json": {"schema": {
                "type": "object", "required": ["ok", "applications", "total"],
                "properties": {"ok": {"type": "boolean"}, "total": {"type": "integer"},
                               "applications": {"type": "array", "items": {"type": "object"}}}}}}},
                **errors(401, 403, 404, 422)}}},
        "/dialogues/{dialogue_id}/participants/export": {"get": {
            "operationId": "exportParticipants",
            "summary": "Every participant with mode, invitation, check-in and travel support (CSV or JSON; "
                       "secretariat only).",
            "parameters": params + [{"name": "format", "in": "query", "required": False,
                                     "schema": {"type": "string", "enum": ["csv", "json"], "default": "csv"}}],
            "responses": {"200": {"description": "CSV (UTF-8 with BOM), or JSON with format=json", "content": {
                **csv_ok["200"]["content"], "application/json": {"schema": {
                    "type": "object", "required": ["ok", "participants"],
                    "properties": {"ok": {"type": "boolean"},
                                   "participants": {"type": "array", "items": {"type": "object"}}}}}}},
                **errors(401, 403, 404)}}},
        "/dialogues/{dialogue_id}/travel-support/export": {"get": {
            "operationId": "exportTravelSupport",
            "summary": "The organizations interested in travel support and the decisions (CSV; secretariat only).",
            "parameters": params, "responses": {**csv_ok, **errors(401, 403, 404)}}},
        "/dialogues/{dialogue_id}/invitations/send": {"post": {
            "operationId": "sendInvitations",
            "summary": "Issue invitation links and deliver them: by e-mail through the configured SMTP server, "
                       "or as a ZIP of one .eml per invitation plus invitations.csv.",
            "parameters": params,
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": SendBody.model_json_schema()}}},
            "responses": {"200": {"description": "A report (e-mail) or the ZIP (download). Whoever was not "
                                                 "reached keeps the link they had.", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "ok": {"type": "boolean"}, "count": {"type": "integer", "description": "Links issued."},
                    "sent": {"type": "array", "items": {"type": "integer"}, "description": "Participants reached."},
                    "failed": {"type": "array", "description": "Participants not reached, and why.", "items": {
                        "type": "object", "properties": {"participant_id": {"type": "integer"},
                                                         "name": {"type": "string"}, "reason": {"type": "string"}}}},
                    "message": {"type": "string"}}}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                **errors(401, 403, 404, 409, 422)}}},
    }


EXTRA_PATHS.append(openapi_paths)
