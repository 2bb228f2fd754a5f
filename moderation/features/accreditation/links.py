"""Invitation links: issuing each participant's personal link and recording
how it was delivered (the old link is revoked only once the new one has
reached them). The e-mails and files themselves are written by
``invitations``; the web side sends them (``delivery``).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import select

from moderation.core.auth import hash_token, new_token
from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, InvalidPayload, NotFound
from moderation.features.access.commands import participant_view
from moderation.features.accreditation.applications import SECRETARIAT
from moderation.features.accreditation.travel import travel_eligible
from moderation.models import Application as ApplicationRow
from moderation.models import Credential, Participant, Role


class IssuePayload(DialoguePayload):
    participant_ids: list[int] | None = Field(
        default=None, max_length=2000,
        description="Whom to invite; an invited participant's old link is revoked. Default: every participant "
                    "who has no link yet (approved nominees, delegates).")
    revoke_old: bool = Field(
        default=True, description="False: each participant's current link stays valid until "
                                  "invitations.record_delivery reports the new one delivered (and withdraws the "
                                  "new one if it could not be delivered), so a failed delivery changes nothing "
                                  "for them. The secretariat's pages and invitations/send work this way.")


def live_links(session, participant_id: int) -> list[Credential]:
    return list(session.scalars(select(Credential).where(
        Credential.participant_id == participant_id, Credential.kind == "link",
        Credential.role == Role.PARTICIPANT.value, Credential.revoked_at.is_(None))))


def invitation_view(session, participant: Participant, token: str, credential_id: int) -> dict[str, Any]:
    """What an invitation says: for the e-mail or file written from it."""
    view = participant_view(participant, with_personal=True)
    application = session.get(ApplicationRow, participant.application_id) if participant.application_id else None
    return {**view, "participant_id": participant.id, "credential_id": credential_id, "token": token,
            "link_path": f"/l/{token}", "travel_eligible": bool(application and travel_eligible(application))}


@command("invitations.issue", payload=IssuePayload, roles=SECRETARIAT, operation_id="issueInvitations",
         http_path="/dialogues/{dialogue_id}/invitations", secret=("token", "link_path"))
def issue_invitations(ctx: Context, p: IssuePayload):
    """Issue personal links for invitations (re-issuing revokes the old link); the tokens are in the answer once."""
    dialogue = ctx.require_dialogue()
    if dialogue.personal_data_deleted_at is not None:
        raise Conflict("The personal data of this dialogue was deleted.")
    if p.participant_ids is None:
        candidates = ctx.session.scalars(select(Participant).where(
            Participant.dialogue_id == dialogue.id, Participant.invited_at.is_(None)).order_by(Participant.id))
        targets = [x for x in candidates if not live_links(ctx.session, x.id)]
    else:
        by_id = {x.id: x for x in ctx.session.scalars(select(Participant).where(
            Participant.id.in_(set(p.participant_ids)), Participant.dialogue_id == dialogue.id))}
        missing = [i for i in p.participant_ids if i not in by_id]
        if missing:
            raise NotFound(f"Participant {missing[0]} is not registered for this dialogue.",
                               [{"field": "participant_ids", "message": f"unknown participant {missing[0]}"}])
        targets = [by_id[i] for i in dict.fromkeys(p.participant_ids)]
    invitations, revoked = [], []
    for participant in targets:
        if p.revoke_old:
            revoked += _revoke_links(ctx, participant.id)
        token = new_token()
        credential = Credential(token_hash=hash_token(token), kind="link", role=Role.PARTICIPANT.value,
                                dialogue_id=dialogue.id, participant_id=participant.id, label=participant.name,
                                created_at=ctx.now)
        ctx.session.add(credential)
        ctx.session.flush()
        if p.revoke_old:
            _invited(participant, ctx.now)
        invitations.append(invitation_view(ctx.session, participant, token, credential.id))
    if invitations:
        ctx.touch("participants")
    return {"invitations": invitations, "revoked": revoked}


def _revoke_links(ctx: Context, participant_id: int, older_than: int | None = None) -> list[int]:
    """Revoke a participant's live links (those issued before the link
    ``older_than``, when given); their connections are closed."""
    revoked = []
    for credential in live_links(ctx.session, participant_id):
        if older_than is None or credential.id < older_than:
            credential.revoked_at = ctx.now
            revoked.append(credential.id)
            ctx.after_commit("disconnect_credential", credential.id)
    return revoked


def _invited(participant: Participant, now: dt.datetime, method: str = "") -> None:
    participant.invited_at = now
    participant.invitation_delivery = method
    participant.invitation_delivered_at = now if method else None


class DeliveryPayload(DialoguePayload):
    participant_ids: list[int] = Field(default_factory=list, max_length=2000,
                                       description="Participants whose invitation (from invitations.issue) was "
                                                   "delivered.")
    method: Literal["email", "download"]
    delivered_credential_ids: list[int] = Field(
        default_factory=list, max_length=2000,
        description="Links issued with revoke_old false that were delivered: their participants' older links are "
                    "revoked now.")
    undelivered_credential_ids: list[int] = Field(
        default_factory=list, max_length=2000,
        description="Links issued with revoke_old false that could not be delivered: withdrawn; their participants "
                    "keep the links they had.")


def _issued_links(ctx: Context, ids: list[int], field: str) -> list[Credential]:
    rows = list(ctx.session.scalars(select(Credential).where(Credential.id.in_(set(ids)))))
    if len(rows) != len(set(ids)) or any(
            c.dialogue_id != ctx.require_dialogue().id or c.participant_id is None or c.kind != "link" for c in rows):
        raise NotFound("Some of these links are not invitations to this dialogue.",
                           [{"field": field, "message": "unknown invitation link"}])
    return rows


@command("invitations.record_delivery", payload=DeliveryPayload, roles=SECRETARIAT,
         operation_id="recordInvitationDelivery", http_path="/dialogues/{dialogue_id}/invitations/delivered")
def record_delivery(ctx: Context, p: DeliveryPayload):
    """Record which invitations were sent by e-mail or downloaded as files, and withdraw those that were not."""
    dialogue = ctx.require_dialogue()
    if not (p.participant_ids or p.delivered_credential_ids or p.undelivered_credential_ids):
        raise InvalidPayload("Say which invitations were delivered.",
                           [{"field": "participant_ids", "message": "give participant_ids or credential ids"}])
    rows = list(ctx.session.scalars(select(Participant).where(
        Participant.id.in_(set(p.participant_ids)), Participant.dialogue_id == dialogue.id)))
    if len(rows) != len(set(p.participant_ids)):
        raise NotFound("Some of these participants are not registered for this dialogue.",
                           [{"field": "participant_ids", "message": "unknown participant"}])
    delivered = _issued_links(ctx, p.delivered_credential_ids, "delivered_credential_ids")
    undelivered = _issued_links(ctx, p.undelivered_credential_ids, "undelivered_credential_ids")
    for participant in rows:  # invited by invitations.issue already
        participant.invitation_delivery = p.method
        participant.invitation_delivered_at = ctx.now
    revoked = []
    for credential in delivered:
        revoked += _revoke_links(ctx, credential.participant_id, older_than=credential.id)
        participant = ctx.session.get(Participant, credential.participant_id)
        _invited(participant, ctx.now, p.method)
        rows.append(participant)
    withdrawn = []
    for credential in undelivered:
        if credential.revoked_at is None:
            credential.revoked_at = ctx.now
            withdrawn.append(credential.id)
            ctx.after_commit("disconnect_credential", credential.id)
    ctx.touch("participants")
    return {"participant_ids": sorted({x.id for x in rows}), "method": p.method, "revoked": sorted(revoked),
            "withdrawn": withdrawn}
