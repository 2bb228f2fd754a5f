"""What each role sees of a dialogue, as named sections.

A snapshot is every section a role may see plus the dialogue's version. A
change broadcast carries the new version and the sections the command
touched, rebuilt for each role; a client replaces those sections and so never
has to merge. Later features add their sections here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session

from .access import participant_view, participants_section
from .agenda import agenda_section, ms
from .dialogues import dialogue_section
from .models import Dialogue, Participant, Role, utcnow
from .queue import queue_section, queue_staff_section, statistics_section

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR})


@dataclass(frozen=True)
class Section:
    """A named part of the state: who sees it, how it is built, and whether
    it differs between the roles that see it."""

    name: str
    roles: frozenset[Role]
    build: Callable[..., Any]
    per_role: bool = False


SECTIONS: dict[str, Section] = {}


def section(name: str, roles: frozenset[Role], *, per_role: bool = False):
    def register(build):
        SECTIONS[name] = Section(name, roles, build, per_role)
        return build
    return register


section("dialogue", ALL_ROLES)(dialogue_section)
section("agenda", ALL_ROLES)(agenda_section)
section("queue", ALL_ROLES)(queue_section)
section("queue_staff", STAFF)(queue_staff_section)
section("statistics", STAFF)(statistics_section)


@section("participants", STAFF, per_role=True)
def _participants(session, dialogue, now, plugins, role):
    # E-mail addresses are personal data: the secretariat's alone.
    return participants_section(session, dialogue, now, plugins, with_personal=role is Role.SECRETARIAT)


def _build(spec: Section, session, dialogue, now, plugins, role):
    return spec.build(session, dialogue, now, plugins, role)


def me_section(session: Session, role: Role, participant_id: int | None, label: str) -> dict[str, Any]:
    me: dict[str, Any] = {"role": role.value, "name": label, "participant": None}
    if participant_id is not None:
        participant = session.get(Participant, participant_id)
        if participant is not None:
            me["participant"] = participant_view(participant)
            me["name"] = participant.name
    return me


def build_snapshot(session: Session, dialogue: Dialogue, role: Role, plugins, *,
                   participant_id: int | None = None, label: str = "") -> dict[str, Any]:
    now = utcnow()
    sections = {name: _build(spec, session, dialogue, now, plugins, role)
                for name, spec in SECTIONS.items() if role in spec.roles}
    sections["me"] = me_section(session, role, participant_id, label)
    return {"dialogue_id": dialogue.id, "version": dialogue.version, "server_time": ms(now),
            "role": role.value, "sections": sections}


def build_sections(session: Session, dialogue: Dialogue, role: Role, plugins, names) -> dict[str, Any]:
    """Some sections only (for the read operations of the API)."""
    now = utcnow()
    return {name: _build(SECTIONS[name], session, dialogue, now, plugins, role)
            for name in names if role in SECTIONS[name].roles}


def build_changes(session: Session, dialogue: Dialogue, version: int, touched: frozenset[str],
                  plugins) -> dict[Role, dict[str, Any]]:
    """The change message for each role: every role gets the new version (so
    no client sees a false gap) with only the sections it may see."""
    now = utcnow()
    built: dict[tuple[str, Role | None], Any] = {}
    messages = {}
    for role in Role:
        sections = {}
        for name in sorted(touched):
            spec = SECTIONS.get(name)
            if spec is None or role not in spec.roles:
                continue
            key = (name, role if spec.per_role else None)
            if key not in built:
                built[key] = _build(spec, session, dialogue, now, plugins, role)
            sections[name] = built[key]
        messages[role] = {"dialogue_id": dialogue.id, "version": version, "server_time": ms(now),
                          "sections": sections}
    return messages
