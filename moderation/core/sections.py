"""What each role sees of a dialogue, as named sections.

A snapshot is every section a role may see plus the dialogue's version. A
change broadcast carries the new version and the sections the command
touched, rebuilt for each role; a client replaces those sections and so never
has to merge. Lists too long for a section (inputs) travel as changed
records, to the roles that follow them record by record.

Which sections a change carries: those the command named (``ctx.touch``)
and every other section that reads a table the command wrote (``writes``)
and whose value differs from the one last built for that role. Each section
declares the tables it ``reads``; the dialogue keeps a short digest of every
section's last value (``section_digests``), so a section is sent exactly
when it changed, whichever command changed it.

A role is sent a change only when it shows that role something. Each change
names the version of the previous change its role was sent
(``prev_version``): a client whose version is older than that has missed a
message and asks for a snapshot.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.core import writes
from moderation.core.timers import ms
from moderation.features.access.commands import participant_view, participants_section
from moderation.features.accreditation.checkin import attendance_section, checked_in_ids, online_now
from moderation.features.agenda.commands import agenda_section
from moderation.features.dialogues.commands import dialogue_section
from moderation.features.inputs.commands import (
    audience_for,
    input_records,
    input_settings_section,
    input_view,
    my_inputs,
    overview_section,
    pinned_section,
    themes_section,
)
from moderation.features.queue.commands import queue_section, queue_staff_section, statistics_section
from moderation.features.summary.commands import narrative_records, summary_section
from moderation.models import Dialogue, Input, Participant, Role, utcnow

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR})
# Sections whose changes reach participants and displays only through the
# throttled inputs hint (``published``), not in a change per input.
HINTED_SECTIONS = frozenset({"inputs_overview"})


@dataclass(frozen=True)
class Section:
    """A named part of the state: who sees it, how it is built, the tables
    its value depends on, and whether it differs between the roles that see
    it."""

    name: str
    roles: frozenset[Role]
    build: Callable[..., Any]
    reads: frozenset[str]
    per_role: bool = False


SECTIONS: dict[str, Section] = {}


def section(name: str, roles: frozenset[Role], *, reads: set[str], per_role: bool = False):
    def register(build):
        SECTIONS[name] = Section(name, roles, build, frozenset(reads), per_role)
        return build
    return register


QUEUE_TABLES = {"dialogues", "agenda_items", "speaker_entries", "organizations"}
section("dialogue", ALL_ROLES, reads={"dialogues"})(dialogue_section)
section("agenda", ALL_ROLES, reads={"dialogues", "agenda_items"})(agenda_section)
section("queue", ALL_ROLES, reads=QUEUE_TABLES)(queue_section)
section("queue_staff", STAFF, reads=QUEUE_TABLES)(queue_staff_section)
section("statistics", STAFF, reads={"speaker_entries"})(statistics_section)
section("input_settings", ALL_ROLES, reads={"dialogues", "agenda_items"})(input_settings_section)
section("inputs_overview", ALL_ROLES, reads={"inputs"}, per_role=True)(overview_section)
section("themes", STAFF, reads={"themes", "input_themes"})(themes_section)
section("pinned", ALL_ROLES, reads={"dialogues", "inputs"})(pinned_section)
section("summary", STAFF, reads={"dialogues", "summary_sections"})(summary_section)
section("attendance", ALL_ROLES, reads={"participants"})(attendance_section)


@section("participants", STAFF, reads={"participants", "organizations"}, per_role=True)
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


class SectionCache:
    """Sections of recent snapshots, by dialogue, version and role.

    When a room reconnects at once (the server restarted, the Wi-Fi came
    back), hundreds of participants ask for the same snapshot at the same
    version: each shared section is built once, not once per participant.
    An entry lives ``ttl`` seconds, because a few sections also depend on the
    time (whether the written-input window is open); personal sections are
    never cached. ``LIVE`` fields change without a new version and are
    rebuilt for every snapshot."""

    LIVE: dict[str, Callable[[Session, Dialogue, SectionCache], dict[str, Any]]] = {
        # Who is checked in changes with a version; who is connected does not.
        "attendance": lambda session, dialogue, cache: {"online": online_now(
            session, dialogue.id, checked_in=cache.get((dialogue.id, dialogue.version, "checked_in", None),
                                                       lambda: checked_in_ids(session, dialogue.id)))},
    }

    def __init__(self, ttl: float = 1.0, max_entries: int = 512, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple, tuple[float, Any]] = {}
        self.hits = self.misses = 0

    def get(self, key: tuple, build: Callable[[], Any]) -> Any:
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self.hits += 1
            return entry[1]
        self.misses += 1
        value = build()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (now + self.ttl, value)
        return value


def build_snapshot(session: Session, dialogue: Dialogue, role: Role, plugins, *,
                   participant_id: int | None = None, label: str = "",
                   cache: SectionCache | None = None) -> dict[str, Any]:
    """Every section ``role`` may see. Shared sections come from ``cache``
    when another snapshot at this version built them a moment ago (callers
    only read what they are given)."""
    now = utcnow()
    sections = {}
    for name, spec in SECTIONS.items():
        if role not in spec.roles:
            continue
        if cache is None:
            sections[name] = _build(spec, session, dialogue, now, plugins, role)
            continue
        key = (dialogue.id, dialogue.version, name, role if spec.per_role else None)
        sections[name] = cache.get(key, lambda spec=spec: _build(spec, session, dialogue, now, plugins, role))
        if name in cache.LIVE:
            sections[name] = {**sections[name], **cache.LIVE[name](session, dialogue, cache)}
    sections["me"] = me_section(session, role, participant_id, label)
    if participant_id is not None:
        sections["my_inputs"] = my_inputs(session, participant_id)
    return {"dialogue_id": dialogue.id, "version": dialogue.version, "server_time": ms(now),
            "role": role.value, "sections": sections}


def build_sections(session: Session, dialogue: Dialogue, role: Role, plugins, names) -> dict[str, Any]:
    """Some sections only (for the read operations of the API)."""
    now = utcnow()
    return {name: _build(SECTIONS[name], session, dialogue, now, plugins, role)
            for name in names if role in SECTIONS[name].roles}


@dataclass(frozen=True)
class RecordKind:
    """Records sent one by one in changes, to the roles that follow them
    (lists too long to resend whole). Participants and displays do not
    follow inputs: they get a throttled hint and fetch the page they show."""

    roles: frozenset[Role]
    build: Callable[..., list]


RECORDS: dict[str, RecordKind] = {
    "inputs": RecordKind(STAFF, input_records),
    "summary_sections": RecordKind(STAFF, narrative_records),
}


@dataclass
class Changes:
    roles: dict[Role, dict[str, Any]]           # role -> "change" message
    private: dict[int, dict[str, Any]]          # participant id -> "private" message
    hint: dict[str, Any] | None = None          # the public inputs hint, if inputs changed


# Fields that change without a command (who is connected): they travel in
# their own hint (``presence``), so they do not make a section "changed".
LIVE_FIELDS: dict[str, frozenset[str]] = {"attendance": frozenset({"online"})}


def digest(name: str, value: Any) -> str:
    """A short fingerprint of a section's value, to tell whether it changed."""
    live = LIVE_FIELDS.get(name)
    if live and isinstance(value, dict):
        value = {key: field for key, field in value.items() if key not in live}
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


