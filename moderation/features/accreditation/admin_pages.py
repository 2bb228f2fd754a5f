"""The secretariat's pages: applications (window, decisions), participants
(invitations, delegates, channel, travel support, privacy) and check-in
at the door. Each form posts one command and comes back to its page.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from pydantic import ValidationError
from sqlalchemy import select

from moderation.core.errors import CommandError
from moderation.features.accreditation.applications import (
    ORGANIZATION_CATEGORIES,
    application_window,
    deadline_text,
    local_deadline,
)
from moderation.features.accreditation.delegates import DELEGATE_CATEGORIES, ImportPayload
from moderation.features.accreditation.delivery import deliver, zip_response
from moderation.features.accreditation.exports import ListApplicationsQuery, application_view
from moderation.features.accreditation.invitations import SmtpSettings
from moderation.features.accreditation.travel import travel_eligible
from moderation.features.accreditation.web_shared import base_url, bp, dispatch, friendly, require_secretariat, utc_now
from moderation.features.dialogues.commands import deadline_warnings
from moderation.models import Application as ApplicationRow
from moderation.models import ApplicationStatus, Dialogue, Role
from moderation.web.bodies import largest_json, sized
from moderation.web.principal import service
from moderation.web.redirects import with_query


# -- the secretariat: applications -------------------------------------------------------------
def _query(args) -> tuple[ListApplicationsQuery, str | None]:
    values = {k: v for k, v in args.items() if v != "" and k in ListApplicationsQuery.model_fields}
    for key in ("ecosoc", "grassroots", "in_person", "duplicate"):
        if key in values:
            values[key] = values[key] in ("1", "true", "yes")
    try:
        return ListApplicationsQuery.model_validate(values), None
    except ValidationError:
        return ListApplicationsQuery(), "Some filters were not understood and were reset."


def _nav(dialogue: Dialogue, current: str) -> dict[str, Any]:
    return {"dialogue": dialogue, "current": current, "dialogue_id": dialogue.id}


@bp.get("/admin/d/<int:dialogue_id>/applications")
def applications_page(dialogue_id: int):
    principal = require_secretariat(dialogue_id)
    query, problem = _query(request.args)
    items = service().read(principal, dialogue_id, "accreditation.applications", query)
    counts = {status.value: 0 for status in ApplicationStatus}
    for a in service().read(principal, dialogue_id, "accreditation.applications", ListApplicationsQuery()):
        counts[a["status"]] += 1
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        local = local_deadline(dialogue)
        window = {"open": dialogue.applications_open, "accepting": application_window(dialogue, utc_now())[0],
                  "deadline": local.strftime("%Y-%m-%dT%H:%M") if local else "",
                  "timezone": dialogue.application_timezone, "text": deadline_text(dialogue),
                  "deleted": dialogue.personal_data_deleted_at is not None,
                  "warnings": {w["field"]: w["message"] for w in deadline_warnings(dialogue)}}
        return render_template("accreditation/applications.html", items=items, query=query, counts=counts, window=window,
                               problem=problem, public_url=base_url() + url_for("accreditation.apply",
                                                                                dialogue_id=dialogue_id),
                               smtp=SmtpSettings.from_config(current_app.config),
                               org_categories=ORGANIZATION_CATEGORIES, **_nav(dialogue, "applications"))


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


@bp.post("/admin/d/<int:dialogue_id>/applications/settings")
def applications_settings(dialogue_id: int):
    principal = require_secretariat(dialogue_id)
    deadline = request.form.get("deadline", "").strip() or None
    try:
        result = dispatch(principal, "applications.configure", {
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
    principal = require_secretariat(dialogue_id)
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
        result = dispatch(principal, "applications.decide", {
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


@bp.post("/admin/d/<int:dialogue_id>/invitations")
def invitations_send(dialogue_id: int):
    principal = require_secretariat(dialogue_id)
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
    principal = require_secretariat(dialogue_id)
    rows = service().read(principal, dialogue_id, "accreditation.participants", {"format": "json"})
    with service().db.session() as s:
        dialogue = s.get(Dialogue, dialogue_id)
        travel = [application_view(a) for a in s.scalars(select(ApplicationRow).where(
            ApplicationRow.dialogue_id == dialogue_id,
            ApplicationRow.status == ApplicationStatus.APPROVED.value)
            .order_by(ApplicationRow.organization_key))
            if travel_eligible(a)]
        return render_template("accreditation/participants_admin.html", rows=rows, travel=travel,
                               smtp=SmtpSettings.from_config(current_app.config),
                               pending_download=session.get("pending_download") or [],
                               published=dialogue.summary_published_at, deleted=dialogue.personal_data_deleted_at,
                               delegate_categories=DELEGATE_CATEGORIES, tz=dialogue.timezone,
                               **_nav(dialogue, "participants"))


def _form_command(dialogue_id: int, name: str, payload: dict, ok: str, page: str = "participants"):
    principal = require_secretariat(dialogue_id)
    try:
        result = dispatch(principal, name, {"dialogue_id": dialogue_id, **payload})
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
@sized(largest_json(ImportPayload.model_json_schema()))  # the file or pasted text, as large as the API takes
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
        require_secretariat(dialogue_id)
        flash("Choose a CSV file (or paste the rows) first.", "error")
        return _back(dialogue_id, "participants")
    principal = require_secretariat(dialogue_id)
    try:
        result = dispatch(principal, "delegates.import_csv", {"dialogue_id": dialogue_id, "csv": text})
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
        require_secretariat(dialogue_id)
        flash("Tick the box to confirm: the deletion cannot be undone.", "error")
        return _back(dialogue_id, "participants")
    return _form_command(dialogue_id, "privacy.delete_personal_data", {"confirm": True},
                         "Personal data deleted: {participants} participants and {applications} applications "
                         "anonymized; the counts are kept.")


# -- check-in ----------------------------------------------------------------------------------------
def search_participants(rows: list[dict[str, Any]], text: str, limit: int = 20) -> list[dict[str, Any]]:
    needle = text.strip().casefold()
    if not needle:
        return []
    return [r for r in rows if needle in f"{r['name']} {r['organization']} {r.get('email', '')}".casefold()][:limit]


@bp.route("/admin/d/<int:dialogue_id>/checkin", methods=["GET", "POST"])
def checkin_page(dialogue_id: int):
    principal = require_secretariat(dialogue_id)
    result, error, query = None, None, request.values.get("q", "")
    if request.method == "POST":
        payload: dict[str, Any] = {"dialogue_id": dialogue_id}
        number = form_number(request.form.get("participant_id", ""))
        if number is not None:
            payload["participant_id"] = number
        else:
            payload["token"] = request.form.get("token", "")
        try:
            result = dispatch(principal, "participants.check_in", payload)
        except CommandError as exc:
            error = exc
    snapshot = service().snapshot(principal, dialogue_id, Role.SECRETARIAT)
    rows = service().read(principal, dialogue_id, "accreditation.participants", {"format": "json"})
    recent = sorted((r for r in rows if r["checked_in_at"]), key=lambda r: r["checked_in_at"], reverse=True)[:8]
    return render_template("accreditation/checkin.html", snapshot=snapshot, sections=snapshot["sections"],
                           dialogue_id=dialogue_id, role="secretariat", result=result, error=error, query=query,
                           matches=search_participants(rows, query), recent=recent,
                           tz=snapshot["sections"]["dialogue"]["timezone"]), (error.status if error else 200)
