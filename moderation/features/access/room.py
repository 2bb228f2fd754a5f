"""The in-person rule: one participant in the room plus one alternate per
organization; everyone else takes part online. Delegations of States
parties and intergovernmental organizations are not limited.

Every way into the room goes through ``enter_room``: registering a
participant, joining with the code, switching channel, approving an
application, adding or importing delegates. An organization is its name
however it is typed (``organization_key``) and whatever category it was
given, so typing it differently, or calling it a State party, does not
open more places. The first
person in takes the in-person place, the second the alternate's (an
approved nominee named as the alternate takes that place first); a third is
refused with ``conflict``. Leaving the room frees the place; an alternate
stays the alternate.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select

from moderation.core.errors import Conflict
from moderation.models import Category, Channel, Organization, Participant

MAX_IN_PERSON = 1    # per organization and dialogue ...
MAX_ALTERNATES = 1   # ... plus one alternate
UNLIMITED_CATEGORIES = frozenset({Category.STATE_PARTY.value, Category.IGO.value})


def organization_key(name: str) -> str:
    """The same organization however it is typed: case, punctuation and
    spacing are ignored, and so are characters no screen shows (format
    characters such as a zero-width space or a soft hyphen inside a word);
    accented letters are kept ("Victims' Voice e.V." == "victims voice e v",
    but "Área" is not "Area")."""
    text = "".join(char for char in unicodedata.normalize("NFKC", name) if unicodedata.category(char) != "Cf")
    text = text.casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())[:320]


def limited(organization: Organization | None) -> bool:
    return organization is not None and organization.category not in UNLIMITED_CATEGORIES


def _same_name(session, participant: Participant, *, in_room: bool, limited_only: bool) -> list[int]:
    """The ids of the organizations of ``participant``'s dialogue (of
    participants in the room, or of anyone) named as its organization
    however it is typed, whatever category they were given (or limited
    ones only). One row per organization: a long delegate list stays fast."""
    statement = (select(Organization.id, Organization.name)
                 .join(Participant, Participant.organization_id == Organization.id)
                 .where(Participant.dialogue_id == participant.dialogue_id, Participant.id != participant.id)
                 .distinct())
    if in_room:
        statement = statement.where(Participant.channel == Channel.ROOM.value)
    if limited_only:
        statement = statement.where(Organization.category.not_in(UNLIMITED_CATEGORIES))
    key = organization_key(participant.organization.name)
    return [org_id for org_id, name in session.execute(statement) if organization_key(name) == key]


def in_the_room_with(session, participant: Participant) -> list[Participant]:
    """The others of ``participant``'s organization in the room of its
    dialogue, whatever category their organization was given."""
    ids = _same_name(session, participant, in_room=True, limited_only=False)
    if not ids:
        return []
    return list(session.scalars(select(Participant).where(
        Participant.dialogue_id == participant.dialogue_id, Participant.channel == Channel.ROOM.value,
        Participant.organization_id.in_(ids), Participant.id != participant.id).order_by(Participant.id)))


def enter_room(session, participant: Participant, *, as_alternate: bool = False) -> None:
    """Put ``participant`` (flushed, with its organization) in the room, in
    the place left for its organization; ``as_alternate`` asks for the
    alternate's place first. Raises ``conflict`` naming who holds the places.

    A State party's or IGO's delegation is not limited, unless its name is
    that of a limited organization of this dialogue: calling an
    organization a State party does not open more places for it."""
    organization = participant.organization if participant.organization_id else None
    if not limited(organization):
        if organization is None or not _same_name(session, participant, in_room=False, limited_only=True):
            participant.channel, participant.alternate = Channel.ROOM.value, False
            return
    others = in_the_room_with(session, participant)
    main = sum(not o.alternate for o in others) < MAX_IN_PERSON
    alternate = sum(o.alternate for o in others) < MAX_ALTERNATES
    # Delegates of its name who came in unlimited hold places too.
    if not (main or alternate) or len(others) >= MAX_IN_PERSON + MAX_ALTERNATES:
        names = " and ".join(o.name for o in others[:MAX_IN_PERSON + MAX_ALTERNATES])
        raise Conflict(f"{organization.name} already has {names} in the room: one in-person "
                                       "participant plus one alternate per organization. Switch one of them "
                                       "online first.",
                           [{"field": "channel", "message": "no in-person place left for this organization"}])
    participant.channel = Channel.ROOM.value
    participant.alternate = alternate and (as_alternate or not main)


def leave_room(participant: Participant) -> None:
    """Online from now on: the place in the room is free again."""
    participant.channel, participant.alternate = Channel.ONLINE.value, False
