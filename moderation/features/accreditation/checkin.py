"""On the day: checking people in at the door, recording online
connections, and the attendance section (counts only) every screen sees.
"""
from __future__ import annotations

import re
import weakref
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select

from moderation.core.auth import hash_token
from moderation.core.commands import Context, DialoguePayload, command
from moderation.core.errors import Conflict, Forbidden, InvalidPayload, NotFound
from moderation.core.storable import SingleLine
from moderation.core.timers import ms
from moderation.features.access.commands import participant_view
from moderation.features.accreditation.applications import SECRETARIAT
from moderation.models import Channel, Credential, Dialogue, Participant, Role


class CheckInPayload(DialoguePayload):
    token: Annotated[SingleLine, Field(max_length=2000, description="The scanned QR code: the personal link or its "
                                                            "token.")] | None = None
    participant_id: int | None = Field(default=None, description="Or the participant found by name.")


def token_from_scan(scanned: str) -> str:
    """A scanned QR code is the whole link (…/l/<token>); a USB scanner
    types it, a person may paste the token alone."""
    text = scanned.strip()
    if "/l/" in text:
        text = text.rsplit("/l/", 1)[1]
    return re.split(r"[?#/\s]", text, maxsplit=1)[0]


def _scanned_participant(ctx: Context, scanned: str) -> Participant:
    dialogue = ctx.require_dialogue()
    token = token_from_scan(scanned)
    credential = ctx.session.scalar(select(Credential).where(Credential.token_hash == hash_token(token))) \
        if token else None
    if credential is None or credential.participant_id is None or credential.kind != "link":
        raise NotFound("This code is not an invitation: it may be forged or mistyped. Search the "
                                        "name instead.", [{"field": "token", "message": "not an invitation"}])
    if credential.dialogue_id != dialogue.id:
        other = ctx.session.get(Dialogue, credential.dialogue_id) if credential.dialogue_id else None
        raise Forbidden(f"This invitation is for {other.title if other else 'another dialogue'}, "
                                        "not for this one.", [{"field": "token", "message": "another dialogue"}])
    if credential.revoked_at is not None:
        raise Forbidden("This invitation link was revoked (a newer one may have been sent). "
                                        "Ask for the newer invitation, or search the name.",
                           [{"field": "token", "message": "revoked"}])
    return ctx.session.get(Participant, credential.participant_id)


def in_room_count(session, dialogue_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Participant).where(
        Participant.dialogue_id == dialogue_id, Participant.checked_in_at.is_not(None))) or 0


def _participant(ctx: Context, participant_id: int) -> Participant:
    participant = ctx.session.get(Participant, participant_id)
    if participant is None or participant.dialogue_id != ctx.require_dialogue().id:
        raise NotFound(f"Participant {participant_id} is not registered for this dialogue.",
                           [{"field": "participant_id", "message": "unknown participant"}])
    return participant


@command("participants.check_in", payload=CheckInPayload, roles=SECRETARIAT, operation_id="checkIn",
         http_path="/dialogues/{dialogue_id}/check-in", redact=("token",))
def check_in(ctx: Context, p: CheckInPayload):
    """Check a participant in at the door, by the scanned QR code or by id after a name search."""
    if (p.token is None) == (p.participant_id is None):
        raise InvalidPayload("Scan a code or choose a participant.",
                           [{"field": "token", "message": "give the token or participant_id"}])
    participant = _scanned_participant(ctx, p.token) if p.token is not None else _participant(ctx, p.participant_id)
    if participant.channel != Channel.ROOM.value:
        raise Conflict(f"{participant.name} is registered to take part online. Switch them to in "
                                       "person first (one in-person participant plus one alternate per "
                                       "organization).", [{"field": "channel", "message": "online"}])
    already = participant.checked_in_at is not None
    if not already:
        participant.checked_in_at = ctx.now
        participant.checked_in_by = ctx.actor.label[:200]
        ctx.touch("attendance", "participants")
    return {"participant": participant_view(participant), "already": already,
            "checked_in_at": ms(participant.checked_in_at),
            "in_room": in_room_count(ctx.session, participant.dialogue_id)}


