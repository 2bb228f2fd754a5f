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

import datetime as dt
import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from moderation.core.timers import ms
from moderation.models import Dialogue, Role, utcnow

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.SECRETARIAT, Role.MODERATOR, Role.RAPPORTEUR})


@dataclass(frozen=True)
class Live:
    """Fields of a section that change without a command (who is connected):
    rebuilt for every snapshot, left out of its digest (they travel in their
    own hint), so they never make the section "changed"."""

    fields: frozenset[str]
    build: Callable[[Session, Dialogue, SectionCache], dict[str, Any]]


@dataclass(frozen=True)
class Section:
    """A named part of the state: who sees it, how it is built, the tables
    its value depends on, and whether it differs between the roles that see
    it. A ``hinted`` section reaches participants and displays only through
    the throttled hint, not in a change per command."""

    name: str
    roles: frozenset[Role]
    build: Callable[..., Any]
    reads: frozenset[str]
    per_role: bool = False
    hinted: bool = False
    live: Live | None = None


SECTIONS: dict[str, Section] = {}


def section(name: str, roles: frozenset[Role], *, reads: set[str], per_role: bool = False, hinted: bool = False,
            live: Live | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``build(session, dialogue, now, plugins, role)`` as the
    section ``name``: a feature declares its sections where it lives."""
    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        if name in SECTIONS:
            raise ValueError(f"section {name!r} registered twice")
        SECTIONS[name] = Section(name, roles, build, frozenset(reads), per_role, hinted, live)
        return build
    return register


@dataclass(frozen=True)
class Personal:
    """A section about the connected person only (``me``, their own inputs):
    never cached, never broadcast; sent privately by ``private`` hooks."""

    build: Callable[[Session, Role, int | None, str], Any]
    participants_only: bool


PERSONAL: dict[str, Personal] = {}


def personal(name: str, *, participants_only: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``build(session, role, participant_id, label)`` as a personal section."""
    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        PERSONAL[name] = Personal(build, participants_only)
        return build
    return register


# Hooks that tell participants privately what a command changed for them:
# ``hook(session, dialogue, outcome)`` yields (participant id, "sections" or
# "records", name, value); records of one name are sent as a list.
PRIVATE: list[Callable[[Session, Dialogue, Any], Iterable[tuple[int, str, str, Any]]]] = []
# Hooks that add to the public hint of a change: ``hook(session, dialogue,
# outcome, now, plugins)`` returns fields or None.
HINTS: list[Callable[..., dict[str, Any] | None]] = []


def _build(spec: Section, session: Session, dialogue: Dialogue, now: dt.datetime, plugins: Any, role: Role) -> Any:
    return spec.build(session, dialogue, now, plugins, role)


class SectionCache:
    """Sections of recent snapshots, by dialogue, version and role.

    When a room reconnects at once (the server restarted, the Wi-Fi came
    back), hundreds of participants ask for the same snapshot at the same
    version: each shared section is built once, not once per participant.
    An entry lives ``ttl`` seconds, because a few sections also depend on the
    time (whether the written-input window is open); personal sections are
    never cached. A section's ``live`` fields change without a new version
    and are rebuilt for every snapshot."""

    def __init__(self, ttl: float = 1.0, max_entries: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
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


def build_snapshot(session: Session, dialogue: Dialogue, role: Role, plugins: Any, *,
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
        sections[name] = cache.get(key, functools.partial(_build, spec, session, dialogue, now, plugins, role))
        if spec.live is not None:
            sections[name] = {**sections[name], **spec.live.build(session, dialogue, cache)}
    for name, mine in PERSONAL.items():
        if participant_id is not None or not mine.participants_only:
            sections[name] = mine.build(session, role, participant_id, label)
    return {"dialogue_id": dialogue.id, "version": dialogue.version, "server_time": ms(now),
            "role": role.value, "sections": sections}


def build_sections(session: Session, dialogue: Dialogue, role: Role, plugins: Any,
                   names: Iterable[str]) -> dict[str, Any]:
    """Some sections only (for the read operations of the API)."""
    now = utcnow()
    return {name: _build(SECTIONS[name], session, dialogue, now, plugins, role)
            for name in names if role in SECTIONS[name].roles}


@dataclass(frozen=True)
class RecordKind:
    """Records sent one by one in changes, to the roles that follow them
    (lists too long to resend whole). ``audience(role)`` says which roles
    see the same view of a record, so that it is built once for them."""

    roles: frozenset[Role]
    build: Callable[..., list]
    audience: Callable[[Role], Any] = lambda role: role


RECORDS: dict[str, RecordKind] = {}


def record_kind(kind: str, roles: frozenset[Role], *, audience: Callable[[Role], Any] | None = None,
                ) -> Callable[[Callable[..., list]], Callable[..., list]]:
    """Register ``build(session, ids, role)`` as the view of the records of ``kind``."""
    def register(build: Callable[..., list]) -> Callable[..., list]:
        RECORDS[kind] = RecordKind(roles, build, audience or (lambda role: role))
        return build
    return register


@dataclass
class Changes:
    roles: dict[Role, dict[str, Any]]           # role -> "change" message
    private: dict[int, dict[str, Any]]          # participant id -> "private" message
    hint: dict[str, Any] | None = None          # the public inputs hint, if inputs changed


def digest(name: str, value: Any) -> str:
    """A short fingerprint of a section's value, to tell whether it changed."""
    spec = SECTIONS.get(name)
    live = spec.live.fields if spec is not None and spec.live is not None else None
    if live and isinstance(value, dict):
        value = {key: field for key, field in value.items() if key not in live}
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def build_changes(session: Session, dialogue: Dialogue, outcome: Any, plugins: Any) -> Changes:  # noqa: C901
    """The messages a committed command sends, built inside its transaction.
    Also moves each role's stream pointer (``dialogue.stream_versions``) and
    keeps the digest of every section built (``dialogue.section_digests``)."""
    now = utcnow()
    version = outcome.version
    built: dict[tuple[str, Role | None], Any] = {}
    unchanged: set[tuple[str, Role | None]] = set()
    streams = dict(dialogue.stream_versions or {})
    digests = dict(dialogue.section_digests or {})
    written: frozenset[str] = getattr(outcome, "written", frozenset())
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

    built_records: dict[tuple[str, Any], list] = {}
    messages: dict[Role, dict[str, Any]] = {}
    for role in Role:
        sections = {}
        for name in sorted(named | maybe):
            spec = SECTIONS.get(name)
            if spec is None or role not in spec.roles or (spec.hinted and role not in STAFF):
                continue
            key = build(spec, role)
            if key not in unchanged:
                sections[name] = built[key]
        records = {}
        for kind, ids in sorted(outcome.records.items()):
            view = RECORDS.get(kind)
            if view is None or not ids or role not in view.roles:
                continue
            key = (kind, view.audience(role))  # views differ by audience, not by role
            if key not in built_records:
                built_records[key] = view.build(session, sorted(ids), role)
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
    for hook in PRIVATE:
        for participant_id, part, name, value in hook(session, dialogue, outcome):
            message = private.setdefault(participant_id, {"dialogue_id": dialogue.id, "version": version,
                                                          "sections": {}, "records": {}})
            if part == "records":
                message["records"].setdefault(name, []).append(value)
            else:
                message["sections"][name] = value
    hint: dict[str, Any] | None = None
    for add in HINTS:
        fields = add(session, dialogue, outcome, now, plugins)
        if fields is not None:
            hint = {**(hint or {"dialogue_id": dialogue.id, "version": version}), **fields}
    return Changes(messages, private, hint)