# Participant columns that their own ``me`` does not show: writing only
# these (recording a first connection) sends them nothing privately.
NOT_IN_ME = frozenset({"connected_at"})


def _participants_written(session: Session, dialogue_id: int) -> set[int]:
    """The participants of this dialogue whose row, or whose organization's
    row, the command wrote."""
    ids = writes.written_rows(session, "participants", ignoring=NOT_IN_ME)
    organizations = writes.written_rows(session, "organizations")
    if not ids and not organizations:
        return set()
    return set(session.scalars(select(Participant.id).where(
        Participant.dialogue_id == dialogue_id,
        Participant.id.in_(ids) | Participant.organization_id.in_(organizations))))


def build_changes(session: Session, dialogue: Dialogue, outcome, plugins) -> Changes:  # noqa: C901
    """The messages a committed command sends, built inside its transaction.
    Also moves each role's stream pointer (``dialogue.stream_versions``) and
    keeps the digest of every section built (``dialogue.section_digests``)."""
    now = utcnow()
    version = outcome.version
    built: dict[tuple[str, Role | None], Any] = {}
    unchanged: set[tuple[str, Role | None]] = set()
    streams = dict(dialogue.stream_versions or {})
    digests = dict(dialogue.section_digests or {})
    written = getattr(outcome, "written", frozenset())
    # Named by the command: always sent. Reading what it wrote: sent if
    # changed. No digests yet (a new dialogue): every section, once.
    named = set(outcome.touched)
    maybe = {name for name, spec in SECTIONS.items() if spec.reads & written or not digests} - named

    def build(spec: Section, role: Role) -> tuple[str, Role | None]:
        key = (spec.name, role if spec.per_role else None)
        if key not in built:
            built[key] = _build(spec, session, dialogue, now, plugins, role)
            slot = spec.name if key[1] is None else f"{spec.name}:{role.value}"
            fingerprint = digest(spec.name, built[key])
            if spec.name in maybe and digests.get(slot) == fingerprint:
                unchanged.add(key)
            digests[slot] = fingerprint
        return key

    input_ids = sorted(outcome.records.get("inputs", ()))
    inputs = list(session.scalars(select(Input).where(Input.id.in_(input_ids)))) if input_ids else []
    built_records: dict[tuple[str, str], list] = {}
    messages: dict[Role, dict[str, Any]] = {}
    for role in Role:
        sections = {}
        for name in sorted(named | maybe):
            spec = SECTIONS.get(name)
            if spec is None or role not in spec.roles or (name in HINTED_SECTIONS and role not in STAFF):
                continue
            key = build(spec, role)
            if key not in unchanged:
                sections[name] = built[key]
        records = {}
        for kind, ids in sorted(outcome.records.items()):
            spec = RECORDS.get(kind)
            if spec is None or not ids or role not in spec.roles:
                continue
            key = (kind, audience_for(role))  # views differ by audience, not by role
            if key not in built_records:
                built_records[key] = spec.build(session, sorted(ids), role)
            records[kind] = built_records[key]
        if not sections and not records:
            continue
        messages[role] = {"dialogue_id": dialogue.id, "version": version,
                          "prev_version": streams.get(role.value, 0), "server_time": ms(now),
                          "sections": sections, "records": records}
        streams[role.value] = version
    dialogue.stream_versions = streams
    if digests != (dialogue.section_digests or {}):
        dialogue.section_digests = digests
    private: dict[int, dict[str, Any]] = {}

    def private_message(participant_id: int) -> dict[str, Any]:
        return private.setdefault(participant_id, {"dialogue_id": dialogue.id, "version": version,
                                                   "sections": {}, "records": {}})

    # A participant's own row (or their organization's) written: their ``me``.
    own = set(outcome.records.get("participants", ())) | _participants_written(session, dialogue.id)
    for participant_id in sorted(own):
        private_message(participant_id)["sections"]["me"] = me_section(session, Role.PARTICIPANT,
                                                                        participant_id, "")
    for inp in inputs:
        if inp.participant_id is not None and inp.source == "participant":
            private_message(inp.participant_id)["records"].setdefault("my_inputs", []).append(
                input_view(inp, "author"))
    hint = None
    if inputs:
        hint = {"dialogue_id": dialogue.id, "version": version,
                "published": overview_section(session, dialogue, now, plugins, Role.PARTICIPANT)["published"]}
    return Changes(messages, private, hint)