class ParticipantPayload(DialoguePayload):
    participant_id: int


@command("participants.cancel_check_in", payload=ParticipantPayload, roles=SECRETARIAT,
         operation_id="cancelCheckIn", http_path="/dialogues/{dialogue_id}/check-in/cancel")
def cancel_check_in(ctx: Context, p: ParticipantPayload):
    """Undo a check-in made by mistake."""
    participant = _participant(ctx, p.participant_id)
    if participant.checked_in_at is not None:
        participant.checked_in_at = None
        participant.checked_in_by = ""
        ctx.touch("attendance", "participants")
    return {"participant_id": participant.id, "in_room": in_room_count(ctx.session, participant.dialogue_id)}


class ConnectionsPayload(DialoguePayload):
    participant_ids: list[int] = Field(min_length=1, max_length=5000)


@command("attendance.record_connections", payload=ConnectionsPayload, roles=SECRETARIAT,
         operation_id="recordConnections", http_path="/dialogues/{dialogue_id}/attendance/connections")
def record_connections(ctx: Context, p: ConnectionsPayload):
    """Record participants' first connection (online attendance); sent by the server itself, in batches."""
    rows = ctx.session.scalars(select(Participant).where(
        Participant.id.in_(set(p.participant_ids)), Participant.dialogue_id == ctx.require_dialogue().id,
        Participant.connected_at.is_(None)))
    recorded = []
    for participant in rows:
        participant.connected_at = ctx.now
        recorded.append(participant.id)
    return {"recorded": sorted(recorded)}


# -- the attendance section ----------------------------------------------------------------
# Who is connected comes from the realtime layer: each app registers its
# source of connections under its database engine, so that sections built
# anywhere (a command, a snapshot) find it. With several processes the source
# counts every process's connections through Redis (moderation/features/accreditation/presence.py).
_CONNECTIONS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def register_connections(engine, source) -> None:
    """``source.participant_ids(dialogue_id)``: the participants connected
    now (presence.py); or ``source.connections``, a mapping of Socket.IO ids
    to connections with ``dialogue_id``, ``role`` and ``participant_id``."""
    _CONNECTIONS[engine] = source


def connected_participants(session, dialogue_id: int) -> set[int] | None:
    source = _CONNECTIONS.get(session.get_bind())
    if source is None:
        return None
    if hasattr(source, "participant_ids"):
        return source.participant_ids(dialogue_id)
    return participants_among(source.connections, dialogue_id)


def participants_among(connections: dict[str, Any], dialogue_id: int) -> set[int]:
    """The participants of ``dialogue_id`` among ``connections``."""
    return {c.participant_id for c in list(connections.values())
            if c.dialogue_id == dialogue_id and c.participant_id is not None and c.role is Role.PARTICIPANT}


def checked_in_ids(session, dialogue_id: int) -> frozenset[int]:
    return frozenset(session.scalars(select(Participant.id).where(
        Participant.dialogue_id == dialogue_id, Participant.checked_in_at.is_not(None))))


def online_now(session, dialogue_id: int, checked_in: frozenset[int] | None = None) -> int | None:
    """Participants connected now who are not checked in at the door: a
    participant in the room following on a phone counts in the room.
    ``checked_in`` (``checked_in_ids``, e.g. kept for the version) spares a
    query whose size grows with the room: snapshots ask this on every
    connection."""
    ids = connected_participants(session, dialogue_id)
    if ids is None:
        return None
    if not ids:
        return 0
    if checked_in is not None:
        return len(ids - checked_in)
    return session.scalar(select(func.count()).select_from(Participant).where(
        Participant.id.in_(ids), Participant.dialogue_id == dialogue_id, Participant.checked_in_at.is_(None))) or 0


def attendance_section(session, dialogue: Dialogue, now, plugins, role=None) -> dict[str, Any]:
    """Counts only (no names): every screen may show them."""
    return {"in_room": in_room_count(session, dialogue.id), "online": online_now(session, dialogue.id)}
