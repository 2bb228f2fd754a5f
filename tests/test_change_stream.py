"""The change stream keeps every screen exact: after any command, a client
that applies the change messages it was sent holds the same state as a
client that asks for a new snapshot.

The oracle is independent of the code that decides what to send: for every
command of the registry (with the authorization matrix's valid payloads, on
a copy of the security world), each role's snapshot is taken before and
after, and every section whose value changed must be in that role's change
message with its new value. Participants and the display follow the inputs'
overview through the public hint (sections declared ``hinted``); the staff follow
inputs record by record; a participant's own ``me`` and ``my_inputs`` travel
in private messages. A short dialogue is then played from the first item to
the last, checked the same way at each step (``input_settings.live`` flips
on both ends).

Each section also declares the tables it reads, which is how a command that
never names a section still sends it: the last test builds every section
while watching the SQL, and fails on a table read but not declared.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from command_clock import command_clock
from conftest import make_app, run, seed_dialogue
from security_world import World, without_presence_writes, world_template
from sqlalchemy import event
from test_authorization_matrix import EVERYONE, EXPECTED_ROLES, PAR, PAYLOADS, SEC

from moderation.core.auth import ANONYMOUS, SYSTEM, Principal, principal_for_token
from moderation.core.commands import REGISTRY
from moderation.core.errors import CommandError
from moderation.core.sections import SECTIONS, STAFF, _build
from moderation.features import load_features
from moderation.models import Base, Dialogue, Role

load_features()
PRIVATE = ("me", "my_inputs")  # a participant's own sections: private messages
INPUT_STATUSES = (None, "withdrawn", "merged")  # the staff list shows all but withdrawn by default


@pytest.fixture(scope="module")
def template(tmp_path_factory, sqlite_template):
    return world_template(tmp_path_factory, sqlite_template)


@pytest.fixture
def world(template) -> World:
    return template.world


@pytest.fixture
def service(template, tmp_path):
    app = template.new_app(tmp_path)
    without_presence_writes(app)
    yield app.extensions["moderation"]
    app.extensions["db"].dispose()


@pytest.fixture
def frozen():
    """One instant for the commands and the snapshots: a value that moves
    with the clock alone (a countdown) must not look like a change."""
    with command_clock("10:30:00") as clock, pytest.MonkeyPatch.context() as patch:
        patch.setattr("moderation.core.sections.utcnow", clock)
        yield clock


# -- the oracle ------------------------------------------------------------------------------------
def without_live_fields(name: str, value: Any) -> Any:
    """Who is connected changes with no command (it has its own hint)."""
    spec = SECTIONS.get(name)
    live = spec.live.fields if spec is not None and spec.live is not None else None
    if live and isinstance(value, dict):
        return {key: field for key, field in value.items() if key not in live}
    return value


class Screens:
    """What every role's screen would hold after a fresh snapshot: one
    principal per role, the participants among them one by one."""

    def __init__(self, service, dialogue_id: int, viewers: dict[str, tuple[Principal, Role]],
                 participants: dict[int, Principal]):
        self.service = service
        self.dialogue_id = dialogue_id
        self.viewers = viewers
        self.participants = participants

    def _snapshot(self, principal: Principal, role: Role) -> dict[str, Any] | None:
        """None once the viewer's link is revoked: that screen is told it
        ended (``session_ended``) and holds nothing more."""
        try:
            return self.service.snapshot(principal, self.dialogue_id, role)["sections"]
        except CommandError as error:
            if error.code != "link_revoked":
                raise
            return None

    def sections(self) -> dict[str, dict[str, Any] | None]:
        seen = {}
        for name, (principal, role) in self.viewers.items():
            sections = self._snapshot(principal, role)
            seen[name] = None if sections is None else {
                key: without_live_fields(key, value) for key, value in sections.items() if key not in PRIVATE}
        return seen

    def private(self) -> dict[int, dict[str, Any]]:
        own = {pid: self._snapshot(principal, Role.PARTICIPANT) for pid, principal in self.participants.items()}
        return {pid: {key: value for key, value in sections.items() if key in PRIVATE}
                for pid, sections in own.items() if sections is not None}

    def staff_inputs(self) -> dict[int, dict[str, Any]]:
        principal, role = self.viewers["moderator"]
        records = {}
        for status in INPUT_STATUSES:
            query = {"per_page": 200, **({"status": status} if status else {})}
            for item in self.service.list_inputs(principal, self.dialogue_id, query, role)["items"]:
                records[item["id"]] = item
        return records

    def state(self) -> dict[str, Any]:
        return {"sections": self.sections(), "private": self.private(), "inputs": self.staff_inputs()}


def screens_of(service, world: World) -> Screens:
    with service.db.session() as session:
        viewers = {role: (principal_for_token(session, world.links[role]), Role(role))
                   for role in ("secretariat", "moderator", "rapporteur", "display")}
    viewers["participant"] = (world.extra["participant_principal"], Role.PARTICIPANT)
    participants = {world.participant_id: world.extra["participant_principal"],
                    **dict(zip(world.other_participant_ids, world.extra["other_principals"], strict=False))}
    return Screens(service, world.dialogue_id, viewers, participants)


def play(service, screens: Screens, principal: Principal, name: str, payload: dict) -> list[str]:  # noqa: C901
    """Run one command and compare what it sent with what changed. Returns
    the problems found (empty when the stream is exact)."""
    before = screens.state()
    heard = []
    service.listeners.append(heard.append)
    try:
        outcome = service.dispatch(principal, name, payload)
    finally:
        service.listeners.remove(heard.append)
    after = screens.state()
    changes = outcome.changes
    problems = []

    def sent_to(role: Role) -> dict[str, Any]:
        return (changes.roles.get(role) if changes is not None else None) or {}

    for viewer, (_, role) in screens.viewers.items():
        message = sent_to(role)
        if after["sections"][viewer] is None:
            continue  # this screen's link was revoked: it is told so, and shows nothing more
        for section, value in after["sections"][viewer].items():
            if before["sections"][viewer].get(section) == value:
                continue
            if section in SECTIONS and SECTIONS[section].hinted and role not in STAFF:
                hint = changes.hint if changes is not None else None
                if hint is None or hint["published"] != value["published"]:
                    problems.append(f"{role.value}: {section} changed but the hint says {hint}")
                continue
            sent = message.get("sections", {})
            if section not in sent:
                problems.append(f"{role.value}: {section} changed and was not sent")
            elif without_live_fields(section, sent[section]) != value:
                problems.append(f"{role.value}: {section} was sent with another value than a snapshot's")
        if role in STAFF:
            records = {r["id"]: r for r in message.get("records", {}).get("inputs", [])}
            for input_id, record in after["inputs"].items():
                if before["inputs"].get(input_id) == record:
                    continue
                if input_id not in records:
                    problems.append(f"{role.value}: input {input_id} changed and its record was not sent")
                elif records[input_id] != record:
                    problems.append(f"{role.value}: input {input_id} was sent with another value than the list's")
    for participant_id, own in after["private"].items():
        if participant_id not in before["private"]:
            continue
        message = changes.private.get(participant_id, {}) if changes is not None else {}
        if own["me"] != before["private"][participant_id]["me"]:
            if message.get("sections", {}).get("me") != own["me"]:
                problems.append(f"participant {participant_id}: 'me' changed and was not sent to them")
        earlier = {i["id"]: i for i in before["private"][participant_id]["my_inputs"]}
        sent = {i["id"]: i for i in message.get("records", {}).get("my_inputs", [])}
        for item in own["my_inputs"]:
            if earlier.get(item["id"]) != item and sent.get(item["id"]) != item:
                problems.append(f"participant {participant_id}: their input {item['id']} changed and was not "
                                f"sent to them")
    return problems


def runner(name: str, world: World) -> Principal:
    """Who sends the command: a participant's own action as the participant,
    a public one anonymously, the rest as the operator."""
    rule = EXPECTED_ROLES[name]
    if rule == EVERYONE:
        return ANONYMOUS
    if PAR in rule and SEC not in rule:
        return world.extra["participant_principal"]
    return SYSTEM


# -- every command ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_change_a_command_makes_reaches_every_screen(service, world, frozen, name):
    spec = REGISTRY[name]
    payload = PAYLOADS[name](service, world)
    if spec.dialogue_scoped:
        payload = {"dialogue_id": world.dialogue_id, **payload}
    screens = screens_of(service, world)
    problems = play(service, screens, runner(name, world), name, payload)
    assert not problems, f"{name}:\n" + "\n".join(problems)


# -- a dialogue from its first item to its last ---------------------------------------------------------
@pytest.fixture
def fresh(tmp_path, sqlite_template):
    import shutil
    path = tmp_path / "fresh.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = make_app(tmp_path, f"sqlite:///{path}")
    without_presence_writes(app)
    yield app.extensions["moderation"]
    app.extensions["db"].dispose()


def test_a_whole_dialogue_keeps_every_screen_exact(fresh, frozen):
    service = fresh
    seeded = seed_dialogue(service, items=(("briefing", 10), ("panel_discussion", 20)))
    did, first = seeded["dialogue_id"], seeded["item_ids"][0]
    people = [seeded["principals"]["participant0"], seeded["principals"]["participant1"]]
    with service.db.session() as session:
        viewers = {role: (principal_for_token(session, seeded["tokens"][role]), Role(role))
                   for role in ("moderator", "rapporteur", "display")}
        participant_ids = [principal_for_token(session, seeded["tokens"][f"participant{n}"]).credential_id
                           for n in range(2)]
    viewers["secretariat"] = (SYSTEM, Role.SECRETARIAT)
    viewers["participant"] = (people[0], Role.PARTICIPANT)
    with service.db.session() as session:
        from moderation.models import Credential
        pids = [session.get(Credential, cid).participant_id for cid in participant_ids]
    screens = Screens(service, did, viewers, dict(zip(pids, people, strict=False)))

    def settings() -> dict[str, Any]:
        return service.snapshot(SYSTEM, did, Role.DISPLAY)["sections"]["input_settings"]

    steps: list[tuple[str, Principal, str, dict]] = [
        ("11:00:00", SYSTEM, "dialogue.update", {"venue": "Board Room C"}),
        ("11:00:30", SYSTEM, "agenda.start_item", {"item_id": first}),       # the session is live
        ("11:01:00", people[0], "inputs.submit", {"text": "Survivors must be heard in every review."}),
        ("11:01:10", people[1], "queue.request_floor", {}),
        ("11:02:00", SYSTEM, "queue.call_next", {}),
        ("11:03:00", people[1], "inputs.submit", {"text": "Please publish the review schedule early."}),
        ("11:04:00", SYSTEM, "queue.end_speaker", {}),
        ("11:05:00", SYSTEM, "agenda.advance", {}),
        ("11:06:00", SYSTEM, "queue.add_speaker", {"participant_id": pids[0]}),
        ("11:07:00", SYSTEM, "queue.call_next", {}),
        ("11:08:00", SYSTEM, "agenda.end_item", {}),                           # every item is done
        ("11:09:00", SYSTEM, "summary.configure", {"attribution": True}),
    ]
    live_seen = []
    for moment, principal, name, payload in steps:
        frozen.at(moment)
        problems = play(service, screens, principal, name, {"dialogue_id": did, **payload})
        assert not problems, f"{name} at {moment}:\n" + "\n".join(problems)
        live_seen.append(settings()["live"])
    # The flips the oracle watched: not live, live through both items, then over.
    assert live_seen[0] is False and live_seen[1] is True and live_seen[-2] is False
    assert settings()["accepting"] is False


def test_the_first_start_tells_a_screen_connected_before_it_that_inputs_are_open(fresh, frozen):
    """The review's case: screens connected before the first item kept
    ``accepting: false`` all session."""
    service = fresh
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    heard = []
    service.listeners.append(heard.append)
    run(service, "agenda.start_item", {"dialogue_id": did, "item_id": seeded["item_ids"][0]})
    [outcome] = heard
    for role in Role:
        settings = outcome.changes.roles[role]["sections"]["input_settings"]
        assert settings["live"] is True and settings["accepting"] is True, role
    # A command that changes nothing a role sees sends that role nothing.
    heard.clear()
    run(service, "agenda.adjust_time", {"dialogue_id": did, "seconds": 60})
    [outcome] = heard
    assert "input_settings" not in outcome.changes.roles[Role.DISPLAY]["sections"]


def test_a_participant_is_told_privately_only_what_their_own_page_shows(fresh, frozen):
    """Checking someone in changes their ``me``: they are told. Recording
    their first connection changes nothing they see: no private message."""
    service = fresh
    seeded = seed_dialogue(service)
    did = seeded["dialogue_id"]
    with service.db.session() as session:
        from moderation.models import Credential
        pid = session.get(Credential, principal_for_token(session, seeded["tokens"]["participant0"])
                          .credential_id).participant_id
    heard = []
    service.listeners.append(heard.append)
    run(service, "attendance.record_connections", {"dialogue_id": did, "participant_ids": [pid]})
    run(service, "participants.check_in", {"dialogue_id": did, "participant_id": pid})
    connected, checked_in = heard
    assert connected.result == {"recorded": [pid]} and connected.changes.private == {}
    assert checked_in.changes.private[pid]["sections"]["me"]["participant"]["checked_in"] is not None


# -- what each section reads -------------------------------------------------------------------------
TABLES = {table.name for table in Base.metadata.sorted_tables}
FROM = re.compile(r"\b(?:FROM|JOIN)\s+\"?(\w+)\"?", re.IGNORECASE)


def test_every_section_declares_the_tables_it_reads(service, world):
    """Built while the SQL is watched: a table read but not declared would
    let a command change the section without sending it."""
    engine = service.db.engine
    read: set[str] = set()

    def watch(conn, cursor, statement, parameters, context, executemany):
        read.update(name for name in FROM.findall(statement) if name in TABLES)

    # Something in every table a section shows: a theme, a tagged and a
    # pinned input, a speaker, a summary section.
    did = world.dialogue_id
    theme = run(service, "inputs.create_theme", {"dialogue_id": did, "name": "Victim support"})["theme_id"]
    input_id = run(service, "inputs.submit", {"dialogue_id": did, "text": "A point."},
                   world.extra["participant_principal"])["input_id"]
    run(service, "inputs.tag", {"dialogue_id": did, "input_id": input_id, "theme_ids": [theme]})
    run(service, "inputs.pin", {"dialogue_id": did, "input_id": input_id})
    run(service, "queue.add_speaker", {"dialogue_id": did, "participant_id": world.other_participant_ids[0]})
    run(service, "summary.save_section", {"dialogue_id": did, "key": "introduction", "text": "Opened.",
                                          "base_revision": 0})
    undeclared = []
    event.listen(engine, "before_cursor_execute", watch)
    try:
        for spec in SECTIONS.values():
            for role in sorted(spec.roles, key=lambda r: r.value):
                with service.db.session() as session:
                    dialogue = session.get(Dialogue, did)
                    _ = dialogue.version  # loaded before watching
                    read.clear()
                    from moderation.models import utcnow
                    _build(spec, session, dialogue, utcnow(), service.plugins, role)
                    extra = read - spec.reads
                    if extra:
                        undeclared.append(f"{spec.name} ({role.value}) reads {sorted(extra)}")
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert not undeclared, "\n".join(undeclared)
