"""Privacy: once the summary is published, the secretariat deletes the
dialogue's personal data (names, addresses, notes, links), keeping
anonymous counts.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field
from sqlalchemy import select

from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict
from moderation.features.accreditation.applications import SECRETARIAT
from moderation.models import Application as ApplicationRow
from moderation.models import AuditEntry, Credential, IdempotencyRecord, Input, Participant, Role, SpeakerEntry

DELETED = "(deleted)"


# Commands whose audit payload or stored answer may hold names, addresses or
# personal notes.
PERSONAL_COMMANDS = ("participant.register", "participant.join_with_code", "delegates.add",
                     "delegates.import_csv", "invitations.issue", "access.issue_link", "participants.check_in",
                     "travel.request", "travel.decide")


class DeletePayload(DialoguePayload):
    confirm: Literal[True] = Field(description="Must be true: the deletion cannot be undone.")


@command("privacy.delete_personal_data", payload=DeletePayload, roles=SECRETARIAT,
         operation_id="deletePersonalData", http_path="/dialogues/{dialogue_id}/personal-data/delete")
def delete_personal_data(ctx: Context, p: DeletePayload):
    """Delete the dialogue's personal data once the summary is published, keeping anonymous counts."""
    dialogue = ctx.require_dialogue()
    if dialogue.summary_published_at is None:
        raise Conflict("Publish the summary first: the personal data is deleted after it, so "
                                       "that the summary can still be checked against who took part.")
    session = ctx.session
    participants = list(session.scalars(select(Participant).where(Participant.dialogue_id == dialogue.id)))
    for participant in participants:
        participant.name, participant.email, participant.checked_in_by = DELETED, "", ""
    applications = list(session.scalars(select(ApplicationRow).where(ApplicationRow.dialogue_id == dialogue.id)))
    for application in applications:
        application.edit_token_hash = None   # its edit link opens nothing any more
        application.contact_name = application.contact_email = application.decided_by = ""
        application.travel_request_note = application.travel_decision_note = ""
        for nominee in application.nominees:
            nominee.name, nominee.email = DELETED, ""
    for entry in session.scalars(select(SpeakerEntry).where(SpeakerEntry.dialogue_id == dialogue.id)):
        entry.name = DELETED
    for inp in session.scalars(select(Input).where(Input.dialogue_id == dialogue.id)):
        inp.author_name = ""
    revoked = []
    for credential in session.scalars(select(Credential).where(
            Credential.dialogue_id == dialogue.id, Credential.participant_id.is_not(None))):
        credential.label = ""
        if credential.revoked_at is None:
            credential.revoked_at = ctx.now
            revoked.append(credential.id)
            ctx.after_commit("disconnect_credential", credential.id)
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.dialogue_id == dialogue.id)):
        if entry.role == Role.PARTICIPANT.value:
            entry.actor = Role.PARTICIPANT.value
        if entry.command in PERSONAL_COMMANDS:
            entry.payload = {"personal_data": "deleted"}
    for record in session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.command.in_(PERSONAL_COMMANDS))):
        if isinstance(record.response, dict) and record.response.get("dialogue_id") == dialogue.id:
            session.delete(record)
    dialogue.personal_data_deleted_at = ctx.now
    dialogue.applications_open = False
    ctx.touch("participants")
    return {"participants": len(participants), "applications": len(applications), "revoked": len(revoked)}
