"""Delivering what only exists in clear once: the invitation links (sent by
e-mail or packed as a ZIP of drafts) and the receipt with an
application's edit link. Shared by the pages and the API.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, g, has_request_context, request, url_for
from sqlalchemy import select

from moderation.core.auth import Principal
from moderation.core.errors import Conflict
from moderation.features.accreditation.applications import deadline_text, edit_path
from moderation.features.accreditation.invitations import (
    SmtpSettings,
    header_text,
    invitations_zip,
    letter,
    receipt,
    send,
    send_messages,
)
from moderation.features.accreditation.web_shared import base_url, dialogue_values, utc_now
from moderation.models import Application as ApplicationRow
from moderation.models import Dialogue
from moderation.web.principal import service

log = logging.getLogger(__name__)


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
            rows = list(s.scalars(select(ApplicationRow).where(ApplicationRow.id.in_(ids))
                                  .order_by(ApplicationRow.id)))
            listed = [(s.get(Dialogue, a.dialogue_id).title, a.id, deadline_text(s.get(Dialogue, a.dialogue_id)))
                      for a in rows]
            first = rows[0]
            contact, organization = (first.contact_name, first.contact_email), first.organization_name
        token = outcome.result.get("edit_token")
        base = app.config.get("PUBLIC_URL") or (request.host_url if has_request_context() else "")
        link = base.rstrip("/") + edit_path(token) if token and base else None
        sender = smtp.sender or (_sender(smtp) if has_request_context() else None)
        if sender is None:
            return "no sender address (MODERATION_SMTP_FROM)"
        try:
            message = receipt(contact, organization, listed, sender, edit_link=link,
                              changed=outcome.command == "applications.update")
        except ValueError as exc:
            return str(exc)
        return send_messages(smtp, {"receipt": message})["receipt"]


# -- invitations: issue, then e-mail or files ----------------------------------------------------
def _dialogue_text(dialogue_id: int) -> dict[str, Any]:
    return {**dialogue_values(dialogue_id),
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
    stamp = utc_now().strftime("%Y%m%d-%H%M")
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="invitations-dialogue-{dialogue_id}-{stamp}.zip"'
    response.headers["Cache-Control"] = "no-store"   # personal links
    return response
